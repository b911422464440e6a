"""Convolution operators in plain NumPy: the textbook loops first, then the fast ops.

Read this module like the lesson. Conventions (the same as Keras/TensorFlow, and PyTorch
with ``groups=C`` for depthwise):

* Images are channels-last ``(H, W, C)``; a 2-D image ``(H, W)`` is one channel and
  the result is then 2-D as well.
* Kernels are ``(Kh, Kw, C_in, C_out)`` for a standard convolution, ``(Kh, Kw, C)`` or
  ``(Kh, Kw, C, M)`` for a depthwise one (``M`` is the depth multiplier and output
  channel ``c * M + m`` comes from input channel ``c``), and ``(C_in, C_out)`` for a
  pointwise (1x1) one. Rectangular kernels (1xk, kx1, 2x5 ...) are allowed everywhere.
* Every op is a *cross-correlation*: the kernel is not flipped,
  ``out[y, x] = sum_ij image[y*s + i*d, x*s + j*d] * kernel[i, j]``. This is what
  every deep-learning framework calls "convolution". The mathematical convolution is
  the same thing with the kernel rotated by 180 degrees (``kernel[::-1, ::-1]``).
* ``padding`` is ``"valid"`` (no padding), ``"same"`` (TensorFlow's rule: the output
  has ``ceil(n / stride)`` rows/columns and an odd extra padded pixel goes to the
  bottom/right) or a non-negative int ``p`` (that many zeros on *every* side, so ``2p``
  in total along an axis). ``stride`` and ``dilation`` are positive ints.
* The result has the image's floating dtype (float32 stays float32, float64 stays
  float64); kernels are cast to it. Integer images are refused: convert them with
  :func:`helpers.images.to_float` first, so that no op rescales data behind your back.

The module reads top to bottom: output sizes and padding, the textbook loops (one
output pixel at a time, as in the notebooks), then the fast ops with the same
signatures. The fast ops only check their arguments and work out the padding; the
arithmetic is in :mod:`helpers.fast_conv`, a blocked engine (row blocks, strided views,
BLAS for channel mixing) that you do not need to read to follow the series.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from . import fast_conv

__all__ = [
    "Padding",
    "output_size",
    "pad_amounts",
    "correlate2d_loop",
    "conv2d_loop",
    "depthwise_conv2d_loop",
    "pointwise_conv2d_loop",
    "conv2d",
    "depthwise_conv2d",
    "pointwise_conv2d",
    "spatial_separable_conv2d",
    "depthwise_separable_conv2d",
]

Padding = str | int


# --------------------------------------------------------------------------- sizes
class PadAmounts(NamedTuple):
    """Zeros added before and after one axis, and the resulting output length."""

    before: int
    after: int
    out: int


def _check_positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _check_padding(padding: object) -> Padding:
    if isinstance(padding, str):
        if padding not in ("same", "valid"):
            raise ValueError(f"padding must be 'same', 'valid' or a non-negative integer, got {padding!r}")
        return padding
    if isinstance(padding, bool) or not isinstance(padding, (int, np.integer)) or padding < 0:
        raise ValueError(f"padding must be 'same', 'valid' or a non-negative integer, got {padding!r}")
    return int(padding)


def pad_amounts(n: int, k: int, *, stride: int = 1, padding: Padding = "same", dilation: int = 1) -> PadAmounts:
    """Padding and output length along one axis.

    Parameters
    ----------
    n : input length (rows or columns).
    k : kernel length along that axis.
    stride, padding, dilation : as in :func:`conv2d`.

    Returns
    -------
    PadAmounts(before, after, out). ``out`` may be ``<= 0`` when the (dilated) kernel
    is larger than the padded input; :func:`output_size` turns that into an error.
    """
    stride = _check_positive_int("stride", stride)
    dilation = _check_positive_int("dilation", dilation)
    padding = _check_padding(padding)
    span = dilation * (k - 1) + 1  # how many input pixels one output pixel sees
    if padding == "valid":
        return PadAmounts(0, 0, (n - span) // stride + 1 if n >= span else 0)
    if padding == "same":
        out = -(-n // stride)  # ceil(n / stride)
        total = max((out - 1) * stride + span - n, 0)
        return PadAmounts(total // 2, total - total // 2, out)
    return PadAmounts(padding, padding, (n + 2 * padding - span) // stride + 1 if n + 2 * padding >= span else 0)


def output_size(
    in_size: tuple[int, int],
    kernel_size: int | tuple[int, int],
    *,
    stride: int = 1,
    padding: Padding = "same",
    dilation: int = 1,
) -> tuple[int, int]:
    """Spatial output size of a convolution.

    ``valid``: ``floor((n - d*(k-1) - 1) / s) + 1``;
    ``same``: ``ceil(n / s)``;
    integer ``p``: ``floor((n + 2p - d*(k-1) - 1) / s) + 1``.

    Parameters
    ----------
    in_size : (H, W) of the input.
    kernel_size : K or (Kh, Kw).

    Returns
    -------
    (H_out, W_out)

    Raises
    ------
    ValueError if the dilated kernel does not fit in the padded input.
    """
    kh, kw = _pair(kernel_size)
    h, w = (int(v) for v in in_size)
    rows = pad_amounts(h, kh, stride=stride, padding=padding, dilation=dilation)
    cols = pad_amounts(w, kw, stride=stride, padding=padding, dilation=dilation)
    if rows.out <= 0 or cols.out <= 0:
        span = (dilation * (kh - 1) + 1, dilation * (kw - 1) + 1)
        raise ValueError(
            f"kernel {kh}x{kw} (spanning {span[0]}x{span[1]} pixels with dilation {dilation}) is larger than "
            f"the padded {h}x{w} image (padding={padding!r}); use a smaller kernel or more padding"
        )
    return rows.out, cols.out


def _pair(kernel_size: int | tuple[int, int]) -> tuple[int, int]:
    if isinstance(kernel_size, (int, np.integer)):
        kh = kw = int(kernel_size)
    else:
        kh, kw = (int(v) for v in kernel_size)
    if kh < 1 or kw < 1:
        raise ValueError(f"kernel size must be positive, got {kernel_size!r}")
    return kh, kw


# ------------------------------------------------------------- the textbook loops
def correlate2d_loop(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """The smallest possible example: one channel, stride 1, no padding ("valid").

    image: (H, W); kernel: (Kh, Kw). Returns (H - Kh + 1, W - Kw + 1).
    """
    kh, kw = kernel.shape
    h_out, w_out = image.shape[0] - kh + 1, image.shape[1] - kw + 1
    out = np.zeros((h_out, w_out), dtype=np.result_type(image, kernel))
    for y in range(h_out):
        for x in range(w_out):
            out[y, x] = np.sum(image[y : y + kh, x : x + kw] * kernel)
    return out


def _pad_loop(img: np.ndarray, kh: int, kw: int, stride: int, padding: Padding, dilation: int) -> np.ndarray:
    rows = pad_amounts(img.shape[0], kh, stride=stride, padding=padding, dilation=dilation)
    cols = pad_amounts(img.shape[1], kw, stride=stride, padding=padding, dilation=dilation)
    return np.pad(img, ((rows.before, rows.after), (cols.before, cols.after), (0, 0)))


def conv2d_loop(
    image: np.ndarray, kernel: np.ndarray, *, stride: int = 1, padding: Padding = "same", dilation: int = 1
) -> np.ndarray:
    """Textbook standard convolution, one output pixel at a time.

    image: (H, W, C_in); kernel: (Kh, Kw, C_in, C_out). Returns (H', W', C_out).
    """
    kh, kw, c_in, c_out = kernel.shape
    h_out, w_out = output_size(image.shape[:2], (kh, kw), stride=stride, padding=padding, dilation=dilation)
    xp = _pad_loop(image, kh, kw, stride, padding, dilation)
    out = np.zeros((h_out, w_out, c_out), dtype=image.dtype)
    for y in range(h_out):
        for x in range(w_out):
            window = xp[y * stride : y * stride + dilation * (kh - 1) + 1 : dilation,
                        x * stride : x * stride + dilation * (kw - 1) + 1 : dilation]  # (Kh, Kw, C_in)
            for o in range(c_out):
                out[y, x, o] = np.sum(window * kernel[:, :, :, o])
    return out


def depthwise_conv2d_loop(
    image: np.ndarray, kernel: np.ndarray, *, stride: int = 1, padding: Padding = "same", dilation: int = 1
) -> np.ndarray:
    """Textbook depthwise convolution: channel c only ever meets kernel[:, :, c, m].

    image: (H, W, C); kernel: (Kh, Kw, C) or (Kh, Kw, C, M). Returns (H', W', C*M).
    """
    if kernel.ndim == 3:
        kernel = kernel[:, :, :, None]
    kh, kw, c, m = kernel.shape
    h_out, w_out = output_size(image.shape[:2], (kh, kw), stride=stride, padding=padding, dilation=dilation)
    xp = _pad_loop(image, kh, kw, stride, padding, dilation)
    out = np.zeros((h_out, w_out, c * m), dtype=image.dtype)
    for y in range(h_out):
        for x in range(w_out):
            window = xp[y * stride : y * stride + dilation * (kh - 1) + 1 : dilation,
                        x * stride : x * stride + dilation * (kw - 1) + 1 : dilation]  # (Kh, Kw, C)
            for ch in range(c):
                for mm in range(m):
                    out[y, x, ch * m + mm] = np.sum(window[:, :, ch] * kernel[:, :, ch, mm])
    return out


def pointwise_conv2d_loop(image: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Textbook 1x1 convolution: at every pixel, every output channel is a weighted sum
    of *all* input channels.

    image: (H, W, C_in); weights: (C_in, C_out). Returns (H, W, C_out).
    """
    h, w, c_in = image.shape
    c_out = weights.shape[1]
    out = np.zeros((h, w, c_out), dtype=image.dtype)
    for y in range(h):
        for x in range(w):
            for o in range(c_out):
                for i in range(c_in):
                    out[y, x, o] += image[y, x, i] * weights[i, o]
    return out


# ------------------------------------------------------------------ the fast ops
# The same operations, for real sizes: each checks its arguments, works out the
# padding, and hands the arithmetic to the blocked engine in :mod:`helpers.fast_conv`
# (no Python loop over pixels). tests/test_conv.py checks every one against the loops.
def conv2d(
    image: np.ndarray,
    kernel: np.ndarray,
    *,
    stride: int = 1,
    padding: Padding = "same",
    dilation: int = 1,
) -> np.ndarray:
    """Standard 2-D convolution (cross-correlation) that mixes all input channels.

    Parameters
    ----------
    image : (H, W, C_in) or (H, W) floating array.
    kernel : (Kh, Kw, C_in, C_out); a 2-D (Kh, Kw) kernel is allowed for a 2-D image.
    stride, padding, dilation : see the module docstring.

    Returns
    -------
    (H', W', C_out) array, or (H', W') when the image and kernel were 2-D.
    """
    img, was_2d = _as_image(image)
    k = _as_kernel(kernel, img.dtype, "kernel")
    if k.ndim == 2 and img.shape[2] == 1:
        k = k[:, :, None, None]
    if k.ndim != 4:
        raise ValueError(f"standard kernel must be (Kh, Kw, C_in, C_out), got shape {k.shape}")
    if k.shape[2] != img.shape[2]:
        raise ValueError(
            f"kernel expects {k.shape[2]} input channels but the image has {img.shape[2]}: "
            f"kernel shape {k.shape}, image shape {np.shape(image)}"
        )
    rows, cols = _axes_padding(img, k.shape[:2], stride, padding, dilation)
    out = fast_conv.standard(img, k, int(stride), rows, cols, int(dilation))
    return _finish(out, was_2d and k.shape[3] == 1)


def depthwise_conv2d(
    image: np.ndarray,
    kernel: np.ndarray,
    *,
    stride: int = 1,
    padding: Padding = "same",
    dilation: int = 1,
) -> np.ndarray:
    """Depthwise convolution: each channel is filtered by its own kernel, never mixed.

    Parameters
    ----------
    image : (H, W, C) or (H, W) floating array.
    kernel : (Kh, Kw, C, M) with depth multiplier M, or (Kh, Kw, C) for M = 1, or
        (Kh, Kw) to apply the same filter to every channel.

    Returns
    -------
    (H', W', C*M); output channel ``c*M + m`` is channel ``c`` filtered by
    ``kernel[:, :, c, m]`` (as Keras ``DepthwiseConv2D`` and PyTorch ``groups=C``).
    A 2-D image with M = 1 gives a 2-D result.
    """
    img, was_2d = _as_image(image)
    k = _as_kernel(kernel, img.dtype, "depthwise kernel")
    taps = _depthwise_taps(k, img.shape[2], np.shape(image))
    m = taps.shape[2] // img.shape[2]
    src = img if m == 1 else np.repeat(img, m, axis=2)
    rows, cols = _axes_padding(img, taps.shape[:2], stride, padding, dilation)
    out = fast_conv.depthwise(src, taps, int(stride), rows, cols, int(dilation))
    return _finish(out, was_2d)


def pointwise_conv2d(image: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Pointwise (1x1) convolution: the same channel-mixing matrix at every pixel.

    Parameters
    ----------
    image : (H, W, C_in) or (H, W) floating array.
    weights : (C_in, C_out). A (1, 1, C_in, C_out) Keras-style kernel is accepted too.

    Returns
    -------
    (H, W, C_out): ``out[y, x] = image[y, x] @ weights``, computed as one matrix
    multiply ``(H*W, C_in) @ (C_in, C_out)``.
    """
    img, _ = _as_image(image)
    wts = _pointwise_weights(weights, img.shape[2], img.dtype, "the image's channels")
    h, w, c = img.shape
    return (img.reshape(h * w, c) @ wts).reshape(h, w, wts.shape[1])


def spatial_separable_conv2d(
    image: np.ndarray,
    column: np.ndarray,
    row: np.ndarray,
    *,
    padding: Padding = "same",
) -> np.ndarray:
    """Spatially separable convolution: a Kx1 pass down the columns, then a 1xK pass.

    Equal to ``depthwise_conv2d(image, np.outer(column, row))`` -- exactly, not
    approximately -- but costs ``Kh + Kw`` instead of ``Kh * Kw`` MACs per output
    pixel and channel.

    Parameters
    ----------
    image : (H, W, C) or (H, W) floating array.
    column : (Kh,) vertical filter, or (Kh, C) one per channel.
    row : (Kw,) horizontal filter, or (Kw, C) one per channel.

    Returns
    -------
    Same layout as the image, spatial size given by :func:`output_size` (stride 1).
    """
    img, was_2d = _as_image(image)
    c = img.shape[2]
    col = _as_kernel(column, img.dtype, "column filter")
    rw = _as_kernel(row, img.dtype, "row filter")
    for name, v in (("column", col), ("row", rw)):
        if not (v.ndim == 1 or (v.ndim == 2 and v.shape[1] == c)):
            raise ValueError(f"{name} filter must be (K,) or (K, {c}) for a {c}-channel image, got shape {v.shape}")
    (h, w), kh, kw = img.shape[:2], col.shape[0], rw.shape[0]
    output_size((h, w), (kh, kw), padding=padding)  # fail early, with the 2-D message
    # the vertical pass pads only rows, the horizontal pass only columns
    rows = pad_amounts(h, kh, padding=padding)
    cols = pad_amounts(w, kw, padding=padding)
    out = fast_conv.separable(img, col, rw, rows, cols)
    return _finish(out, was_2d)


def depthwise_separable_conv2d(
    image: np.ndarray,
    depthwise_kernel: np.ndarray,
    pointwise_weights: np.ndarray,
    *,
    stride: int = 1,
    padding: Padding = "same",
    dilation: int = 1,
) -> np.ndarray:
    """Depthwise then pointwise convolution: the MobileNet / Xception building block.

    Parameters
    ----------
    image : (H, W, C) floating array.
    depthwise_kernel : (Kh, Kw, C) or (Kh, Kw, C, M).
    pointwise_weights : (C*M, C_out), or (1, 1, C*M, C_out) as Keras stores it.

    Returns
    -------
    (H', W', C_out)
    """
    if stride != 1:
        mid = depthwise_conv2d(image, depthwise_kernel, stride=stride, padding=padding, dilation=dilation)
        return pointwise_conv2d(mid, pointwise_weights)
    img, _ = _as_image(image)
    taps = _depthwise_taps(_as_kernel(depthwise_kernel, img.dtype, "depthwise kernel"), img.shape[2],
                           np.shape(image))
    m = taps.shape[2] // img.shape[2]
    wts = _pointwise_weights(pointwise_weights, taps.shape[2], img.dtype, "the depthwise outputs, C*M")
    rows, cols = _axes_padding(img, taps.shape[:2], 1, padding, dilation)
    src = img if m == 1 else np.repeat(img, m, axis=2)
    return fast_conv.depthwise_separable(src, taps, wts, rows, cols, int(dilation))


# --------------------------------------------------------------------- validation
def _as_image(image: object) -> tuple[np.ndarray, bool]:
    """Return a (H, W, C) floating view of ``image`` and whether it was 2-D."""
    arr = np.asarray(image)
    if arr.ndim not in (2, 3):
        raise ValueError(f"image must be (H, W) or (H, W, C), got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.floating):
        raise ValueError(
            f"image has dtype {arr.dtype}; convert it to floats first "
            "(helpers.images.to_float maps uint8/uint16 to [0, 1])"
        )
    if arr.size == 0:
        raise ValueError(f"image is empty, shape {arr.shape}")
    was_2d = arr.ndim == 2
    return (arr[:, :, None] if was_2d else arr), was_2d


def _as_kernel(kernel: object, dtype: np.dtype, what: str) -> np.ndarray:
    arr = np.asarray(kernel)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise ValueError(f"{what} must be numeric, got dtype {arr.dtype}")
    if arr.size == 0:
        raise ValueError(f"{what} is empty, shape {arr.shape}")
    arr = arr.astype(dtype, copy=False)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{what} contains NaN or infinity")
    return arr


def _axes_padding(img: np.ndarray, kernel_size: tuple[int, int], stride: int, padding: Padding,
                  dilation: int) -> tuple[PadAmounts, PadAmounts]:
    """Check the arguments (with :func:`output_size`'s message) and pad (rows, cols) of a (H, W, C) image."""
    (h, w), (kh, kw) = img.shape[:2], kernel_size
    output_size((h, w), (kh, kw), stride=stride, padding=padding, dilation=dilation)
    return (pad_amounts(h, kh, stride=stride, padding=padding, dilation=dilation),
            pad_amounts(w, kw, stride=stride, padding=padding, dilation=dilation))


def _finish(out: np.ndarray, was_2d: bool) -> np.ndarray:
    return out[:, :, 0] if was_2d and out.shape[2] == 1 else out


def _depthwise_taps(k: np.ndarray, channels: int, image_shape: tuple[int, ...]) -> np.ndarray:
    """Normalise a depthwise kernel to (Kh, Kw, C*M) taps, output channel c*M + m."""
    given = k.shape
    if k.ndim == 2:
        k = np.broadcast_to(k[:, :, None], (*k.shape, channels))
    if k.ndim == 3:
        k = k[:, :, :, None]
    if k.ndim != 4:
        raise ValueError(f"depthwise kernel must be (Kh, Kw), (Kh, Kw, C) or (Kh, Kw, C, M), got shape {given}")
    if k.shape[2] != channels:
        raise ValueError(
            f"depthwise kernel has {k.shape[2]} channels but the image has {channels}: "
            f"kernel shape {given}, image shape {image_shape}"
        )
    return k.reshape(k.shape[0], k.shape[1], -1)


def _pointwise_weights(weights: object, c_in: int, dtype: np.dtype, inputs: str) -> np.ndarray:
    """Pointwise weights as (C_in, C_out); (1, 1, C_in, C_out) Keras-style and (C_in,) are accepted."""
    wts = _as_kernel(weights, dtype, "pointwise weights")
    if wts.ndim == 4 and wts.shape[:2] == (1, 1):
        wts = wts[0, 0]
    if wts.ndim == 1 and wts.shape[0] == c_in:
        wts = wts[:, None]
    if wts.ndim != 2 or wts.shape[0] != c_in:
        raise ValueError(f"pointwise weights must be (C_in, C_out) with C_in = {c_in} ({inputs}), "
                         f"got shape {np.shape(weights)}")
    return wts
