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
