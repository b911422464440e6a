"""The fast engine behind :mod:`helpers.conv`: blocked NumPy convolutions.

You do not need this module to follow the series -- :mod:`helpers.conv` has the ops,
their loop references and the conventions. This is how those ops are made fast
without leaving NumPy (tests/test_conv.py checks every path against the loops):

* No whole-image im2col matrix and no sliding-window tensor that grows with ``K**2``.
  The output is walked in blocks of rows, and every kernel offset ``(i, j)`` is the
  padded row block shifted by ``i`` rows and ``j`` pixels: a strided *view*, no copy.
* Depthwise-style ops: ``np.einsum`` sums those views times the taps in one
  multiply-accumulate sweep per tap over long contiguous rows (a stride s > 1 first
  sorts each block's pixels by phase, x mod s, so the taps stay contiguous views;
  with 256 channels or more the taps are strided views of the padded rows instead,
  each pixel's C channels long enough to need no sorting).
* Channel mixing is a matrix multiply handed to BLAS. The vertical pass of a separable
  filter shared by all channels is BLAS too, one matrix-vector product per output row;
  a standard convolution with few input channels gathers the patches of one block of
  8192 pixels (a few MB) for one matrix multiply per block.
* The blocks and other temporaries live in a small per-thread workspace that the next
  call reuses (about one block per kind, at most 32 MB each), so only the result is
  fresh memory.

Every function takes already-checked arguments: a floating (H, W, C) image, taps of
its dtype, and the padding of each axis as ``PadAmounts(before, after, out)`` from
:func:`helpers.conv.pad_amounts`.
"""

from __future__ import annotations

import math
import threading
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .conv import PadAmounts

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
# The same for the phase-sorted rows of a strided depthwise convolution: there the
# fixed cost per block (the phase copies, an einsum over the whole phase grid) weighs more, and
# larger blocks are faster even though they leave L2 (measured, 3x3 stride 2: 3 MB
# instead of 768 KB is 7-12 % faster at 112x112x64 and 56x56x128, 2-8 % faster or
# equal at 512x512x3, 1024x1024x3 and 256x256x64).
_PHASE_BLOCK_BYTES = 3 * 2**20

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


def _padded_rows(img: np.ndarray, r_lo: int, r_hi: int, rows: PadAmounts, cols: PadAmounts,
                 planar: bool = False) -> np.ndarray:
    """Input rows ``r_lo:r_hi`` in *padded* coordinates, zero-filled outside the image.

    img: (H, W, C). Returns (r_hi - r_lo, W + cols.before + cols.after, C), a view of
    the workspace that is valid until the next call; with ``planar`` the same values laid
    out (C, r_hi - r_lo, W + cols.before + cols.after), every channel's padded rows one
    after the other, gathered straight from the channels-last image.
    """
    h, w, c = img.shape
    shape = (r_hi - r_lo, w + cols.before + cols.after, c)
    if planar:
        out = _workspace("planar rows", (c, *shape[:2]), img.dtype)
        buf = out.transpose(1, 2, 0)  # written through a channels-last view of it
    else:
        out = buf = _workspace("padded rows", shape, img.dtype)
    src_lo, src_hi = max(r_lo - rows.before, 0), min(r_hi - rows.before, h)
    first, last = src_lo + rows.before - r_lo, src_hi + rows.before - r_lo  # the image rows in buf
    if src_hi <= src_lo:
        buf[:] = 0
        return out
    if first:
        buf[:first] = 0
    if last < buf.shape[0]:
        buf[last:] = 0
    if cols.before:
        buf[first:last, : cols.before] = 0
    if cols.after:
        buf[first:last, cols.before + w :] = 0
    buf[first:last, cols.before : cols.before + w] = img[src_lo:src_hi]
    return out


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
    pixels x*s + j. The block's rows are copied once, straight from the image (zeros
    where the padding is), with their pixels sorted by phase (x mod s):
    ``buf[row, ph, q] = padded[row, q*s + ph]``. Tap
    j = m*s + ph is then phase ph shifted by m pixels, every output row of a tap is
    contiguous, and one ``np.einsum`` over a (Kh, s, M, rows, W'*C) view adds up all
    the taps, as the stride-1 engine does.
    """
    _, w, c = img.shape
    kh, _, m_taps = weights.shape[:3]
    n, length = out.shape
    w_out = length // c
    wq = max(-(-(w + cols.before + cols.after) // stride), w_out + m_taps - 1)  # pixels per phase
    h = img.shape[0]
    r_lo, r_hi = y0 * stride, (y0 + n - 1) * stride + kh  # the block's rows, in padded coordinates
    buf = _workspace("phases", (r_hi - r_lo, stride, wq, c), img.dtype)
    # straight from the image, no padded copy first: rows and columns outside it are zeros
    src_lo, src_hi = max(r_lo - rows.before, 0), min(r_hi - rows.before, h)
    src_hi = max(src_hi, src_lo)  # a block entirely in the padding has no image rows
    first, last = src_lo + rows.before - r_lo, src_hi + rows.before - r_lo  # the image rows in buf
    buf[:first] = 0
    buf[last:] = 0
    for ph in range(stride if last > first else 0):
        q0 = max(0, -(-(cols.before - ph) // stride))  # first pixel of this phase inside the image
        x0 = q0 * stride + ph - cols.before  # its image column
        count = len(range(x0, w, stride))
        buf[first:last, ph, :q0] = 0
        buf[first:last, ph, q0 : q0 + count] = img[src_lo:src_hi, x0::stride]
        buf[first:last, ph, q0 + count :] = 0  # right padding and the zero taps that complete the grid
    row, it = stride * wq * c, img.itemsize
    view = np.ndarray((kh, stride, m_taps, n, length), img.dtype, buffer=buf.reshape(-1),
                      strides=(row * it, wq * c * it, c * it, stride * row * it, it))
    view.flags.writeable = False
    return np.einsum("iamrq,iam->rq" if weights.ndim == 3 else "iamrq,iamq->rq", view, weights, out=out)


# From this many channels on, a strided depthwise convolution reads its taps straight
# from the padded rows (inner loop: the C channels of one pixel) instead of sorting the
# pixels by phase first. Measured, 3x3 stride 2 (MobileNet shapes): 28x28x256 and
# 14x14x512 25-30 % faster; 56x56x128 a tie; 112x112x64 1.5x slower (the per-pixel
# loop of 64 values costs more than the copy saves).
_WIDE_CHANNELS = 256


def _depthwise_wide_rows(img: np.ndarray, taps: np.ndarray, stride: int, rows: PadAmounts, cols: PadAmounts,
                         dilation: int, y0: int, out: np.ndarray) -> np.ndarray:
    """Depthwise output rows ``y0 .. y0 + n`` for many channels and any stride into ``out``: (n, W', C).

    img: (H, W, C); taps: (Kh, Kw, C). Tap (i, j) of output pixel (r, x) is pixel
    (r*s + i*d, x*s + j*d) of the block's padded rows: a (Kh, Kw, n, W', C) view, and
    one ``np.einsum`` with the (C,) taps broadcast over the pixels sums them; no copy
    beyond the padded rows.
    """
    c = img.shape[2]
    kh, kw = taps.shape[:2]
    n, w_out = out.shape[:2]
    block = _padded_rows(img, y0 * stride, (y0 + n - 1) * stride + dilation * (kh - 1) + 1, rows, cols)
    row, it = block.shape[1] * c * img.itemsize, img.itemsize
    view = np.ndarray((kh, kw, n, w_out, c), img.dtype, buffer=block.reshape(-1),
                      strides=(dilation * row, dilation * c * it, stride * row, stride * c * it, it))
    view.flags.writeable = False
    return np.einsum("ijrxc,ijc->rxc", view, taps, out=out)


def depthwise(img: np.ndarray, taps: np.ndarray, stride: int, rows: PadAmounts, cols: PadAmounts,
                    dilation: int = 1) -> np.ndarray:
    """img: (H, W, C); taps: (Kh, Kw, C) -- one filter per channel. Returns (H', W', C).

    ``rows``/``cols`` are the padding of each axis (from :func:`helpers.conv.pad_amounts`). Stride 1
    writes each cache-sized block of output rows straight from :func:`_depthwise_rows`,
    a larger stride from :func:`_depthwise_wide_rows` (256 channels or more) or
    :func:`_depthwise_strided_rows`; only a stride combined with a dilation and fewer
    channels gathers each tap's strided slice from a zero-padded block of rows.
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
    if c >= _WIDE_CHANNELS:
        step = _block_rows((w + cols.before + cols.after) * c * stride, img.dtype, h_out, _TAP_BLOCK_BYTES)
        for y0 in range(0, h_out, step):
            _depthwise_wide_rows(img, taps, stride, rows, cols, dilation, y0, out[y0 : y0 + step])
        return out
    if dilation == 1:
        weights = _phase_taps(taps, stride, w_out)
        step = _block_rows((w + cols.before + cols.after) * c * stride, img.dtype, h_out, _PHASE_BLOCK_BYTES)
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


def separable(img: np.ndarray, col_taps: np.ndarray, row_taps: np.ndarray, rows: PadAmounts,
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
            block, offset = _padded_rows(img, y0, y0 + n + kh - 1, rows, type(cols)(0, 0, w)).reshape(-1), 0
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
# Pixels per row block of that patch matrix (fewer Python-level copies per image than
# 4096: measured 5-10 % faster at 512x512x3, K = 3 and 7).
_PATCH_PIXELS = 8192


def _standard_patches(img: np.ndarray, kernel: np.ndarray, rows: PadAmounts, cols: PadAmounts, dilation: int,
                      out: np.ndarray) -> np.ndarray:
    """Stride-1 standard convolution for few input channels (RGB, say), into ``out``.

    Per row block: the padded rows are gathered in planar layout (C_in, rows*W_pad); for
    every tap the C_in channel rows shifted by that tap are copied, contiguous, into a
    patch matrix P (Kh*Kw*C_in, N) -- bounded by the block, never the whole image --
    and one matrix multiply ``P.T @ kernel`` gives every output channel, (N, C_out):
    already channels-last, so the block's rows are copied out whole.

    Measured (512x512x3 -> 16): ``kernel.T @ P``, (C_out, N), is the orientation
    OpenBLAS runs fastest (20-35 % faster for the product alone), but transposing it
    back to channels-last, 16 values per pixel gathered from 16 rows, cost about as
    much as the product at K = 3; the pixel-major product is faster overall for every
    patch size tried (K = 3: 5.7 instead of 7.1 ms; K = 7: 17.3 instead of 19.5 ms;
    patches of 121-252 values with 8-64 output channels: 4-15 % faster).
    """
    h, w, c_in = img.shape
    kh, kw, _, c_out = kernel.shape
    h_out, w_out = rows.out, cols.out
    w_pad = w + cols.before + cols.after
    patch = kh * kw * c_in
    weights = kernel.reshape(patch, c_out)  # row (i, j, c): one tap of one input channel
    # enough pixels per block for an efficient matmul; the patch matrix stays a few MB
    step = max(1, min(h_out, _PATCH_PIXELS // w_pad))
    patches = _workspace("patches", (patch, step * w_pad), img.dtype)
    result = _workspace("products", (step * w_pad, c_out), img.dtype)
    starts = [i * dilation * w_pad + j * dilation for i in range(kh) for j in range(kw)]
    for y0 in range(0, h_out, step):
        n = min(step, h_out - y0)
        size = n * w_pad
        # (C_in, rows * W_pad), one spare row so that the last tap's slice stays inside
        pl = _padded_rows(img, y0, y0 + n + dilation * (kh - 1) + 1, rows, cols, planar=True).reshape(c_in, -1)
        p = patches[:, :size]
        for t, start in enumerate(starts):
            p[t * c_in : (t + 1) * c_in] = pl[:, start : start + size]
        r = result[:size]
        np.matmul(p.T, weights, out=r)
        out[y0 : y0 + n] = r.reshape(n, w_pad, c_out)[:, :w_out]  # whole rows, the padding columns dropped
    return out


def standard(img: np.ndarray, kernel: np.ndarray, stride: int, rows: PadAmounts, cols: PadAmounts,
             dilation: int) -> np.ndarray:
    """img: (H, W, C_in); kernel: (Kh, Kw, C_in, C_out). Returns (H', W', C_out).

    For stride 1 each kernel offset is one BLAS matmul of a *contiguous* slice of the
    flattened padded row block (computed over the full padded width; the few extra
    columns are dropped) with the (C_in, C_out) tap matrix.
    """
    h, w, c_in = img.shape
    kh, kw, _, c_out = kernel.shape
    h_out, w_out = rows.out, cols.out
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
    if dilation == 1 and c_in * kh * kw <= _SMALL_PATCH:
        return _standard_strided_patches(img, kernel, stride, rows, cols, out)
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


# Bytes of the patch matrix of one row block of a strided standard convolution.
_STRIDED_PATCH_BYTES = 2 * 2**20


def _standard_strided_patches(img: np.ndarray, kernel: np.ndarray, stride: int, rows: PadAmounts,
                              cols: PadAmounts, out: np.ndarray) -> np.ndarray:
    """Standard convolution with a stride s > 1 (dilation 1) into ``out``: (H', W', C_out).

    Per row block, im2col bounded by the block: for kernel row i, the Kw pixels that
    output pixel x reads, ``padded[y*s + i, x*s : x*s + Kw]``, are Kw*C_in *contiguous*
    values of the channels-last padded rows, so an overlapping read-only view
    ``(rows, W', Kw*C_in)`` copies them for every pixel in one call. The Kh copies fill a
    (rows*W', Kh*Kw*C_in) patch matrix -- the order of ``kernel.reshape(-1, C_out)`` --
    and one matrix multiply writes the block's output rows.
    """
    _, w, c_in = img.shape
    kh, kw, _, c_out = kernel.shape
    h_out, w_out = rows.out, cols.out
    patch = kh * kw * c_in
    weights = np.ascontiguousarray(kernel.reshape(patch, c_out))
    step = max(1, min(h_out, _STRIDED_PATCH_BYTES // (w_out * patch * img.itemsize)))
    patches = _workspace("patches", (step, w_out, kh, kw * c_in), img.dtype)
    flat_out = out.reshape(h_out * w_out, c_out)
    it = img.itemsize
    for y0 in range(0, h_out, step):
        n = min(step, h_out - y0)
        block = _padded_rows(img, y0 * stride, (y0 + n - 1) * stride + kh, rows, cols)
        row_len = block.shape[1] * c_in
        # windows[i, r, x, q] = block[r*s + i, x*s*C_in + q], q < Kw*C_in
        windows = np.ndarray((kh, n, w_out, kw * c_in), img.dtype, buffer=block.reshape(-1),
                             strides=(row_len * it, stride * row_len * it, stride * c_in * it, it))
        windows.flags.writeable = False
        p = patches[:n]
        for i in range(kh):
            p[:, :, i] = windows[i]
        np.matmul(p.reshape(n * w_out, patch), weights, out=flat_out[y0 * w_out : (y0 + n) * w_out])
    return out


def depthwise_separable(src: np.ndarray, taps: np.ndarray, wts: np.ndarray, rows: PadAmounts, cols: PadAmounts,
                        dilation: int = 1) -> np.ndarray:
    """src: (H, W, C_mid) (the image, channels repeated M times for a multiplier M); taps: (Kh, Kw, C_mid);
    wts: (C_mid, C_out). Returns (H', W', C_out), stride 1.

    Fused by row blocks: each block of depthwise rows is mixed by one matmul while it
    is still in cache, so the (H', W', C_mid) intermediate never exists in full.
    """
    w = src.shape[1]
    h_out, w_out = rows.out, cols.out
    out = np.empty((h_out, w_out, wts.shape[1]), dtype=src.dtype)
    c_mid, c_out = wts.shape
    flat_out = out.reshape(h_out * w_out, c_out)
    tiles = _tile_taps(taps, w_out)
    step = _block_rows((w + cols.before + cols.after) * c_mid, src.dtype, h_out, _TAP_BLOCK_BYTES)
    mid = _workspace("intermediate rows", (step, w_out * c_mid), src.dtype)
    for y0 in range(0, h_out, step):
        n = min(step, h_out - y0)
        _depthwise_rows(src, tiles, rows, cols, dilation, y0, mid[:n])
        np.matmul(mid[:n].reshape(n * w_out, c_mid), wts, out=flat_out[y0 * w_out : (y0 + n) * w_out])
    return out


def grouped(img: np.ndarray, kernel: np.ndarray, groups: int, stride: int, rows: PadAmounts, cols: PadAmounts,
            dilation: int) -> np.ndarray:
    """img: (H, W, C_in); kernel: (Kh, Kw, C_in/g, C_out); g = ``groups``. Returns (H', W', C_out).

    One input channel per group (depthwise, ``groups = C_in``) runs the depthwise engine
    on the channels repeated C_out/g times (output channel c*M + m, as PyTorch);
    otherwise each group is a standard convolution of its C_in/g channels.
    """
    c_in, c_out = img.shape[2], kernel.shape[3]
    per_out = c_out // groups
    if kernel.shape[2] == 1:
        src = img if per_out == 1 else np.repeat(img, per_out, axis=2)
        return depthwise(src, np.ascontiguousarray(kernel[:, :, 0, :]), stride, rows, cols, dilation)
    per_in = c_in // groups
    out = np.empty((rows.out, cols.out, c_out), dtype=img.dtype)
    for g in range(groups):
        part = np.ascontiguousarray(img[:, :, g * per_in : (g + 1) * per_in])
        out[:, :, g * per_out : (g + 1) * per_out] = standard(
            part, np.ascontiguousarray(kernel[:, :, :, g * per_out : (g + 1) * per_out]), stride, rows, cols, dilation)
    return out
