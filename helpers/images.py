"""Reading, writing and generating the sample images.

Images are NumPy arrays, channels-last ``(H, W, C)``. The loader converts integer
files (8- or 16-bit) to float64 in [0, 1]; the convolution ops never rescale.

The samples in ``images/`` are shipped with the repository (see ``images/README.md``);
nothing is downloaded.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path

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


def load_image(path: str | os.PathLike) -> np.ndarray:
    """Read a PNG or JPEG file as float64 in [0, 1].

    Returns (H, W, 3) for colour files and (H, W) for grayscale ones.
    RGBA drops its alpha channel (an :class:`ImageNote` warning says so); palette
    images are expanded to RGB; 16-bit PNGs keep their 16-bit precision.

    Raises
    ------
    ImageError if the file is missing, unreadable or not an image.
    """
    from PIL import Image, UnidentifiedImageError  # Pillow is a dependency of matplotlib

    p = Path(path)
    if not p.exists():
        raise ImageError(f"image file not found: {p}")
    if p.is_dir():
        raise ImageError(f"image path is a folder, not a file: {p}")
    try:
        with Image.open(p) as im:
            im.load()
            mode = im.mode
            if mode in ("P", "PA"):
                im = im.convert("RGBA" if "transparency" in im.info or mode == "PA" else "RGB")
                mode = im.mode
            if mode == "CMYK" or mode == "YCbCr" or mode == "LAB" or mode == "HSV":
                im = im.convert("RGB")
                mode = "RGB"
            if mode == "1":
                im = im.convert("L")
                mode = "L"
            arr = np.asarray(im)
    except UnidentifiedImageError:
        raise ImageError(f"not an image file (PNG or JPEG expected): {p}") from None
    except OSError as exc:
        raise ImageError(f"cannot read image {p}: {exc}") from None
    if mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        arr = arr.astype(np.uint16)
    elif mode == "I":  # 32-bit container; PNG stores at most 16 bits
        arr = np.clip(arr, 0, 65535).astype(np.uint16)
    elif mode == "F":
        arr = arr.astype(np.float64)
    if arr.ndim == 3 and arr.shape[2] in (2, 4):
        warnings.warn(f"{p.name}: dropped the alpha channel ({mode} -> {mode[:-1] or 'L'})", ImageNote, stacklevel=2)
        arr = arr[:, :, :-1]
        if arr.shape[2] == 1:
            arr = arr[:, :, 0]
    if arr.size == 0:
        raise ImageError(f"image {p} has no pixels")
    return to_float(arr).astype(np.float64, copy=False)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` only on success.

    A failure leaves neither a half-written file nor the temporary behind.
    """
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.stem}-", suffix=target.suffix, dir=folder)
    os.close(fd)
    try:
        yield Path(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600 files; give the usual permissions
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def save_image(path: str | os.PathLike, image: np.ndarray, *, bits: int = 8) -> Path:
    """Write a float image in [0, 1] (clipped) as an 8- or 16-bit PNG, atomically.

    image: (H, W), (H, W, 1) or (H, W, 3). Returns the path written.
    """
    from PIL import Image

    arr = np.clip(np.asarray(image, dtype=np.float64), 0.0, 1.0)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] == 3)):
        raise ImageError(f"save_image writes (H, W) or (H, W, 3) images, got shape {arr.shape}")
    if bits == 8:
        pil = Image.fromarray(np.round(arr * 255).astype(np.uint8))
    elif bits == 16 and arr.ndim == 2:
        pil = Image.fromarray(np.round(arr * 65535).astype(np.uint16))
    else:
        raise ImageError("16-bit output is supported for grayscale images only")
    with atomic_path(path) as tmp:
        pil.save(tmp, format="PNG")
    return Path(path)


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
