"""What the explorers share: the kernel names they offer and cached sample images."""

from __future__ import annotations

import functools

import numpy as np

from .. import kernels
from ..images import sample_image

SPATIAL_NAMES = ["gaussian", "box", "sobel_x", "sobel_y", "laplacian", "sharpen", "emboss", "random"]
RGB = ["R", "G", "B"]


def _kernel(name: str, size: int, sigma: float | None = None) -> np.ndarray:
    if name in kernels.SIZED_KERNELS:
        return kernels.get_kernel(name, size, sigma if name == "gaussian" else None)
    return kernels.get_kernel(name)


@functools.lru_cache(maxsize=8)
def _image(name: str, size: int | None = None) -> np.ndarray:
    """A sample image (optionally subsampled to about ``size`` rows), decoded once.

    Every slider move asks for it, so it is cached: a contiguous, read-only array.
    """
    img = sample_image(name)
    if size is not None:
        step = max(1, img.shape[0] // size)
        img = img[::step, ::step]
    img = np.ascontiguousarray(img)
    img.flags.writeable = False
    return img


def kernel_picture(k: np.ndarray) -> np.ndarray:
    """A kernel of any mode as one 2-D picture: (Kh, Kw) as is, (C_in, C_out) pointwise weights as
    a matrix, (Kh, Kw, C) and (Kh, Kw, C_in, C_out) as a mosaic of their (Kh, Kw) slices (NaN between)."""
    if k.ndim == 2:
        return k
    k4 = k[:, :, None, :] if k.ndim == 3 else k
    kh, kw, a, b = k4.shape
    out = np.full((a * (kh + 1) - 1, b * (kw + 1) - 1), np.nan)
    for i in range(a):
        for j in range(b):
            out[i * (kh + 1):i * (kh + 1) + kh, j * (kw + 1):j * (kw + 1) + kw] = k4[:, :, i, j]
    return out
