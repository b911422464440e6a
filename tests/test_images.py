"""Image loading (8/16-bit, RGBA, palette, errors), saving, and the shipped samples."""

import warnings

import numpy as np
import pytest
from PIL import Image

from helpers import images, kernels
from helpers.images import ImageError, ImageNote, load_image, save_image


def test_samples_are_shipped_and_load():
    card = images.sample_image("test_card")
    assert card.shape == (256, 256, 3) and card.dtype == np.float64
    assert 0.0 <= card.min() and card.max() <= 1.0
    photo = images.sample_image("photo")
    assert photo.shape == (256, 218, 3)
    with pytest.raises(ValueError, match="unknown sample"):
        images.sample_image("lena")


def test_shipped_test_card_is_the_generated_one():
    np.testing.assert_allclose(images.sample_image("test_card"), images.make_test_card(256), atol=0.5 / 255)
    np.testing.assert_array_equal(images.sample_image("rgb_shapes"), images.make_rgb_shapes(128))


def test_rgb_shapes_puts_each_shape_in_exactly_one_channel():
    img = images.make_rgb_shapes(128)
    on = img > 0
    assert set(np.unique(img)) == {0.0, 1.0}
    assert not (on.sum(axis=2) > 1).any(), "shapes overlap"
    assert all(on[:, :, c].mean() > 0.03 for c in range(3))


def test_test_card_channels_differ():
    card = images.make_test_card(128)
    r, g, b = (card[:, :, i] for i in range(3))
    assert not np.allclose(r, g) and not np.allclose(g, b) and not np.allclose(r, b)


def test_shipped_kernels_are_the_generated_ones():
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_samples", images.IMAGES_DIR / "make_samples.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    from helpers.cli import read_kernel_file

    for name, k in mod.default_kernels().items():
        np.testing.assert_allclose(read_kernel_file(images.IMAGES_DIR / "kernels" / name), k, rtol=1e-9)
    np.testing.assert_array_equal(mod.default_kernels()["depthwise_edges.npy"], kernels.default_depthwise_kernel())


def test_uint8_and_uint16_png(tmp_path):
    rng = np.random.default_rng(0)
    a8 = rng.integers(0, 256, (5, 6, 3), dtype=np.uint8)
    Image.fromarray(a8).save(tmp_path / "a.png")
    np.testing.assert_allclose(load_image(tmp_path / "a.png"), a8 / 255)
    a16 = rng.integers(0, 65536, (5, 6), dtype=np.uint16)
    Image.fromarray(a16).save(tmp_path / "b.png")
    got = load_image(tmp_path / "b.png")
    assert got.dtype == np.float64 and got.shape == (5, 6)
    np.testing.assert_allclose(got, a16 / 65535)  # full 16-bit precision kept
    save_image(tmp_path / "c.png", got, bits=16)
    np.testing.assert_allclose(load_image(tmp_path / "c.png"), got, atol=1e-9)


def test_rgba_drops_alpha_with_a_note(tmp_path):
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[..., 3] = 128
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    with pytest.warns(ImageNote, match="alpha"):
        got = load_image(tmp_path / "a.png")
    assert got.shape == (4, 4, 3) and got[0, 0, 0] == 1.0


def test_palette_and_jpeg(tmp_path):
    img = Image.fromarray(np.full((4, 4, 3), 200, np.uint8)).convert("P")
    img.save(tmp_path / "p.png")
    assert load_image(tmp_path / "p.png").shape == (4, 4, 3)
    Image.fromarray(np.full((8, 8, 3), 100, np.uint8)).save(tmp_path / "j.jpg")
    np.testing.assert_allclose(load_image(tmp_path / "j.jpg"), 100 / 255, atol=2 / 255)


def test_errors(tmp_path):
    with pytest.raises(ImageError, match="not found"):
        load_image(tmp_path / "missing.png")
    (tmp_path / "text.png").write_text("not a png")
    with pytest.raises(ImageError, match="not an image"):
        load_image(tmp_path / "text.png")
    with pytest.raises(ImageError, match="folder"):
        load_image(tmp_path)


def test_to_float():
    assert images.to_float(np.array([0, 255], np.uint8)).tolist() == [0.0, 1.0]
    assert images.to_float(np.array([65535], np.uint16)).tolist() == [1.0]
    x = np.ones(3, np.float32)
    assert images.to_float(x) is x
    with pytest.raises(ImageError):
        images.to_float(np.array([-1], np.int8))


def test_atomic_save_leaves_nothing_on_failure(tmp_path):
    with pytest.raises(ImageError):
        save_image(tmp_path / "bad.png", np.zeros((4, 4, 2)))
    assert list(tmp_path.iterdir()) == []
    save_image(tmp_path / "ok.png", np.zeros((4, 4, 3)))
    assert [p.name for p in tmp_path.iterdir()] == ["ok.png"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_image(tmp_path / "ok.png").shape == (4, 4, 3)


def test_truncated_png_is_a_clear_error(tmp_path):
    from helpers.images import IMAGES_DIR

    data = (IMAGES_DIR / "test_card.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError, match="cannot read image"):
        load_image(tmp_path / "cut.png")


# ------------------------------------------------------------------ hostile files
def _png16(path, arr, *, filters=(0, 1, 2, 3, 4), interlace=False):
    """Write a 16-bit PNG (gray, gray+alpha, RGB or RGBA) by hand, cycling through the
    five PNG row filters so that the decoder's unfiltering is exercised; optionally
    Adam7-interlaced (seven passes, each filtered on its own)."""
    import struct
    import zlib

    arr = np.asarray(arr, dtype=">u2")
    h, w = arr.shape[:2]
    ch = 1 if arr.ndim == 2 else arr.shape[2]
    bpp = 2 * ch

    def filtered_rows(image):
        image = np.ascontiguousarray(image)
        ih, iw = image.shape[:2]
        raw = image.reshape(ih, iw * ch).view(np.uint8).reshape(ih, iw * bpp).astype(np.int16)
        rows, prior = [], np.zeros(iw * bpp, np.int16)
        for y in range(ih):
            x, kind = raw[y], filters[y % len(filters)]
            left = np.concatenate([np.zeros(bpp, np.int16), x[:-bpp]])
            upleft = np.concatenate([np.zeros(bpp, np.int16), prior[:-bpp]])
            if kind == 0:
                pred = np.zeros_like(x)
            elif kind == 1:
                pred = left
            elif kind == 2:
                pred = prior
            elif kind == 3:
                pred = (left + prior) // 2
            else:
                p = left + prior - upleft
                pa, pb, pc = np.abs(p - left), np.abs(p - prior), np.abs(p - upleft)
                pred = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, prior, upleft))
            rows.append(bytes([kind]) + ((x - pred) % 256).astype(np.uint8).tobytes())
            prior = x
        return b"".join(rows)

    if interlace:
        passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
        data = b"".join(filtered_rows(arr[y0::dy, x0::dx]) for x0, y0, dx, dy in passes
                        if arr[y0::dy, x0::dx].size)
    else:
        data = filtered_rows(arr)

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ctype = {1: 0, 2: 4, 3: 2, 4: 6}[ch]
    ihdr = struct.pack(">IIBBBBB", w, h, 16, ctype, 0, 0, int(interlace))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(data)) +
                     chunk(b"IEND", b""))


@pytest.mark.parametrize("interlace", [False, True], ids=["plain", "adam7"])
@pytest.mark.parametrize(("channels", "expect"), [(1, "gray"), (2, "gray+alpha"), (3, "rgb"), (4, "rgba")])
def test_16_bit_png_keeps_16_bits_in_every_colour_type(tmp_path, channels, expect, interlace):
    """Pillow reads 16-bit colour PNGs as 8-bit; the loader recovers the low byte (exactly)."""
    rng = np.random.default_rng(channels)
    a = rng.integers(0, 65536, (19, 13, channels) if channels > 1 else (19, 13), dtype=np.uint16)
    _png16(tmp_path / "x.png", a, interlace=interlace)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = load_image(tmp_path / "x.png")
    want = {"gray": a, "gray+alpha": a[..., 0] if channels == 2 else a, "rgb": a, "rgba": a[..., :3]}[expect]
    np.testing.assert_array_equal(got, want / 65535)
    assert [str(w.message) for w in caught] == (
        [f"x.png: dropped the alpha channel ({'LA -> L' if channels == 2 else 'RGBA -> RGB'} (16-bit))"]
        if channels in (2, 4) else [])
    # values that differ only in the low byte stay different (8 bits would merge them)
    assert len(np.unique(got)) > 256 or got.size <= 256


def test_exif_orientation_is_applied_like_pillow_does(tmp_path):
    from PIL import ImageOps

    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (5, 8, 3), dtype=np.uint8)
    for orientation in range(1, 9):
        im = Image.fromarray(pixels)
        exif = Image.Exif()
        exif[0x0112] = orientation
        im.save(tmp_path / f"o{orientation}.png", exif=exif)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            got = load_image(tmp_path / f"o{orientation}.png")
        with Image.open(tmp_path / f"o{orientation}.png") as ref:
            want = np.asarray(ImageOps.exif_transpose(ref)) / 255
        np.testing.assert_array_equal(got, want)
        assert bool(caught) == (orientation != 1)


def test_multi_frame_file_says_it_uses_the_first(tmp_path):
    frames = [Image.fromarray(np.full((4, 4, 3), v, np.uint8)) for v in (10, 200)]
    frames[0].save(tmp_path / "a.gif", save_all=True, append_images=frames[1:])
    with pytest.warns(ImageNote, match="2 frames; using the first"):
        load_image(tmp_path / "a.gif")


def test_pixel_limit_and_non_regular_files(tmp_path):
    import os

    Image.fromarray(np.zeros((30, 20), np.uint8)).save(tmp_path / "g.png")
    with pytest.raises(ImageError, match=r"30x20 = 600 pixels \(H x W\), more than the limit of 599"):
        load_image(tmp_path / "g.png", max_pixels=599)
    assert load_image(tmp_path / "g.png", max_pixels=None).shape == (30, 20)
    with pytest.raises(ValueError, match="max_pixels must be"):
        load_image(tmp_path / "g.png", max_pixels=0)
    os.mkfifo(tmp_path / "fifo.png")
    with pytest.raises(ImageError, match=r"is a FIFO \(named pipe\), not a regular file"):
        load_image(tmp_path / "fifo.png")
    with pytest.raises(ImageError, match="is a device"):
        load_image("/dev/zero")


@pytest.mark.parametrize("damage", [
    lambda d: d[:8] + b"\x00\x00\x00\x0dIHDX" + d[16:],           # unknown critical chunk
    lambda d: d[:33] + b"\x00\x00\xff\xffIDAT" + d[41:200],        # chunk length beyond the file
    lambda d: d[:41] + bytes(b ^ 0x5A for b in d[41:400]) + d[400:],  # corrupt compressed data
    lambda d: d[:20] + b"\x10" + d[21:],                           # IHDR with the CRC now wrong
])
def test_every_decoder_error_is_one_image_error(tmp_path, damage):
    data = (images.IMAGES_DIR / "rgb_shapes.png").read_bytes()
    (tmp_path / "bad.png").write_bytes(damage(data))
    with pytest.raises(ImageError) as info:
        load_image(tmp_path / "bad.png")
    assert "\n" not in str(info.value) and str(tmp_path / "bad.png") in str(info.value)


def test_atomic_path_keeps_mode_and_symlink(tmp_path):
    import os

    (tmp_path / "t.png").write_bytes(b"old")
    os.chmod(tmp_path / "t.png", 0o640)
    (tmp_path / "l.png").symlink_to("t.png")
    save_image(tmp_path / "l.png", np.zeros((2, 2)))
    assert (tmp_path / "l.png").is_symlink() and (tmp_path / "t.png").stat().st_mode & 0o777 == 0o640
    assert load_image(tmp_path / "l.png").shape == (2, 2)
    os.mkfifo(tmp_path / "p.png")
    with pytest.raises(ImageError, match="not a regular file"):
        save_image(tmp_path / "p.png", np.zeros((2, 2)))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["l.png", "p.png", "t.png"]


@pytest.mark.parametrize(("image", "kw", "message"), [
    (np.zeros((4, 4, 2)), {}, r"got image shape \(4, 4, 2\)"),
    (np.zeros((0, 4)), {}, r"got image shape \(0, 4\)"),
    (np.zeros(4), {}, r"got image shape \(4,\)"),
    (np.full((2, 2), np.nan), {}, r"image \(shape \(2, 2\)\) contains NaN"),
    (np.zeros((2, 2)) + 1j, {}, "real numbers in image, got dtype complex128"),
    (np.array([["a"]]), {}, "real numbers in image"),
    (np.zeros((2, 2)), {"bits": 12}, "bits must be 8 or 16, got 12"),
    (np.zeros((2, 2, 3)), {"bits": 16}, r"grayscale images only, got image shape \(2, 2, 3\)"),
])
def test_save_image_errors_name_the_argument(tmp_path, image, kw, message):
    with pytest.raises(ImageError, match=message):
        save_image(tmp_path / "x.png", image, **kw)
    assert list(tmp_path.iterdir()) == []


def test_save_image_path_errors(tmp_path):
    with pytest.raises(ImageError, match="folder .* does not exist"):
        save_image(tmp_path / "no" / "x.png", np.zeros((2, 2)))
    with pytest.raises(ImageError, match="it is a folder"):
        save_image(tmp_path, np.zeros((2, 2)))


def test_colour_conversions_are_noted(tmp_path):
    Image.fromarray(np.full((4, 4, 3), 100, np.uint8)).convert("CMYK").save(tmp_path / "c.jpg")
    with pytest.warns(ImageNote, match="converted from CMYK to RGB"):
        assert load_image(tmp_path / "c.jpg").shape == (4, 4, 3)
