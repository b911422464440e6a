"""Named kernels, channel-mixing presets, and the separability analysis.

Spatial kernels are 2-D ``(Kh, Kw)`` float64 arrays, written for cross-correlation
(the kernel is laid over the image as printed, not flipped). Pointwise presets are
``(C_in, C_out)`` matrices.

A 2-D kernel ``k`` is *spatially separable* when it is an outer product
``k = column ⊗ row``, i.e. when its matrix rank is 1. :func:`separability` finds the
rank with the SVD, the best rank-1 factors (Eckart–Young) and the relative error of
that approximation; :func:`low_rank_terms` splits any kernel into ``rank`` separable
terms that add up to it exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = [
    "box",
    "gaussian",
    "sobel_x",
    "sobel_y",
    "laplacian",
    "sharpen",
    "emboss",
    "identity",
    "random_kernel",
    "KERNELS",
    "get_kernel",
    "Separability",
    "separability",
    "rank1_factors",
    "low_rank_terms",
    "POINTWISE_PRESETS",
    "pointwise_preset",
    "default_depthwise_kernel",
]


#: The largest kernel the factories build, in entries (2048 x 2048, 32 MiB of float64):
#: far beyond any teaching example, and small enough never to exhaust memory.
MAX_KERNEL_ENTRIES = 2048 * 2048


def _is_int(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _size_pair(size: int | tuple[int, int]) -> tuple[int, int]:
    """(Kh, Kw) from K or (Kh, Kw): positive integers, at most MAX_KERNEL_ENTRIES entries."""
    pair = (size, size) if _is_int(size) else size
    try:
        kh, kw = pair
    except (TypeError, ValueError):
        raise ValueError(f"kernel size must be a positive integer or a pair (Kh, Kw), got {size!r}") from None
    if not (_is_int(kh) and _is_int(kw)) or kh < 1 or kw < 1:
        raise ValueError(f"kernel size must be a positive integer or a pair (Kh, Kw), got {size!r}")
    if int(kh) * int(kw) > MAX_KERNEL_ENTRIES:
        raise ValueError(f"kernel size {int(kh)}x{int(kw)} is too large: at most {MAX_KERNEL_ENTRIES:,} entries "
                         "(helpers.kernels.MAX_KERNEL_ENTRIES)")
    return int(kh), int(kw)


def box(size: int | tuple[int, int] = 3) -> np.ndarray:
    """Mean filter. Returns (Kh, Kw) with every entry 1/(Kh*Kw). Rank 1."""
    kh, kw = _size_pair(size)
    return np.full((kh, kw), 1.0 / (kh * kw))


def gaussian_1d(size: int, sigma: float | None = None) -> np.ndarray:
    """Normalised 1-D Gaussian, (size,). Default sigma = size / 6 (±3σ fills the window)."""
    if not _is_int(size) or not 1 <= size <= MAX_KERNEL_ENTRIES:
        raise ValueError(f"size must be a positive integer (at most {MAX_KERNEL_ENTRIES:,}), got {size!r}")
    sigma = size / 6 if sigma is None else float(sigma)
    if not (np.isfinite(sigma) and sigma > 0):
        raise ValueError(f"sigma must be a positive finite number, got {sigma}")
    x = np.arange(size) - (size - 1) / 2
    g = np.exp(-0.5 * (x / sigma) ** 2)
    return g / g.sum()


def gaussian(size: int = 5, sigma: float | None = None) -> np.ndarray:
    """Gaussian blur, (size, size), sums to 1. Rank 1: it is ``outer(g, g)``."""
    g = gaussian_1d(_size_pair(size)[0], sigma)
    return np.outer(g, g)


def sobel_x() -> np.ndarray:
    """Horizontal-gradient Sobel, (3, 3) = ``outer([1, 2, 1], [1, 0, -1])``. Rank 1."""
    return np.outer([1.0, 2.0, 1.0], [1.0, 0.0, -1.0])


def sobel_y() -> np.ndarray:
    """Vertical-gradient Sobel, (3, 3) = ``outer([1, 0, -1], [1, 2, 1])``. Rank 1."""
    return sobel_x().T.copy()


def laplacian() -> np.ndarray:
    """4-neighbour Laplacian, (3, 3). Rank 2: not separable."""
    return np.array([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])


def sharpen() -> np.ndarray:
    """Identity minus Laplacian, (3, 3). Rank 2: not separable."""
    return np.array([[0.0, -1.0, 0.0], [-1.0, 5.0, -1.0], [0.0, -1.0, 0.0]])


def emboss() -> np.ndarray:
    """Diagonal relief filter, (3, 3). Rank 3: not separable."""
    return np.array([[-2.0, -1.0, 0.0], [-1.0, 1.0, 1.0], [0.0, 1.0, 2.0]])


def identity(size: int = 3) -> np.ndarray:
    """Delta kernel, (size, size): a 1 in the centre (top-left of centre for even size)."""
    kh, kw = _size_pair(size)
    k = np.zeros((kh, kw))
    k[(kh - 1) // 2, (kw - 1) // 2] = 1.0
    return k


def random_kernel(size: int = 3, seed: int = 0) -> np.ndarray:
    """Standard-normal kernel from ``np.random.default_rng(seed)``, (size, size). Full rank."""
    kh, kw = _size_pair(size)
    return np.random.default_rng(seed).standard_normal((kh, kw))


# name -> factory taking a size (fixed-size kernels ignore it)
KERNELS: dict[str, Callable[[int], np.ndarray]] = {
    "box": box,
    "gaussian": gaussian,
    "sobel_x": lambda size=3: sobel_x(),
    "sobel_y": lambda size=3: sobel_y(),
    "laplacian": lambda size=3: laplacian(),
    "sharpen": lambda size=3: sharpen(),
    "emboss": lambda size=3: emboss(),
    "identity": identity,
    "random": random_kernel,
}
SIZED_KERNELS = ("box", "gaussian", "identity", "random")


def get_kernel(name: str, size: int = 3, sigma: float | None = None) -> np.ndarray:
    """A named 2-D kernel, (Kh, Kw).

    ``size`` applies to box, gaussian, identity and random (the others are 3x3);
    ``sigma`` only to gaussian.
    """
    if not isinstance(name, str) or name not in KERNELS:
        raise ValueError(f"unknown kernel {name!r}; choose one of: {', '.join(KERNELS)}")
    if name == "gaussian":
        return gaussian(size, sigma)
    return KERNELS[name](size)


# ------------------------------------------------------------------ separability
@dataclass(frozen=True)
class Separability:
    """What the SVD says about a 2-D kernel (Kh, Kw).

    rank: numerical rank (singular values above ``tol * s_max``).
    singular_values: (min(Kh, Kw),), descending.
    column: (Kh,) and row: (Kw,) -- the best rank-1 factors, ``outer(column, row)``.
    approximation: (Kh, Kw) = ``outer(column, row)``.
    relative_error: ``||k - approximation||_F / ||k||_F`` (0 for a separable kernel).
    """

    rank: int
    singular_values: np.ndarray
    column: np.ndarray
    row: np.ndarray
    approximation: np.ndarray
    relative_error: float

    @property
    def separable(self) -> bool:
        """True when the kernel is exactly (to round-off) one column times one row."""
        return self.rank <= 1


def _check_2d(kernel: np.ndarray) -> np.ndarray:
    arr = np.asarray(kernel)
    if arr.dtype == object or np.iscomplexobj(arr) or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise ValueError(f"kernel must hold real numbers, got dtype {arr.dtype} (shape {arr.shape})")
    k = arr.astype(float)
    if k.ndim != 2 or k.size == 0:
        raise ValueError(f"kernel must be a non-empty 2-D array (Kh, Kw), got shape {k.shape}")
    if not np.all(np.isfinite(k)):
        raise ValueError(f"kernel contains NaN or infinity (shape {k.shape}); use finite numbers")
    return k


def separability(kernel: np.ndarray, tol: float = 1e-8) -> Separability:
    """SVD rank, best rank-1 factors and their relative error for a (Kh, Kw) kernel.

    The factors share the scale evenly (``column = u * sqrt(s)``, ``row = v * sqrt(s)``)
    and the sign is chosen so the largest entry of ``column`` is positive.
    """
    k = _check_2d(kernel)
    u, s, vt = np.linalg.svd(k)
    rank = int(np.sum(s > tol * s[0])) if s[0] > 0 else 0
    column, row = u[:, 0] * np.sqrt(s[0]), vt[0] * np.sqrt(s[0])
    if column[np.argmax(np.abs(column))] < 0:
        column, row = -column, -row
    approx = np.outer(column, row)
    norm = np.linalg.norm(k)
    err = float(np.linalg.norm(k - approx) / norm) if norm > 0 else 0.0
    return Separability(rank, s, column, row, approx, err)


def rank1_factors(kernel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Best rank-1 factors (column (Kh,), row (Kw,)) of a 2-D kernel."""
    sep = separability(kernel)
    return sep.column, sep.row


def low_rank_terms(kernel: np.ndarray, rank: int | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """Split a kernel into separable terms: ``sum(outer(c, r) for c, r in terms)``.

    With ``rank=None`` all numerically non-zero terms are returned and they add up to
    the kernel exactly (to round-off); a smaller ``rank`` gives the best approximation
    of that rank. Each term is (column (Kh,), row (Kw,)).
    """
    k = _check_2d(kernel)
    if rank is not None and (not _is_int(rank) or rank < 0):
        raise ValueError(f"rank must be a non-negative integer or None, got {rank!r}")
    u, s, vt = np.linalg.svd(k)
    if rank is None:
        rank = int(np.sum(s > 1e-8 * s[0])) if s[0] > 0 else 0
    return [(u[:, i] * np.sqrt(s[i]), vt[i] * np.sqrt(s[i])) for i in range(min(rank, len(s)))]


# --------------------------------------------------------------- pointwise presets
_Y = np.array([0.299, 0.587, 0.114])
POINTWISE_PRESETS: dict[str, np.ndarray] = {
    # (C_in=3, C_out) matrices: out[y, x] = rgb[y, x] @ W
    "grayscale": _Y[:, None],
    # JPEG (ITU-R BT.601 full range) YCbCr without the +0.5 offset of Cb and Cr
    # (that offset is a bias, not part of the 1x1 weights)
    "ycbcr": np.array(
        [
            [0.299, -0.168736, 0.5],
            [0.587, -0.331264, -0.418688],
            [0.114, 0.5, -0.081312],
        ]
    ),
    "swap_rb": np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]),
    # luminance and two colour-opponent channels (red-green, blue-yellow)
    "opponent": np.array([[1 / 3, 1.0, -0.5], [1 / 3, -1.0, -0.5], [1 / 3, 0.0, 1.0]]),
    "identity": np.eye(3),
}


def pointwise_preset(name: str) -> np.ndarray:
    """A named (3, C_out) channel-mixing matrix for RGB images."""
    if not isinstance(name, str) or name not in POINTWISE_PRESETS:
        raise ValueError(f"unknown pointwise preset {name!r}; choose one of: {', '.join(POINTWISE_PRESETS)}")
    return POINTWISE_PRESETS[name].copy()


def default_depthwise_kernel(channels: int = 3) -> np.ndarray:
    """Per-channel edge kernels, (3, 3, C): Sobel-x, Sobel-y, Laplacian, repeating."""
    if not _is_int(channels) or channels < 1:
        raise ValueError(f"channels must be a positive integer, got {channels!r}")
    bank = [sobel_x(), sobel_y(), laplacian()]
    return np.stack([bank[c % 3] for c in range(channels)], axis=2)


def pca_pointwise(features: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The best linear 1x1 projection to ``k`` channels: principal components of the pixels.

    features: (H, W, C). Returns (weights (C, k), mean (C,), explained (C,)) where
    ``(features - mean) @ weights`` keeps the largest possible share of the variance
    for any k-channel linear projection, and ``explained[i]`` is the share of the
    variance carried by component i (descending, summing to 1).
    """
    arr = np.asarray(features)
    if arr.dtype == object or np.iscomplexobj(arr) or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise ValueError(f"features must hold real numbers, got dtype {arr.dtype} (shape {arr.shape})")
    x = arr.astype(np.float64)
    if x.ndim != 3 or x.size == 0:
        raise ValueError(f"features must be a non-empty (H, W, C) array, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"features contain NaN or infinity (shape {x.shape}); use finite numbers")
    c = x.shape[2]
    if not _is_int(k) or not 1 <= k <= c:
        raise ValueError(f"k must be an integer between 1 and the number of channels {c} "
                         f"(features shape {x.shape}), got {k!r}")
    if x.shape[0] * x.shape[1] < 2:
        raise ValueError(f"features need at least 2 pixels to have a variance, got shape {x.shape}")
    pixels = x.reshape(-1, c)
    mean = pixels.mean(axis=0)
    cov = np.cov(pixels - mean, rowvar=False).reshape(c, c)
    values, vectors = np.linalg.eigh(cov)
    order = np.argsort(values)[::-1]
    values, vectors = np.clip(values[order], 0, None), vectors[:, order]
    signs = np.sign(vectors[np.argmax(np.abs(vectors), axis=0), np.arange(c)])  # deterministic signs
    vectors = vectors * np.where(signs == 0, 1, signs)
    total = values.sum()
    return vectors[:, :k], mean, values / total if total > 0 else values
