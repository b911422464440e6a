"""Reading, writing and generating the sample images.

Images are NumPy arrays, channels-last ``(H, W, C)``. The loader converts integer
files (8- or 16-bit) to float64 in [0, 1]; the convolution ops never rescale.

The samples in ``images/`` are shipped with the repository (see ``images/README.md``);
nothing is downloaded.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np

__all__ = [
    "REPO_ROOT",
    "IMAGES_DIR",
    "SAMPLES",
    "ImageError",
    "ImageNote",
    "to_float",
    "load_image",
    "save_image",
    "sample_image",
    "make_test_card",
    "atomic_path",
    "open_regular",
    "MAX_PIXELS",
]

REPO_ROOT = Path(__file__).resolve().parent.parent
IMAGES_DIR = REPO_ROOT / "images"
SAMPLES = {
    "test_card": "test_card.png",
    "photo": "grace_hopper.png",
    "rgb_shapes": "rgb_shapes.png",
}


class ImageError(ValueError):
    """An image file that cannot be used; the message says why and what to do."""


class ImageNote(UserWarning):
    """Something the loader changed on the way in (for example, dropped alpha)."""


def to_float(image: np.ndarray) -> np.ndarray:
    """Integer images to float64 in [0, 1] (uint8 / 255, uint16 / 65535); floats unchanged.

    image: (H, W) or (H, W, C). Returns the same shape.
    """
    arr = np.asarray(image)
    if np.issubdtype(arr.dtype, np.floating):
        return arr
    if arr.dtype == bool:
        return arr.astype(np.float64)
    if np.issubdtype(arr.dtype, np.integer):
        info = np.iinfo(arr.dtype)
        if info.min < 0:
            raise ImageError(f"signed integer image ({arr.dtype}) has no fixed [0, 1] scale; convert it yourself")
        return arr.astype(np.float64) / info.max
    raise ImageError(f"image has dtype {arr.dtype}; expected integers or floats")


#: The most pixels (H x W) :func:`load_image` decodes unless told otherwise: 4096 x 4096.
#: A larger file is refused before it is decoded (a few bytes of PNG can declare
#: 60000 x 60000 pixels, and the float64 copy of an RGB image needs 24 bytes a pixel).
MAX_PIXELS = 4096 * 4096
_ORIENTATIONS = {  # EXIF orientation tag -> how to turn the stored pixels upright (as PIL.ImageOps.exif_transpose)
    2: ("flipped left-right", lambda a: a[:, ::-1]),
    3: ("rotated 180 degrees", lambda a: a[::-1, ::-1]),
    4: ("flipped top-bottom", lambda a: a[::-1]),
    5: ("transposed", lambda a: a.swapaxes(0, 1)),
    6: ("rotated 90 degrees clockwise", lambda a: np.rot90(a, -1)),
    7: ("transversed", lambda a: a.swapaxes(0, 1)[::-1, ::-1]),
    8: ("rotated 90 degrees counter-clockwise", lambda a: np.rot90(a, 1)),
}


def open_regular(path: str | os.PathLike, what: str = "file", error: type[Exception] = ValueError) -> BinaryIO:
    """Open ``path`` for reading in binary mode, refusing anything but a regular file.

    A FIFO would block forever and ``/dev/zero`` never ends, so the file is opened
    without blocking and checked with ``fstat`` before a byte is read. Raises ``error``
    with a one-line message (missing, folder, not a regular file, no permission).
    """
    p = Path(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(p, flags)
    except FileNotFoundError:
        raise error(f"{what} not found: {p}") from None
    except IsADirectoryError:
        raise error(f"{what} path is a folder, not a file: {p}") from None
    except OSError as exc:
        if p.is_dir():
            raise error(f"{what} path is a folder, not a file: {p}") from None
        raise error(f"cannot open {what} {p}: {exc.strerror or exc}") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        kind = ("a folder" if stat.S_ISDIR(mode) else "a FIFO (named pipe)" if stat.S_ISFIFO(mode)
                else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
                else "a socket" if stat.S_ISSOCK(mode) else "not a regular file")
        raise error(f"{what} {p} is {kind}, not a regular file; give the path of a file")
    if hasattr(os, "set_blocking"):
        os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


def load_image(path: str | os.PathLike, *, max_pixels: int | None = MAX_PIXELS) -> np.ndarray:
    """Read a PNG or JPEG file as float64 in [0, 1].

    Returns (H, W, 3) for colour files and (H, W) for grayscale ones.
    RGBA drops its alpha channel (an :class:`ImageNote` warning says so); palette
    images are expanded to RGB; 16-bit PNGs (gray, gray + alpha, RGB, RGBA) keep their
    16-bit precision; an EXIF orientation tag is applied (with a note), as a photo
    viewer does; a multi-frame file gives its first frame (with a note).

    max_pixels: refuse files with more than this many pixels (H x W) before decoding
    them (default :data:`MAX_PIXELS`); ``None`` for no limit.

    Raises
    ------
    ImageError if the file is missing, not a regular file, too large, unreadable or
    not an image (every decoder error becomes this one-line error).
    """
    from PIL import Image, UnidentifiedImageError  # Pillow is a dependency of matplotlib

    p = Path(path)
    if max_pixels is not None and (not isinstance(max_pixels, (int, np.integer)) or max_pixels < 1):
        raise ValueError(f"max_pixels must be a positive integer or None, got {max_pixels!r}")
    notes: list[str] = []
    with open_regular(p, "image file", ImageError) as f:
        try:
            with _pillow_without_bomb_check(), Image.open(f) as im:
                w, h = im.size
                if max_pixels is not None and w * h > max_pixels:
                    raise ImageError(f"image {p} is {h}x{w} = {w * h:,} pixels (H x W), more than the limit of "
                                     f"{max_pixels:,}; use a smaller image or raise the limit (--max-pixels in the "
                                     "program, max_pixels= in load_image)")
                if getattr(im, "n_frames", 1) > 1:
                    notes.append(f"{p.name}: the file has {im.n_frames} frames; using the first")
                arr, mode, more = _decode(im)
                notes += [f"{p.name}: {n}" for n in more]
                orientation = _orientation(im)  # after decoding: Pillow loads a PNG to read its EXIF
        except ImageError:
            raise
        except UnidentifiedImageError:
            raise ImageError(f"not an image file (PNG or JPEG expected): {p}") from None
        except MemoryError:
            raise ImageError(f"image {p} does not fit in memory; use a smaller image") from None
        except Exception as exc:  # any decoder error: truncated data, bad chunks, zlib, struct ...
            detail = (str(exc).splitlines() or [""])[0] or type(exc).__name__
            raise ImageError(f"cannot read image {p}: {detail}") from None
    if mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        arr = arr.astype(np.uint16)
    elif mode == "I":  # 32-bit container; PNG stores at most 16 bits
        if arr.size and (arr.min() < 0 or arr.max() > 65535):
            notes.append(f"{p.name}: 32-bit integer values outside 0..65535 were clipped to 16 bits")
        arr = np.clip(arr, 0, 65535).astype(np.uint16)
    elif mode == "F":
        arr = arr.astype(np.float64)
    if arr.ndim == 3 and arr.shape[2] in (2, 4):
        base, depth = mode.split(";")[0], " (16-bit)" if mode.endswith(";16") else ""
        notes.append(f"{p.name}: dropped the alpha channel ({base} -> {base[:-1] or 'L'}{depth})")
        arr = arr[:, :, :-1]
        if arr.shape[2] == 1:
            arr = arr[:, :, 0]
    if orientation in _ORIENTATIONS:
        what, turn = _ORIENTATIONS[orientation]
        arr = np.ascontiguousarray(turn(arr))
        notes.append(f"{p.name}: {what}, as its EXIF orientation tag asks")
    for note in notes:
        warnings.warn(note, ImageNote, stacklevel=2)
    if arr.size == 0:
        raise ImageError(f"image {p} has no pixels")
    return to_float(arr).astype(np.float64, copy=False)


@contextlib.contextmanager
def _pillow_without_bomb_check() -> Iterator[None]:
    """Pillow's own decompression-bomb guard off: :func:`load_image` checks ``max_pixels`` itself."""
    from PIL import Image

    saved = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None
    try:
        yield
    finally:
        Image.MAX_IMAGE_PIXELS = saved


def _orientation(im: object) -> int:
    try:
        return int(im.getexif().get(0x0112, 1))
    except Exception:  # a damaged EXIF block is not worth refusing the image for
        return 1


def _decode(im: object) -> tuple[np.ndarray, str, list[str]]:
    """Pixels of an opened Pillow image as an array, the mode they are in, and notes."""
    tiles = list(getattr(im, "tile", []) or [])
    raw = tiles[0][3] if tiles and len(tiles[0]) > 3 else None
    if getattr(im, "format", None) == "PNG" and raw in ("RGB;16B", "RGBA;16B", "LA;16B"):
        return _png_16bit_colour(im, tiles, raw)
    im.load()
    mode, notes = im.mode, []
    if mode in ("P", "PA"):
        im = im.convert("RGBA" if "transparency" in im.info or mode == "PA" else "RGB")
    elif mode == "1":
        im = im.convert("L")
    elif mode in ("La", "RGBa"):  # premultiplied alpha
        im = im.convert("LA" if mode == "La" else "RGBA")
    elif mode not in ("L", "LA", "RGB", "RGBA", "I", "F", "I;16", "I;16B", "I;16L", "I;16N"):
        im = im.convert("RGB")  # CMYK, YCbCr, LAB, HSV, RGBX ...
        if mode not in ("YCbCr", "RGBX"):
            notes.append(f"converted from {mode} to RGB with Pillow's simple formula (no colour profile)")
    return np.asarray(im), im.mode, notes


def _png_16bit_colour(im: object, tiles: list, raw: str) -> tuple[np.ndarray, str, list[str]]:
    """A 16-bit RGB, RGBA or gray+alpha PNG at full precision.

    Pillow keeps only the high byte of each 16-bit colour sample. Its PNG decoder does
    all the work (inflating, unfiltering, interlacing) and only the last step, the
    unpacking into 8-bit pixels, loses the low byte; so the file is decoded a second
    time with an unpacking that keeps the other byte (RGB;16L reads byte 1 of each
    big-endian sample, the low one), or, for gray + alpha (4 bytes a pixel), the raw
    bytes as 4 x 8 bits. Should a Pillow version refuse that, the 8-bit reading is used
    and a note says so.
    """
    from PIL import Image

    def retile(rawmode: str) -> list:
        return [t._replace(args=rawmode) if hasattr(t, "_replace") else (*t[:3], rawmode) for t in tiles]

    fp = im.fp
    fallback = f"16-bit {raw.split(';')[0]} PNG read with 8 bits per channel (this Pillow cannot give the other 8)"
    if raw == "LA;16B":
        try:
            im.tile = retile("RGBA")
            im.load()
            b = np.asarray(im).astype(np.uint16)
            return (b[:, :, 0::2] << 8) | b[:, :, 1::2], "LA;16", []
        except Exception:
            fp.seek(0)
            with Image.open(fp) as again:
                again.load()
                return np.asarray(again.convert("LA")), "LA", [fallback]
    im.load()
    high = np.asarray(im).astype(np.uint16)
    try:
        fp.seek(0)
        with Image.open(fp) as again:
            again.tile = retile(raw.replace(";16B", ";16L"))
            again.load()
            low = np.asarray(again).astype(np.uint16)
    except Exception:
        return high.astype(np.uint8), im.mode, [fallback]
    return (high << 8) | low, raw.split(";")[0] + ";16", []


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` only on success.

    A failure (an exception, Ctrl-C, or a SIGTERM that the program turns into one)
    leaves neither a half-written file nor the temporary behind. Replacing an existing
    file keeps its permission bits (never looser than before); when ``path`` is a
    symbolic link, the file it points to is replaced and the link stays a link. A new
    file gets the usual ``0666 & ~umask``. (Other hard links to a replaced file keep
    the old contents: the new file is a new inode.)
    """
    target = Path(path)
    if target.is_symlink():
        target = Path(os.path.realpath(target))
    folder = target.parent if str(target.parent) else Path(".")
    try:
        st = os.stat(target)
    except FileNotFoundError:
        st = None
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise ImageError(f"{path} exists and is not a regular file; choose another file name")
    tmp = None
    try:
        with _signals_blocked():  # a signal handler may run only once ``tmp`` names the file to clean up
            fd, tmp = tempfile.mkstemp(prefix=f".{target.stem}-", suffix=target.suffix, dir=folder)
        os.close(fd)
        yield Path(tmp)
        if st is not None:
            mode = stat.S_IMODE(st.st_mode)
        else:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask  # mkstemp makes 0600 files; give the usual permissions
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        raise


@contextlib.contextmanager
def _signals_blocked() -> Iterator[None]:
    """Hold back SIGINT, SIGTERM and SIGHUP (delivered on exit) where the system allows it."""
    import signal
    import threading

    wanted = {getattr(signal, n) for n in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, n)}
    if not hasattr(signal, "pthread_sigmask") or threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, wanted)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def save_image(path: str | os.PathLike, image: np.ndarray, *, bits: int = 8) -> Path:
    """Write a float image in [0, 1] (clipped) as an 8- or 16-bit PNG, atomically.

    image: (H, W), (H, W, 1) or (H, W, 3) of real numbers. Returns the path written.

    Raises
    ------
    ImageError (a ValueError) naming the problem: a wrong shape or dtype, NaN or
    infinity, ``bits`` other than 8 or 16 (16 for gray only), or a folder that does not
    exist or cannot be written.
    """
    from PIL import Image

    raw = np.asarray(image)
    if raw.dtype == object or np.iscomplexobj(raw) or not (np.issubdtype(raw.dtype, np.number) or raw.dtype == bool):
        raise ImageError(f"save_image needs real numbers in image, got dtype {raw.dtype} (shape {raw.shape})")
    if not (raw.ndim == 2 or (raw.ndim == 3 and raw.shape[2] in (1, 3))) or raw.size == 0:
        raise ImageError(f"save_image writes (H, W), (H, W, 1) or (H, W, 3) images, got image shape {raw.shape}")
    if bits not in (8, 16) or isinstance(bits, bool):
        raise ImageError(f"bits must be 8 or 16, got {bits!r}")
    arr = raw.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        raise ImageError(f"image (shape {raw.shape}) contains NaN or infinity; a PNG cannot store them")
    arr = np.clip(arr, 0.0, 1.0)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if bits == 8:
        pil = Image.fromarray(np.round(arr * 255).astype(np.uint8))
    elif arr.ndim == 2:
        pil = Image.fromarray(np.round(arr * 65535).astype(np.uint16))
    else:
        raise ImageError(f"16-bit output is supported for grayscale images only, got image shape {raw.shape}")
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise ImageError(f"cannot save to {target}: folder {folder} does not exist")
    if target.is_dir():
        raise ImageError(f"cannot save to {target}: it is a folder")
    try:
        with atomic_path(target) as tmp:
            pil.save(tmp, format="PNG")
    except OSError as exc:
        raise ImageError(f"cannot save to {target}: {exc.strerror or exc}") from None
    return target


def sample_image(name: str = "test_card") -> np.ndarray:
    """One of the shipped samples as float64 (H, W, 3) in [0, 1].

    name: "test_card" (256 x 256 synthetic card), "photo" (Grace Hopper, 256 x 218) or
    "rgb_shapes" (128 x 128: a pure red disc, green square and blue triangle on black,
    so each shape lives in exactly one channel).
    """
    if name not in SAMPLES:
        raise ValueError(f"unknown sample {name!r}; choose one of: {', '.join(SAMPLES)}")
    return load_image(IMAGES_DIR / SAMPLES[name])


def make_test_card(size: int = 256) -> np.ndarray:
    """The synthetic test card, float64 (size, size, 3) in [0, 1].

    Mid-gray background; a pure red disc, a pure green square and a pure blue
    triangle, so every channel shows different shapes; a black-and-white bar
    pattern with edges at 0, 30, 45, 60 and 90 degrees in the bottom half; and a
    horizontal gray ramp along the bottom edge.
    """
    s = size
    yy, xx = np.mgrid[0:s, 0:s] / s  # normalised coordinates in [0, 1)
    card = np.full((s, s, 3), 0.5)
    # red disc, top left
    card[(yy - 0.22) ** 2 + (xx - 0.22) ** 2 < 0.15**2] = (1.0, 0.0, 0.0)
    # green square, top middle
    card[(np.abs(yy - 0.22) < 0.13) & (np.abs(xx - 0.52) < 0.13)] = (0.0, 1.0, 0.0)
    # blue triangle, top right (apex up)
    tri = (yy > 0.08) & (yy < 0.36) & (np.abs(xx - 0.82) < (yy - 0.08) * 0.55)
    card[tri] = (0.0, 0.0, 1.0)
    # five stripe patches with edges at several angles
    for i, angle in enumerate((0, 30, 45, 60, 90)):
        x0 = 0.04 + i * 0.19
        patch = (yy > 0.45) & (yy < 0.8) & (xx > x0) & (xx < x0 + 0.16)
        t = np.deg2rad(angle)
        phase = (xx * np.cos(t) + yy * np.sin(t)) * 20
        card[patch] = np.where((np.floor(phase) % 2 == 0)[patch, None], 1.0, 0.0)
    # gray ramp
    ramp = yy > 0.86
    card[ramp] = np.repeat(xx[ramp][:, None], 3, axis=1)
    return card


def make_rgb_shapes(size: int = 128) -> np.ndarray:
    """Three pure-colour shapes on black, float64 (size, size, 3) in [0, 1].

    A red disc (top left), a green square (top right) and a blue triangle (bottom
    middle) that do not overlap: each shape is non-zero in exactly one channel, so a
    depthwise filter shows each shape only in its own channel's output.
    """
    s = size
    yy, xx = np.mgrid[0:s, 0:s] / s
    img = np.zeros((s, s, 3))
    img[(yy - 0.27) ** 2 + (xx - 0.27) ** 2 < 0.17**2, 0] = 1.0
    img[(np.abs(yy - 0.27) < 0.15) & (np.abs(xx - 0.73) < 0.15), 1] = 1.0
    img[(yy > 0.55) & (yy < 0.92) & (np.abs(xx - 0.5) < (yy - 0.55) * 0.6), 2] = 1.0
    return img
