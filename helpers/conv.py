"""Convolution operators in plain NumPy: the textbook loops and the fast versions.

Conventions (the same as Keras/TensorFlow, and PyTorch with ``groups=C``):

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
  bottom/right) or a non-negative int (that many zeros on every side). ``stride`` and
  ``dilation`` are positive ints.
* The result has the image's floating dtype (float32 stays float32, float64 stays
  float64); kernels are cast to it. Integer images are refused: convert them with
  :func:`helpers.images.to_float` first, so that no op rescales data behind your back.

The fast versions never build a whole-image im2col matrix or a sliding-window tensor
that grows with ``K**2``. They walk the output in blocks of rows and see every kernel
offset ``(i, j)`` as the padded row block shifted by ``i`` rows and ``j`` pixels: a
strided *view*, no copy. For depthwise-style ops ``np.einsum`` sums those views times
the taps in one multiply-accumulate sweep per tap over long contiguous rows (a stride
s > 1 first sorts each block's pixels by phase, x mod s, so the taps stay contiguous
views). Channel mixing is a matrix multiply handed to BLAS (the vertical pass of a
separable filter shared by all channels is BLAS too, one matrix-vector product per
output row); a standard convolution with few input channels gathers the patches of
one block of 4096 pixels (a few MB) for one matrix multiply per block. The blocks and
other temporaries live in a small per-thread workspace that the next call reuses
(about one block per kind, at most 32 MB each), so only the result is fresh memory.
"""

from __future__ import annotations

import math
import threading
from typing import NamedTuple

import numpy as np

__all__ = [
    "Padding",
    "output_size",
    "pad_amounts",
    "conv2d",
    "depthwise_conv2d",
    "pointwise_conv2d",
    "spatial_separable_conv2d",
    "depthwise_separable_conv2d",
    "correlate2d_loop",
    "conv2d_loop",
    "depthwise_conv2d_loop",
    "pointwise_conv2d_loop",
]

Padding = str | int

# Bytes of one row-block array for the ops that still need a temporary per tap (the
# standard conv's per-tap matmuls, strided depthwise): the padded input rows, the
# accumulator and the temporary should stay inside a 1 MB L2 cache.
_BLOCK_BYTES = 256 * 1024
# Bytes of padded input rows per block for the multiply-accumulate ops (stride-1
# depthwise, spatial separable, fused depthwise-separable). np.einsum walks the taps
# of one output row while that row sits in L1, so a block only has to amortise the
# per-block work (one padded copy, a few Python calls): larger is better, up to the
# point where the block no longer stays in L2 (measured: 256 KB -> 768 KB is 10-20 %
# faster, 2 MB is slower again).
_TAP_BLOCK_BYTES = 768 * 1024


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


def _finish(out: np.ndarray, was_2d: bool) -> np.ndarray:
    return out[:, :, 0] if was_2d and out.shape[2] == 1 else out


# ----------------------------------------------------------------- the fast engine
# Temporaries (padded row blocks, intermediate rows) come from a small per-thread
# workspace that lives across calls: fresh memory costs a page fault per 4 KB page the
# first time it is written, and the C library hands large blocks back to the operating
# system when they are freed -- so allocating them anew in every call made the same
# call up to 4x slower, depending on what the program had allocated before (measured).
# Buffers above this size are not kept.
_WORKSPACE_MAX_BYTES = 32 * 2**20
_workspace_local = threading.local()


def _workspace(name: str, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """An uninitialised (shape) array of ``dtype`` for temporaries of one purpose.

    The same memory is handed out again on the next call with the same ``name`` (in
    the same thread), so a caller must be done with it before asking again.
    """
    dtype = np.dtype(dtype)
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes > _WORKSPACE_MAX_BYTES:
        return np.empty(shape, dtype)
    buffers = _workspace_local.__dict__.setdefault("buffers", {})
    buf = buffers.get(name)
    if buf is None or buf.nbytes < nbytes:
        buf = buffers[name] = np.empty(max(nbytes, 64), np.uint8)
    return buf[:nbytes].view(dtype).reshape(shape)


def _release_workspace() -> None:
    """Forget this thread's workspace (the next call allocates it afresh)."""
    _workspace_local.__dict__.pop("buffers", None)


def _padded_rows(img: np.ndarray, r_lo: int, r_hi: int, rows: PadAmounts, cols: PadAmounts) -> np.ndarray:
    """Input rows ``r_lo:r_hi`` in *padded* coordinates, zero-filled outside the image.

    img: (H, W, C). Returns (r_hi - r_lo, W + cols.before + cols.after, C), a view of
    the workspace that is valid until the next call.
    """
    h, w, c = img.shape
    buf = _workspace("padded rows", (r_hi - r_lo, w + cols.before + cols.after, c), img.dtype)
    src_lo, src_hi = max(r_lo - rows.before, 0), min(r_hi - rows.before, h)
    first, last = src_lo + rows.before - r_lo, src_hi + rows.before - r_lo  # the image rows in buf
    if src_hi <= src_lo:
        buf[:] = 0
        return buf
    if first:
        buf[:first] = 0
    if last < buf.shape[0]:
        buf[last:] = 0
    if cols.before:
        buf[first:last, : cols.before] = 0
    if cols.after:
        buf[first:last, cols.before + w :] = 0
    buf[first:last, cols.before : cols.before + w] = img[src_lo:src_hi]
    return buf


def _block_rows(row_elements: int, dtype: np.dtype, h_out: int, block_bytes: int = _BLOCK_BYTES) -> int:
    """How many output rows of ``row_elements`` values make one block of ``block_bytes``."""
    return max(1, min(h_out, block_bytes // max(1, row_elements * np.dtype(dtype).itemsize)))


def _tile_taps(taps: np.ndarray, width: int, name: str = "tiles") -> np.ndarray:
    """The weights of :func:`_tap_sum` for (Kh, Kw, C) taps and output rows of ``width`` pixels.

    If every channel has the same filter (a 2-D kernel, a 1-D separable filter, or just
    equal values) the result is the (Kh, Kw) scalars. Otherwise it is (Kh, Kw, width*C):
    each tap repeated along a row, so that a tap multiplies one long contiguous row
    instead of broadcasting a tiny channel axis.
    """
    kh, kw, c = taps.shape
    if c == 1 or bool((taps == taps[:, :, :1]).all()):
        return np.ascontiguousarray(taps[:, :, 0])
    tiles = _workspace(name, (kh, kw, width, c), taps.dtype)  # ``name``: see _workspace
    tiles[...] = taps[:, :, None, :]
    return tiles.reshape(kh, kw, width * c)


def _shifted_rows(flat: np.ndarray, shape: tuple[int, int, int, int], steps: tuple[int, int, int],
                  offset: int = 0) -> np.ndarray:
    """A read-only view ``v[i, j, r, q] = flat[offset + i*steps[0] + j*steps[1] + r*steps[2] + q]``.

    flat: 1-D contiguous; shape: (Kh, Kw, rows, length). Every tap (i, j) of a row block
    is a shifted copy-free window on the same buffer; nothing K**2-sized is allocated.
    """
    it = flat.itemsize
    # np.ndarray over the buffer rather than as_strided: it refuses a view that would
    # reach outside the buffer, and it is 3x cheaper (this runs once per block).
    view = np.ndarray(shape, flat.dtype, buffer=flat, offset=offset * it,
                      strides=(steps[0] * it, steps[1] * it, steps[2] * it, it))
    view.flags.writeable = False
    return view


def _tap_sum(view: np.ndarray, weights: np.ndarray, out: np.ndarray) -> np.ndarray:
    """out[r, q] = sum over taps (i, j) of view[i, j, r, q] * weights[i, j(, q)].

    view: (Kh, Kw, rows, L) from :func:`_shifted_rows`; weights: (Kh, Kw) or (Kh, Kw, L)
    from :func:`_tile_taps`; out: (rows, L). ``np.einsum`` runs this as one
    multiply-accumulate pass per tap over a contiguous row of length L (its inner
    loop): about 1.7x faster than the multiply pass plus add pass per tap that ufuncs
    need (NumPy has no fused multiply-add), and scalar weights are faster again (one
    stream fewer to read).
    """
    return np.einsum("ijrq,ij->rq" if weights.ndim == 2 else "ijrq,ijq->rq", view, weights, out=out)


def _depthwise_rows(img: np.ndarray, tiles: np.ndarray, rows: PadAmounts, cols: PadAmounts, dilation: int,
                    y0: int, out: np.ndarray) -> np.ndarray:
    """Stride-1 depthwise output rows ``y0 .. y0 + n`` into ``out``: (n, W'*C).

    img: (H, W, C); tiles: (Kh, Kw) or (Kh, Kw, W'*C) from :func:`_tile_taps`. The
    padded input rows of the block are gathered once; tap (i, j) is then the block
    shifted by i*d rows and j*d pixels, a view.
    """
    c = img.shape[2]
    kh, kw = tiles.shape[:2]
    n, length = out.shape
    block = _padded_rows(img, y0, y0 + n + dilation * (kh - 1), rows, cols)
    row_len = block.shape[1] * c
    view = _shifted_rows(block.reshape(-1), (kh, kw, n, length), (dilation * row_len, dilation * c, row_len))
    return _tap_sum(view, tiles, out)


def _phase_taps(taps: np.ndarray, stride: int, w_out: int) -> np.ndarray:
    """(Kh, Kw, C) taps regrouped for :func:`_depthwise_strided_rows`: tap j = m*s + ph at [i, ph, m].

    Returns (Kh, s, M) scalars or (Kh, s, M, W'*C) tiles, as :func:`_tile_taps` does;
    M = ceil(Kw / s), and the taps m*s + ph >= Kw that complete the grid are zero.
    """
    kh, kw, c = taps.shape
    m_taps = -(-kw // stride)
    grid = np.zeros((kh, stride * m_taps, c), taps.dtype)
    grid[:, :kw] = taps
    grid = grid.reshape(kh, m_taps, stride, c).transpose(0, 2, 1, 3).reshape(kh, stride * m_taps, c)
    tiles = _tile_taps(grid, w_out)
    return tiles.reshape(kh, stride, m_taps, *tiles.shape[2:])


def _depthwise_strided_rows(img: np.ndarray, weights: np.ndarray, stride: int, rows: PadAmounts,
                            cols: PadAmounts, y0: int, out: np.ndarray) -> np.ndarray:
    """Depthwise output rows ``y0 .. y0 + n`` for a stride s > 1 (dilation 1) into ``out``: (n, W'*C).

    img: (H, W, C); weights: from :func:`_phase_taps`. Output pixel x reads input
    pixels x*s + j. The padded rows of the block are copied once with their pixels
    sorted by phase (x mod s): ``buf[row, ph, q] = padded[row, q*s + ph]``. Tap
    j = m*s + ph is then phase ph shifted by m pixels, every output row of a tap is
    contiguous, and one ``np.einsum`` over a (Kh, s, M, rows, W'*C) view adds up all
    the taps, as the stride-1 engine does.
    """
    _, w, c = img.shape
    kh, _, m_taps = weights.shape[:3]
    n, length = out.shape
    w_out = length // c
    wq = max(-(-(w + cols.before + cols.after) // stride), w_out + m_taps - 1)  # pixels per phase
    padded = _padded_rows(img, y0 * stride, (y0 + n - 1) * stride + kh, rows, cols)
    buf = _workspace("phases", (padded.shape[0], stride, wq, c), img.dtype)
    for ph in range(stride):
        part = padded[:, ph::stride]
        buf[:, ph, : part.shape[1]] = part
        buf[:, ph, part.shape[1] :] = 0  # read only by the zero taps that complete the grid
    row, it = stride * wq * c, img.itemsize
    view = np.ndarray((kh, stride, m_taps, n, length), img.dtype, buffer=buf.reshape(-1),
                      strides=(row * it, wq * c * it, c * it, stride * row * it, it))
    view.flags.writeable = False
    return np.einsum("iamrq,iam->rq" if weights.ndim == 3 else "iamrq,iamq->rq", view, weights, out=out)


def _depthwise_fast(img: np.ndarray, taps: np.ndarray, stride: int, rows: PadAmounts, cols: PadAmounts,
                    dilation: int = 1) -> np.ndarray:
    """img: (H, W, C); taps: (Kh, Kw, C) -- one filter per channel. Returns (H', W', C).

    ``rows``/``cols`` are the padding of each axis (from :func:`pad_amounts`). Stride 1
    writes each cache-sized block of output rows straight from :func:`_depthwise_rows`,
    a larger stride from :func:`_depthwise_strided_rows`; only a stride combined with a
    dilation gathers each tap's strided slice from a zero-padded block of rows.
    """
    _, w, c = img.shape
    kh, kw, _ = taps.shape
    h_out, w_out = rows.out, cols.out
    out = np.empty((h_out, w_out, c), dtype=img.dtype)
    flat_out = out.reshape(h_out, w_out * c)
    if stride == 1:
        tiles = _tile_taps(taps, w_out)
        step = _block_rows((w + cols.before + cols.after) * c, img.dtype, h_out, _TAP_BLOCK_BYTES)
        for y0 in range(0, h_out, step):
            _depthwise_rows(img, tiles, rows, cols, dilation, y0, flat_out[y0 : y0 + step])
        return out
    if dilation == 1:
        weights = _phase_taps(taps, stride, w_out)
        step = _block_rows((w + cols.before + cols.after) * c * stride, img.dtype, h_out, _TAP_BLOCK_BYTES)
        for y0 in range(0, h_out, step):
            _depthwise_strided_rows(img, weights, stride, rows, cols, y0, flat_out[y0 : y0 + step])
        return out
    tiles = _tile_taps(taps, w_out)
    step = _block_rows(w_out * c, img.dtype, h_out)
    tmp = _workspace("tap products", (step, w_out * c), img.dtype)
    for y0 in range(0, h_out, step):
        y1 = min(y0 + step, h_out)
        n = y1 - y0
        block = _padded_rows(img, y0 * stride, (y1 - 1) * stride + dilation * (kh - 1) + 1, rows, cols)
        acc, t = flat_out[y0:y1], tmp[:n]
        for i in range(kh):
            for j in range(kw):
                part = block[i * dilation : i * dilation + (n - 1) * stride + 1 : stride]
                part = part[:, j * dilation : j * dilation + (w_out - 1) * stride + 1 : stride]
                part = part.reshape(n, w_out * c)  # strided: this reshape gathers
                if i == 0 and j == 0:
                    np.multiply(part, tiles[0, 0], out=acc)
                else:
                    np.multiply(part, tiles[i, j], out=t)
                    acc += t
    return out


def _separable_fast(img: np.ndarray, col_taps: np.ndarray, row_taps: np.ndarray, rows: PadAmounts,
                    cols: PadAmounts) -> np.ndarray:
    """img: (H, W, C); col_taps: (Kh,) or (Kh, C); row_taps: (Kw,) or (Kw, C). Returns (H', W', C).

    Fused by row blocks: the Kx1 pass turns a block of input rows into a block of
    intermediate rows (kept in cache), and the 1xK pass turns that into output rows at
    once, so the intermediate image never exists in full. The Kx1 pass reads the image
    itself (only the first and last blocks, which reach into the zero rows, are
    copied) and writes between the zero columns of the intermediate, which the 1xK
    pass then reads. The 1xK pass is :func:`_tap_sum` over shifted views. So is the
    Kx1 pass when the channels have different filters; when they share one, each
    intermediate row is the filter (a vector) times the Kh input rows under it (a
    matrix), and one ``np.matmul`` over a view of overlapping Kh-row windows makes
    all of a block's rows as BLAS matrix-vector products (FMA, one pass per row).
    """
    h, w, c = img.shape
    kh, kw = col_taps.shape[0], row_taps.shape[0]
    h_out, w_out = rows.out, cols.out
    row_len, width = w * c, (w + cols.before + cols.after) * c
    out = np.empty((h_out, w_out, c), dtype=img.dtype)
    flat_out = out.reshape(h_out, w_out * c)
    # 1-D filters (one for every channel) are scalar taps already
    col_tiles = (col_taps.reshape(kh, 1) if col_taps.ndim == 1
                 else _tile_taps(col_taps.reshape(kh, 1, c), w, "column tiles"))
    row_tiles = (row_taps.reshape(1, kw) if row_taps.ndim == 1
                 else _tile_taps(row_taps.reshape(1, kw, c), w_out, "row tiles"))
    vector = col_tiles.reshape(1, kh) if col_tiles.ndim == 2 else None
    step = _block_rows(width, img.dtype, h_out, _TAP_BLOCK_BYTES)
    mid = _workspace("intermediate rows", (step, width), img.dtype)
    mid[:, : cols.before * c] = 0  # the padding columns stay zero
    mid[:, cols.before * c + row_len :] = 0
    inside = mid[:, cols.before * c : cols.before * c + row_len]
    src = np.ascontiguousarray(img).reshape(-1)
    it = img.itemsize
    for y0 in range(0, h_out, step):
        n = min(step, h_out - y0)
        top = y0 - rows.before
        if 0 <= top and top + n + kh - 1 <= h:
            block, offset = src, top * row_len
        else:  # the first and last blocks reach into the zero rows above or below the image
            block, offset = _padded_rows(img, y0, y0 + n + kh - 1, rows, PadAmounts(0, 0, w)).reshape(-1), 0
        # Kx1 down the columns
        if vector is not None:  # window r = input rows r .. r+kh-1 of the block, a (kh, row_len) matrix
            windows = np.ndarray((n, kh, row_len), img.dtype, buffer=block, offset=offset * it,
                                 strides=(row_len * it, row_len * it, it))
            windows.flags.writeable = False
            np.matmul(vector, windows, out=inside[:n].reshape(n, 1, row_len))
        else:
            _tap_sum(_shifted_rows(block, (kh, 1, n, row_len), (row_len, 0, row_len), offset), col_tiles,
                     inside[:n])
        _tap_sum(_shifted_rows(mid.reshape(-1), (1, kw, n, w_out * c), (0, c, width)), row_tiles,
                 flat_out[y0 : y0 + n])  # 1xK along the rows
    return out


# Below this many values per patch (Kh*Kw*C_in) a standard convolution gathers the
# patches of one row block and makes a single matrix multiply; above it, one matmul
# per kernel tap is already large enough for BLAS to run at full speed.
_SMALL_PATCH = 256
_PATCH_PIXELS = 4096


def _standard_patches(img: np.ndarray, kernel: np.ndarray, rows: PadAmounts, cols: PadAmounts, dilation: int,
                      out: np.ndarray) -> np.ndarray:
    """Stride-1 standard convolution for few input channels (RGB, say), into ``out``.

    Per row block: the padded rows go to planar layout (C_in, rows*W_pad); for every tap
    the C_in channel rows shifted by that tap are copied, contiguous, into a patch
    matrix (Kh*Kw*C_in, N) -- bounded by the block, never the whole image -- and one
    matrix multiply (C_out, Kh*Kw*C_in) @ (Kh*Kw*C_in, N) gives every output channel.
    """
    h, w, c_in = img.shape
    kh, kw, _, c_out = kernel.shape
    h_out, w_out = rows.out, cols.out
    w_pad = w + cols.before + cols.after
    patch = kh * kw * c_in
    weights = np.ascontiguousarray(kernel.reshape(patch, c_out).T)  # row o: all taps and channels
    # enough pixels per block for an efficient matmul; the patch matrix stays a few MB
    step = max(1, min(h_out, _PATCH_PIXELS // w_pad))
    patches = _workspace("patches", (patch, step * w_pad), img.dtype)
    result = _workspace("products", (c_out, step * w_pad), img.dtype)
    starts = [i * dilation * w_pad + j * dilation for i in range(kh) for j in range(kw)]
    for y0 in range(0, h_out, step):
        n = min(step, h_out - y0)
        size = n * w_pad
        block = _padded_rows(img, y0, y0 + n + dilation * (kh - 1) + 1, rows, cols)
        pl = _workspace("planar rows", (c_in, block.shape[0] * w_pad), img.dtype)  # (C_in, rows * W_pad)
        pl[...] = block.reshape(-1, c_in).T
        p = patches[:, :size]
        for t, start in enumerate(starts):
            p[t * c_in : (t + 1) * c_in] = pl[:, start : start + size]
        r = result[:, :size]
        np.matmul(weights, p, out=r)
        out[y0 : y0 + n] = r.reshape(c_out, n, w_pad)[:, :, :w_out].transpose(1, 2, 0)
    return out


def _standard_fast(
    img: np.ndarray, kernel: np.ndarray, stride: int, padding: Padding, dilation: int
) -> np.ndarray:
    """img: (H, W, C_in); kernel: (Kh, Kw, C_in, C_out). Returns (H', W', C_out).

    For stride 1 each kernel offset is one BLAS matmul of a *contiguous* slice of the
    flattened padded row block (computed over the full padded width; the few extra
    columns are dropped) with the (C_in, C_out) tap matrix.
    """
    h, w, c_in = img.shape
    kh, kw, _, c_out = kernel.shape
    rows = pad_amounts(h, kh, stride=stride, padding=padding, dilation=dilation)
    cols = pad_amounts(w, kw, stride=stride, padding=padding, dilation=dilation)
    h_out, w_out = output_size((h, w), (kh, kw), stride=stride, padding=padding, dilation=dilation)
    out = np.empty((h_out, w_out, c_out), dtype=img.dtype)
    w_pad = w + cols.before + cols.after
    if stride == 1 and c_in * kh * kw <= _SMALL_PATCH:
        return _standard_patches(img, kernel, rows, cols, dilation, out)
    if stride == 1:
        # Rows are computed over all w_pad columns (the last few are dropped), so that
        # the input of every tap is one contiguous slice of the flattened block.
        step = _block_rows(w_pad * max(c_in, c_out), img.dtype, h_out)
        acc = _workspace("accumulator", (step * w_pad, c_out), img.dtype)
        tmp = _workspace("tap products", (step * w_pad, c_out), img.dtype)
        for y0 in range(0, h_out, step):
            y1 = min(y0 + step, h_out)
            n = y1 - y0
            # one spare row so the last tap's slice stays inside the buffer
            flat = _padded_rows(img, y0, y1 + dilation * (kh - 1) + 1, rows, cols).reshape(-1, c_in)
            a, t = acc[: n * w_pad], tmp[: n * w_pad]
            for i in range(kh):
                for j in range(kw):
                    start = i * dilation * w_pad + j * dilation
                    src = flat[start : start + n * w_pad]
                    if i == 0 and j == 0:
                        np.matmul(src, kernel[0, 0], out=a)
                    else:
                        np.matmul(src, kernel[i, j], out=t)
                        a += t
            out[y0:y1] = a.reshape(n, w_pad, c_out)[:, :w_out]
        return out
    step = _block_rows(w_out * max(c_in, c_out), img.dtype, h_out)
    for y0 in range(0, h_out, step):
        y1 = min(y0 + step, h_out)
        n = y1 - y0
        block = _padded_rows(img, y0 * stride, (y1 - 1) * stride + dilation * (kh - 1) + 1, rows, cols)
        acc = np.zeros((n * w_out, c_out), dtype=img.dtype)
        for i in range(kh):
            for j in range(kw):
                src = block[i * dilation : i * dilation + (n - 1) * stride + 1 : stride]
                src = src[:, j * dilation : j * dilation + (w_out - 1) * stride + 1 : stride]
                acc += src.reshape(-1, c_in) @ kernel[i, j]
        out[y0:y1] = acc.reshape(n, w_out, c_out)
    return out


# ---------------------------------------------------------------------- public ops
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
    out = _standard_fast(img, k, _check_positive_int("stride", stride), _check_padding(padding),
                         _check_positive_int("dilation", dilation))
    return _finish(out, was_2d and k.shape[3] == 1)


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
    (h, w), (kh, kw) = img.shape[:2], taps.shape[:2]
    output_size((h, w), (kh, kw), stride=stride, padding=padding, dilation=dilation)  # validates all arguments
    rows = pad_amounts(h, kh, stride=stride, padding=padding, dilation=dilation)
    cols = pad_amounts(w, kw, stride=stride, padding=padding, dilation=dilation)
    out = _depthwise_fast(src, taps, int(stride), rows, cols, int(dilation))
    return _finish(out, was_2d)


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
    out = _separable_fast(img, col, rw, rows, cols)
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
    (h, w), (kh, kw) = img.shape[:2], taps.shape[:2]
    h_out, w_out = output_size((h, w), (kh, kw), padding=padding, dilation=dilation)
    rows = pad_amounts(h, kh, padding=padding, dilation=dilation)
    cols = pad_amounts(w, kw, padding=padding, dilation=dilation)
    src = img if m == 1 else np.repeat(img, m, axis=2)
    out = np.empty((h_out, w_out, wts.shape[1]), dtype=img.dtype)
    # Fused by row blocks: each block of depthwise rows is mixed by one matmul while it
    # is still in cache, so the (H', W', C*M) intermediate never exists in full.
    c_mid, c_out = wts.shape
    flat_out = out.reshape(h_out * w_out, c_out)
    tiles = _tile_taps(taps, w_out)
    step = _block_rows((w + cols.before + cols.after) * c_mid, img.dtype, h_out, _TAP_BLOCK_BYTES)
    mid = _workspace("intermediate rows", (step, w_out * c_mid), img.dtype)
    for y0 in range(0, h_out, step):
        n = min(step, h_out - y0)
        _depthwise_rows(src, tiles, rows, cols, dilation, y0, mid[:n])
        np.matmul(mid[:n].reshape(n * w_out, c_mid), wts, out=flat_out[y0 * w_out : (y0 + n) * w_out])
    return out


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
