"""Convolution operators in plain NumPy: the textbook loops first, then the fast ops.

Read this module like the lesson. Conventions (the same as Keras/TensorFlow, and PyTorch
with ``groups=C`` for depthwise):

* Images are channels-last ``(H, W, C)``; a 2-D image ``(H, W)`` is one channel and
  the result is then 2-D as well.
* Kernels are ``(Kh, Kw, C_in, C_out)`` for a standard convolution, ``(Kh, Kw, C)`` or
  ``(Kh, Kw, C, M)`` for a depthwise one (``M`` is the depth multiplier and output
  channel ``c * M + m`` comes from input channel ``c``), and ``(C_in, C_out)`` for a
  pointwise (1x1) one. A grouped convolution (``conv2d(..., groups=g)``, PyTorch's
  ``groups``) takes ``(Kh, Kw, C_in / g, C_out)``: ``g = 1`` is the standard one and
  ``g = C_in`` the depthwise one. Rectangular kernels (1xk, kx1, 2x5 ...) are allowed
  everywhere.
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

import os
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
    "MAX_BYTES",
    "memory_estimate",
    "format_bytes",
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
    n, k = _check_positive_int("n (the input length)", n), _check_positive_int("k (the kernel length)", k)
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
    h, w = _check_size(in_size)
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
    message = f"kernel size must be a positive integer or a pair (Kh, Kw) of them, got {kernel_size!r}"
    sizes = (kernel_size, kernel_size) if _is_int(kernel_size) else tuple(np.ravel(np.asarray(kernel_size, object)))
    if len(sizes) != 2 or not all(_is_int(v) and v >= 1 for v in sizes):
        raise ValueError(message)
    return int(sizes[0]), int(sizes[1])


def _check_size(in_size: object) -> tuple[int, int]:
    """(H, W) as positive Python ints, or a ValueError naming in_size."""
    try:
        h, w = in_size
    except (TypeError, ValueError):
        raise ValueError(f"in_size must be (H, W), got {in_size!r}") from None
    if not (_is_int(h) and _is_int(w) and h >= 1 and w >= 1):
        raise ValueError(f"in_size must be (H, W) with positive integers, got {in_size!r}")
    return int(h), int(w)


def _is_int(value: object) -> bool:
    """True for Python and NumPy integers (not bools, not floats such as 3.0)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


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
    padded = (img.shape[0] + rows.before + rows.after) * (img.shape[1] + cols.before + cols.after)
    _check_budget(img, (rows.out, cols.out), img.shape[2], padded * img.shape[2] * img.itemsize)  # no absurd np.pad
    return np.pad(img, ((rows.before, rows.after), (cols.before, cols.after), (0, 0)))


def conv2d_loop(
    image: np.ndarray, kernel: np.ndarray, *, stride: int = 1, padding: Padding = "same", dilation: int = 1,
    groups: int = 1,
) -> np.ndarray:
    """Textbook standard (or grouped) convolution, one output pixel at a time.

    image: (H, W, C_in); kernel: (Kh, Kw, C_in / groups, C_out). Returns (H', W', C_out).
    With ``groups = g`` (PyTorch's ``groups``) the channels are split into g groups:
    output channel o belongs to group ``o // (C_out / g)`` and sees only that group's
    C_in / g input channels. ``groups=1`` is the standard convolution.
    """
    kh, kw, c_group, c_out = kernel.shape
    out_per_group = c_out // groups
    h_out, w_out = output_size(image.shape[:2], (kh, kw), stride=stride, padding=padding, dilation=dilation)
    xp = _pad_loop(image, kh, kw, stride, padding, dilation)
    out = np.zeros((h_out, w_out, c_out), dtype=image.dtype)
    for y in range(h_out):
        for x in range(w_out):
            window = xp[y * stride : y * stride + dilation * (kh - 1) + 1 : dilation,
                        x * stride : x * stride + dilation * (kw - 1) + 1 : dilation]  # (Kh, Kw, C_in)
            for o in range(c_out):
                g = o // out_per_group  # the group of output channel o
                out[y, x, o] = np.sum(window[:, :, g * c_group : (g + 1) * c_group] * kernel[:, :, :, o])
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
    groups: int = 1,
) -> np.ndarray:
    """Standard 2-D convolution (cross-correlation) that mixes all input channels,
    or a grouped one (``groups`` > 1) that mixes channels only within each group.

    Parameters
    ----------
    image : (H, W, C_in) or (H, W) floating array.
    kernel : (Kh, Kw, C_in / groups, C_out); a 2-D (Kh, Kw) kernel is allowed for a 2-D image.
    stride, padding, dilation : see the module docstring.
    groups : g, dividing C_in and C_out (PyTorch's ``groups``): output channel o sees only
        the input channels of its group ``o // (C_out / g)``. 1 is the standard
        convolution; ``groups = C_in`` with ``C_out = M * C_in`` is the depthwise
        convolution with multiplier M (output channel ``c*M + m``, as PyTorch).

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
    g = _check_groups(groups, img.shape[2], k.shape[3])
    if k.shape[2] * g != img.shape[2]:
        if g == 1:
            raise _channel_mismatch("kernel expects", k.shape[2], img.shape[2], k.shape, np.shape(image))
        raise ValueError(
            f"kernel expects {k.shape[2]} input channels but the image has {img.shape[2]} / groups = "
            f"{img.shape[2] // g} per group: kernel shape {k.shape}, image shape {np.shape(image)}"
        )
    rows, cols, stride = _plan(img, k.shape[:2], stride, padding, dilation, k.shape[3])
    if g == 1:
        out = fast_conv.standard(img, k, stride, rows, cols, int(dilation))
    else:
        out = fast_conv.grouped(img, k, g, stride, rows, cols, int(dilation))
    return _finish(out, was_2d and k.shape[3] == 1)


def _check_groups(groups: object, c_in: int, c_out: int) -> int:
    g = _check_positive_int("groups", groups)
    if c_in % g or c_out % g:
        common = ", ".join(str(d) for d in range(1, c_in + 1) if c_in % d == 0 and c_out % d == 0)
        raise ValueError(f"groups = {g} must divide both C_in = {c_in} and C_out = {c_out}; "
                         f"choose a common divisor ({common})")
    return g


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
    rows, cols, stride = _plan(img, taps.shape[:2], stride, padding, dilation, taps.shape[2], taps.shape[2])
    src = img if m == 1 else np.repeat(img, m, axis=2)
    out = fast_conv.depthwise(src, taps, stride, rows, cols, int(dilation))
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
    wts = _pointwise_weights(weights, img.shape[2], img.dtype, "the image's channels", np.shape(image))
    _check_budget(img, img.shape[:2], wts.shape[1], 0)
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
    # the vertical pass pads only rows, the horizontal pass only columns
    rows, cols, _ = _plan(img, (col.shape[0], rw.shape[0]), 1, padding, 1, c)
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
    if _is_int(stride) and stride != 1:
        mid = depthwise_conv2d(image, depthwise_kernel, stride=stride, padding=padding, dilation=dilation)
        return pointwise_conv2d(mid, pointwise_weights)
    img, _ = _as_image(image)
    taps = _depthwise_taps(_as_kernel(depthwise_kernel, img.dtype, "depthwise kernel"), img.shape[2],
                           np.shape(image))
    m = taps.shape[2] // img.shape[2]
    wts = _pointwise_weights(pointwise_weights, taps.shape[2], img.dtype, "the depthwise outputs, C*M")
    rows, cols, _ = _plan(img, taps.shape[:2], stride, padding, dilation, wts.shape[1], taps.shape[2])
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
    """``kernel`` as a finite array of the image's dtype, or a ValueError saying what is wrong."""
    arr = np.asarray(kernel)
    if np.iscomplexobj(arr):
        raise ValueError(f"{what} is complex ({arr.dtype}, shape {arr.shape}); the convolutions here are real: "
                         "pass kernel.real if the imaginary part is meant to be zero")
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise ValueError(f"{what} must be numeric, got dtype {arr.dtype} (shape {arr.shape})")
    if arr.size == 0:
        raise ValueError(f"{what} is empty, shape {arr.shape}")
    if np.issubdtype(arr.dtype, np.floating) and not np.all(np.isfinite(arr)):
        raise ValueError(f"{what} contains NaN or infinity (shape {arr.shape}); use finite numbers")
    if arr.dtype == dtype:  # already checked above: no second pass (1M weights: 0.07 ms)
        return arr
    with np.errstate(over="ignore"):
        cast = arr.astype(dtype, copy=False)
    if not np.all(np.isfinite(cast)):
        biggest = float(np.max(np.abs(arr.astype(np.float64))))
        raise ValueError(f"{what} has values up to {biggest:.3g}, beyond the range of {np.dtype(dtype)} "
                         f"(the image's dtype, largest {float(np.finfo(dtype).max):.3g}); scale the kernel down "
                         "or use a float64 image")
    return cast


def _channel_mismatch(what: str, kernel_channels: int, channels: int, kernel_shape: tuple[int, ...],
                      image_shape: tuple[int, ...]) -> ValueError:
    """The error for a kernel whose channel count does not match the image's last axis.

    what: "depthwise kernel has" or "kernel expects", followed by the kernel's channels.
    """
    kind = "input channels" if "expects" in what else "channels"
    message = (f"{what} {kernel_channels} {kind} but the image has {channels}: "
               f"kernel shape {tuple(kernel_shape)}, image shape {tuple(image_shape)}")
    if len(image_shape) == 3 and image_shape[0] == kernel_channels != image_shape[2]:
        message += ("; images are channels-last (H, W, C) and this one looks channels-first (C, H, W): "
                    "use image.transpose(1, 2, 0)")
    return ValueError(message)


def _physical_memory() -> int:
    """Bytes of RAM in this machine (16 GiB when the system does not say)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return 16 * 2**30


#: The most memory, in bytes, that one fast op may plan to use (its output plus the
#: padded rows the engine works on). A call beyond it raises ValueError at once instead
#: of starting an allocation that cannot succeed. Default: this machine's RAM.
MAX_BYTES = _physical_memory()


def format_bytes(n: float) -> str:
    """12_345_678 -> '11.8 MiB' (powers of 1024)."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} PiB"  # pragma: no cover - unreachable


def memory_estimate(image_shape: tuple[int, ...], kernel_size: tuple[int, int], out_channels: int,
                    dtype: np.dtype = np.float64, *, stride: int = 1, padding: Padding = "same",
                    dilation: int = 1, work_channels: int | None = None) -> tuple[int, int]:
    """Bytes a fast op needs: (output, working rows), before it allocates anything.

    image_shape: (H, W, C); out_channels: C_out; work_channels: the channels the engine
    filters (C * M for a depthwise op with multiplier M; default C). The working part
    is the padded rows under one output row (and the repeated image when M > 1).
    """
    h, w, c = (int(v) for v in image_shape)
    kh, kw = _pair(kernel_size)
    rows = pad_amounts(h, kh, stride=stride, padding=padding, dilation=dilation)
    cols = pad_amounts(w, kw, stride=stride, padding=padding, dilation=dilation)
    item = np.dtype(dtype).itemsize
    out = max(rows.out, 0) * max(cols.out, 0) * int(out_channels) * item
    return out, _working_bytes((h, w, c), kh, rows, cols, stride, dilation, item, work_channels)


def _working_bytes(image_shape: tuple[int, int, int], kh: int, rows: PadAmounts, cols: PadAmounts, stride: int,
                   dilation: int, item: int, work_channels: int | None) -> int:
    """The working part of :func:`memory_estimate`, from the padding already worked out."""
    h, w, c = image_shape
    if rows.out == 1 and cols.out == 1:
        stride = 1  # one output pixel: the ops then work with stride 1 (see _plan)
    work = c if work_channels is None else int(work_channels)
    span_h = dilation * (kh - 1) + 1
    padded = (span_h + stride) * (w + cols.before + cols.after) * work * item
    if work > c:
        padded += h * w * work * item
    return padded


def _check_budget(img: np.ndarray, out_size: tuple[int, int], out_channels: int, padded: int) -> None:
    """Refuse a call whose output and working rows would not fit in :data:`MAX_BYTES`."""
    out = out_size[0] * out_size[1] * int(out_channels) * img.itemsize
    if out + padded > MAX_BYTES:
        raise ValueError(
            f"this call would need about {format_bytes(out + padded)} of memory (output "
            f"({out_size[0]}, {out_size[1]}, {out_channels}) {img.dtype}: {format_bytes(out)}; padded rows: "
            f"{format_bytes(padded)}), more than helpers.conv.MAX_BYTES = {format_bytes(MAX_BYTES)}; "
            "use a smaller image, padding, dilation or stride"
        )


def _plan(img: np.ndarray, kernel_size: tuple[int, int], stride: int, padding: Padding, dilation: int,
          out_channels: int, work_channels: int | None = None) -> tuple[PadAmounts, PadAmounts, int]:
    """Check the arguments (with :func:`output_size`'s message) and the memory they need.

    Returns the padding of (rows, cols) of the (H, W, C) image and the stride to use.
    """
    (h, w), (kh, kw) = img.shape[:2], kernel_size
    # the padding of each axis, worked out once (this runs on every call: a small layer
    # takes well under a millisecond, so tens of microseconds of checks showed)
    rows = pad_amounts(h, kh, stride=stride, padding=padding, dilation=dilation)
    cols = pad_amounts(w, kw, stride=stride, padding=padding, dilation=dilation)
    if rows.out <= 0 or cols.out <= 0:
        output_size((h, w), (kh, kw), stride=stride, padding=padding, dilation=dilation)  # raises, saying why
    if rows.out == 1 and cols.out == 1:
        stride = 1  # one output pixel: the stride changes nothing (a huge one would only size buffers)
    padded = _working_bytes(img.shape, kh, rows, cols, int(stride), int(dilation), img.itemsize, work_channels)
    _check_budget(img, (rows.out, cols.out), out_channels, padded)
    return rows, cols, int(stride)


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
        raise _channel_mismatch("depthwise kernel has", k.shape[2], channels, given, image_shape)
    return k.reshape(k.shape[0], k.shape[1], -1)


def _pointwise_weights(weights: object, c_in: int, dtype: np.dtype, inputs: str,
                       image_shape: tuple[int, ...] | None = None) -> np.ndarray:
    """Pointwise weights as (C_in, C_out); (1, 1, C_in, C_out) Keras-style and (C_in,) are accepted."""
    wts = _as_kernel(weights, dtype, "pointwise weights")
    if wts.ndim == 4 and wts.shape[:2] == (1, 1):
        wts = wts[0, 0]
    if wts.ndim == 1 and wts.shape[0] == c_in:
        wts = wts[:, None]
    if wts.ndim != 2 or wts.shape[0] != c_in:
        message = (f"pointwise weights must be (C_in, C_out) with C_in = {c_in} ({inputs}), "
                   f"got shape {np.shape(weights)}")
        if image_shape is not None and len(image_shape) == 3 and wts.ndim == 2 and image_shape[0] == wts.shape[0]:
            message += ("; images are channels-last (H, W, C) and this one looks channels-first (C, H, W): "
                        "use image.transpose(1, 2, 0)")
        raise ValueError(message)
    return wts
