"""The ops against their textbook loops, an outside fixture and the identities."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import conv, fast_conv, kernels
from helpers.conv import (
    conv2d,
    conv2d_loop,
    correlate2d_loop,
    depthwise_conv2d,
    depthwise_conv2d_loop,
    depthwise_separable_conv2d,
    output_size,
    pointwise_conv2d,
    pointwise_conv2d_loop,
    spatial_separable_conv2d,
)

RNG = np.random.default_rng(0)
PADDINGS = ["same", "valid", 0, 1, 2]


def rand(*shape, dtype=np.float64):
    return RNG.standard_normal(shape).astype(dtype)


# ------------------------------------------------------------- the outside truth
def test_cs231n_conv_forward_fixture():
    """CS231n assignment 2's conv_forward_naive check, transposed to channels-last."""
    x = np.linspace(-0.1, 0.5, num=2 * 3 * 4 * 4).reshape(2, 3, 4, 4)  # N, C, H, W
    w = np.linspace(-0.2, 0.3, num=3 * 3 * 4 * 4).reshape(3, 3, 4, 4)  # F, C, HH, WW
    b = np.linspace(-0.1, 0.2, num=3)
    correct = np.array([[[[-0.08759809, -0.10987781], [-0.18387192, -0.2109216]],
                         [[0.21027089, 0.21661097], [0.22847626, 0.23004637]],
                         [[0.50813986, 0.54309974], [0.64082444, 0.67101435]]],
                        [[[-0.98053589, -1.03143541], [-1.19128892, -1.24695841]],
                         [[0.69108355, 0.66880383], [0.59480972, 0.56776003]],
                         [[2.36270298, 2.36904306], [2.38090835, 2.38247847]]]])
    kernel = w.transpose(2, 3, 1, 0)  # (HH, WW, C, F)
    for op in (conv2d, conv2d_loop):
        out = np.stack([op(img.transpose(1, 2, 0), kernel, stride=2, padding=1) for img in x]) + b
        out = out.transpose(0, 3, 1, 2)  # back to N, F, H', W'
        rel = np.max(np.abs(out - correct) / np.maximum(1e-8, np.abs(out) + np.abs(correct)))
        assert rel < 1e-7, rel


def test_correlate2d_loop_small_example():
    image = np.arange(9.0).reshape(3, 3)
    kernel = np.array([[0.0, 1.0], [2.0, 3.0]])
    # d2l.ai's worked example: [[19, 25], [37, 43]]
    np.testing.assert_array_equal(correlate2d_loop(image, kernel), [[19.0, 25.0], [37.0, 43.0]])
    np.testing.assert_array_equal(conv2d(image, kernel, padding="valid"), [[19.0, 25.0], [37.0, 43.0]])


def test_cross_correlation_not_convolution():
    """No flip: an asymmetric kernel gives the flipped kernel's result under true convolution."""
    image = rand(7, 7)
    k = rand(3, 3)
    corr = conv2d(image, k, padding="valid")
    # true convolution = correlation with the kernel rotated by 180 degrees
    true_conv = np.array([[np.sum(image[y:y + 3, x:x + 3] * k[::-1, ::-1]) for x in range(5)] for y in range(5)])
    np.testing.assert_allclose(conv2d(image, k[::-1, ::-1], padding="valid"), true_conv)
    assert not np.allclose(corr, true_conv)


# --------------------------------------------------------- fast == loop reference
@pytest.mark.parametrize("padding", PADDINGS)
@pytest.mark.parametrize("stride", [1, 2, 3])
@pytest.mark.parametrize("dilation", [1, 2])
@pytest.mark.parametrize("ksize", [(3, 3), (2, 2), (1, 5), (4, 1), (2, 3)])
def test_conv2d_matches_loop(padding, stride, dilation, ksize):
    image, kernel = rand(9, 10, 3), rand(*ksize, 3, 4)
    try:
        expected = conv2d_loop(image, kernel, stride=stride, padding=padding, dilation=dilation)
    except ValueError:
        with pytest.raises(ValueError, match="larger than"):
            conv2d(image, kernel, stride=stride, padding=padding, dilation=dilation)
        return
    got = conv2d(image, kernel, stride=stride, padding=padding, dilation=dilation)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("padding", PADDINGS)
@pytest.mark.parametrize("stride", [1, 2, 3])
@pytest.mark.parametrize("dilation", [1, 2])
@pytest.mark.parametrize("ksize", [(3, 3), (2, 2), (1, 5), (4, 1)])
@pytest.mark.parametrize("multiplier", [1, 2])
def test_depthwise_matches_loop(padding, stride, dilation, ksize, multiplier):
    image, kernel = rand(11, 8, 3), rand(*ksize, 3, multiplier)
    try:
        expected = depthwise_conv2d_loop(image, kernel, stride=stride, padding=padding, dilation=dilation)
    except ValueError:
        with pytest.raises(ValueError, match="larger than"):
            depthwise_conv2d(image, kernel, stride=stride, padding=padding, dilation=dilation)
        return
    got = depthwise_conv2d(image, kernel, stride=stride, padding=padding, dilation=dilation)
    assert got.shape == expected.shape == (*output_size((11, 8), ksize, stride=stride, padding=padding,
                                                        dilation=dilation), 3 * multiplier)
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


def test_depth_multiplier_channel_order():
    """Output channel c*M + m comes from input channel c and kernel[:, :, c, m] (Keras, PyTorch groups=C)."""
    image, kernel = rand(6, 6, 2), rand(3, 3, 2, 3)
    out = depthwise_conv2d(image, kernel)
    for c in range(2):
        for m in range(3):
            np.testing.assert_allclose(out[:, :, c * 3 + m], conv2d(image[:, :, c], kernel[:, :, c, m]))


def test_pointwise_matches_loop_and_matmul():
    image, weights = rand(5, 7, 4), rand(4, 6)
    got = pointwise_conv2d(image, weights)
    np.testing.assert_allclose(got, pointwise_conv2d_loop(image, weights))
    np.testing.assert_allclose(got, np.einsum("hwc,co->hwo", image, weights))


def test_large_image_uses_many_row_blocks():
    """Shapes big enough that the fast ops walk several row blocks."""
    image = rand(300, 257, 3, dtype=np.float32)
    k = rand(5, 5, 3, dtype=np.float32)
    got = depthwise_conv2d(image, k, dilation=2)
    ref = np.stack([conv2d(image[:, :, c].astype(np.float64), k[:, :, c].astype(np.float64), dilation=2)
                    for c in range(3)], axis=2)
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4)
    k4 = rand(3, 3, 3, 8, dtype=np.float32)
    got = conv2d(image, k4)
    ref = sum(conv2d(image[:, :, c:c + 1], k4[:, :, c:c + 1]) for c in range(3))
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4)


# --------------------------------------------------------- every path of the engine
# The multiply-accumulate ops pick a path by the kernel (one filter for all channels:
# scalar taps, and BLAS matrix-vector products for the separable column pass; different filters:
# tiled taps) and cut the image into row blocks whose first and last ones reach into
# the padding. Small blocks force many blocks, remainders and edge blocks.
@pytest.mark.parametrize("block_bytes", [1, 2000, 10**9])
@pytest.mark.parametrize("height", [1, 3, 10, 23])
@pytest.mark.parametrize("padding", ["same", "valid", 0, 3])
@pytest.mark.parametrize("filters", ["shared", "equal per channel", "per channel"])
def test_multiply_accumulate_paths_match_loops(monkeypatch, block_bytes, height, padding, filters):
    monkeypatch.setattr(fast_conv, "_TAP_BLOCK_BYTES", block_bytes)
    image = rand(height, 9, 3)
    col, row = rand(3), rand(3)
    if filters == "shared":
        col_f, row_f, kernel = col, row, np.outer(col, row)
    elif filters == "equal per channel":
        col_f, row_f = np.stack([col] * 3, axis=1), np.stack([row] * 3, axis=1)
        kernel = np.stack([np.outer(col, row)] * 3, axis=2)
    else:
        col_f, row_f = rand(3, 3), rand(3, 3)
        kernel = col_f[:, None, :] * row_f[None, :, :]
    full = kernel if kernel.ndim == 3 else np.stack([kernel] * 3, axis=2)
    try:
        expected = depthwise_conv2d_loop(image, full, padding=padding)
    except ValueError:
        with pytest.raises(ValueError, match="larger than"):
            spatial_separable_conv2d(image, col_f, row_f, padding=padding)
        return
    np.testing.assert_allclose(depthwise_conv2d(image, kernel, padding=padding), expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(spatial_separable_conv2d(image, col_f, row_f, padding=padding), expected,
                               rtol=1e-10, atol=1e-12)
    pw = rand(3, 4)
    np.testing.assert_allclose(depthwise_separable_conv2d(image, kernel, pw, padding=padding), expected @ pw,
                               rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_ops_accept_read_only_strided_images_and_leave_them_alone(dtype):
    base = rand(20, 30, 3, dtype=dtype)
    image = base[::-1, ::2]  # reversed rows, every other column: not contiguous
    image.flags.writeable = False
    before = image.copy()
    k, col, pw = rand(3, 3, 3, dtype=dtype), rand(5, dtype=dtype), rand(3, 2, dtype=dtype)
    tol = {"rtol": 1e-4, "atol": 1e-4} if dtype == np.float32 else {"rtol": 1e-10, "atol": 1e-12}
    np.testing.assert_allclose(depthwise_conv2d(image, k), depthwise_conv2d_loop(before, k), **tol)
    np.testing.assert_allclose(spatial_separable_conv2d(image, col, col),
                               depthwise_conv2d_loop(before, np.stack([np.outer(col, col)] * 3, axis=2)), **tol)
    np.testing.assert_allclose(depthwise_separable_conv2d(image, k, pw), depthwise_conv2d_loop(before, k) @ pw, **tol)
    np.testing.assert_array_equal(image, before)


# ------------------------------------------------------------------ sizes, dtypes
@pytest.mark.parametrize(("n", "k", "s", "p", "d", "expected"), [
    (5, 3, 1, "same", 1, 5), (5, 3, 2, "same", 1, 3), (6, 3, 2, "same", 1, 3), (5, 4, 1, "same", 1, 5),
    (5, 3, 1, "valid", 1, 3), (7, 3, 2, "valid", 1, 3), (7, 3, 1, "valid", 2, 3), (5, 3, 2, 1, 1, 3),
    (4, 4, 2, 1, 1, 2), (224, 3, 2, "same", 1, 112), (3, 3, 1, "valid", 1, 1),
])
def test_output_size_formula(n, k, s, p, d, expected):
    assert output_size((n, n), k, stride=s, padding=p, dilation=d) == (expected, expected)


def test_same_padding_puts_the_odd_pixel_bottom_right():
    """TensorFlow rule: an even kernel pads 0 above/left and 1 below/right."""
    rows = conv.pad_amounts(5, 2, padding="same")
    assert (rows.before, rows.after, rows.out) == (0, 1, 5)
    rows = conv.pad_amounts(6, 3, stride=2, padding="same")  # total = (3-1)*2 + 3 - 6 = 1
    assert (rows.before, rows.after, rows.out) == (0, 1, 3)
    image = np.zeros((4, 4))
    image[3, 3] = 1.0
    out = conv2d(image, np.ones((2, 2)), padding="same")
    # the bottom-right pixel is only seen by windows starting at rows/cols 2 and 3
    assert out[3, 3] == 1.0 and out[2, 2] == 1.0 and out.shape == (4, 4)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_kept(dtype):
    image = rand(8, 8, 3, dtype=dtype)
    assert conv2d(image, rand(3, 3, 3, 2)).dtype == dtype
    assert depthwise_conv2d(image, rand(3, 3, 3)).dtype == dtype
    assert pointwise_conv2d(image, rand(3, 2)).dtype == dtype
    assert spatial_separable_conv2d(image, rand(3), rand(3)).dtype == dtype
    assert depthwise_separable_conv2d(image, rand(3, 3, 3), rand(3, 5)).dtype == dtype


def test_two_dimensional_images_stay_two_dimensional():
    image = rand(6, 7)
    assert conv2d(image, kernels.sobel_x()).shape == (6, 7)
    assert depthwise_conv2d(image, kernels.sobel_x()).shape == (6, 7)
    assert spatial_separable_conv2d(image, [1, 2, 1], [1, 0, -1]).shape == (6, 7)


# ---------------------------------------------------------------- bad arguments
@pytest.mark.parametrize(("call", "match"), [
    (lambda: conv2d(np.zeros((5, 5, 3), np.uint8), np.ones((3, 3, 3, 1))), "dtype uint8"),
    (lambda: conv2d(np.zeros((5, 5, 3)), np.ones((3, 3, 2, 1))), r"kernel expects 2 input channels.*\(3, 3, 2, 1\)"),
    (lambda: conv2d(np.zeros((5, 5, 3)), np.ones((3, 3))), r"\(Kh, Kw, C_in, C_out\)"),
    (lambda: depthwise_conv2d(np.zeros((5, 5, 3)), np.ones((3, 3, 4))), r"4 channels but the image has 3"),
    (lambda: pointwise_conv2d(np.zeros((5, 5, 3)), np.ones((4, 2))), r"C_in = 3.*\(4, 2\)"),
    (lambda: depthwise_conv2d(np.zeros((5, 5, 3)), np.ones((7, 7, 3)), padding="valid"), "larger than"),
    (lambda: depthwise_conv2d(np.zeros((5, 5, 3)), np.ones((3, 3, 3)), stride=0), "stride"),
    (lambda: depthwise_conv2d(np.zeros((5, 5, 3)), np.ones((3, 3, 3)), dilation=-1), "dilation"),
    (lambda: depthwise_conv2d(np.zeros((5, 5, 3)), np.ones((3, 3, 3)), padding=-1), "padding"),
    (lambda: depthwise_conv2d(np.zeros((5, 5, 3)), np.ones((3, 3, 3)), padding="full"), "padding"),
    (lambda: depthwise_conv2d(np.zeros((5, 5, 3)), np.full((3, 3, 3), np.nan)), "NaN"),
    (lambda: depthwise_conv2d(np.zeros((5, 5, 5, 3)), np.ones((3, 3, 3))), r"\(5, 5, 5, 3\)"),
    (lambda: spatial_separable_conv2d(np.zeros((5, 5, 3)), np.ones((3, 2)), np.ones(3)), "column"),
])
def test_bad_arguments_name_the_problem(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ---------------------------------------------------------- identities (hypothesis)
shapes = st.tuples(st.integers(3, 12), st.integers(3, 12), st.integers(1, 4))
ksizes = st.tuples(st.integers(1, 4), st.integers(1, 4))
paddings = st.sampled_from(["same", "valid", 0, 1, 2])


def _arr(seed, *shape):
    return np.random.default_rng(seed).standard_normal(shape)


@settings(max_examples=60, deadline=None)
@given(shape=shapes, k=ksizes, padding=paddings, seed=st.integers(0, 2**16))
def test_separable_equals_depthwise_with_outer_product(shape, k, padding, seed):
    image, col, row = _arr(seed, *shape), _arr(seed + 1, k[0]), _arr(seed + 2, k[1])
    try:
        expected = depthwise_conv2d(image, np.outer(col, row), padding=padding)
    except ValueError:
        return  # kernel larger than the padded image: both refuse (checked elsewhere)
    np.testing.assert_allclose(spatial_separable_conv2d(image, col, row, padding=padding), expected,
                               rtol=1e-9, atol=1e-9)


@settings(max_examples=60, deadline=None)
@given(shape=shapes, k=ksizes, m=st.integers(1, 3), c_out=st.integers(1, 5), stride=st.integers(1, 3),
       seed=st.integers(0, 2**16))
def test_depthwise_separable_is_pointwise_after_depthwise(shape, k, m, c_out, stride, seed):
    image, dk, pw = _arr(seed, *shape), _arr(seed + 1, *k, shape[2], m), _arr(seed + 2, shape[2] * m, c_out)
    got = depthwise_separable_conv2d(image, dk, pw, stride=stride)
    np.testing.assert_allclose(got, pointwise_conv2d(depthwise_conv2d(image, dk, stride=stride), pw))


@settings(max_examples=60, deadline=None)
@given(shape=shapes, c_out=st.integers(1, 6), seed=st.integers(0, 2**16))
def test_pointwise_is_per_pixel_matmul(shape, c_out, seed):
    image, w = _arr(seed, *shape), _arr(seed + 1, shape[2], c_out)
    out = pointwise_conv2d(image, w)
    y, x = seed % shape[0], (seed // 7) % shape[1]
    np.testing.assert_allclose(out[y, x], image[y, x] @ w)
    np.testing.assert_allclose(out, conv2d(image, w[None, None]))  # = a standard conv with a 1x1 kernel


@settings(max_examples=60, deadline=None)
@given(shape=shapes, k=ksizes, m=st.integers(1, 3), seed=st.integers(0, 2**16))
def test_depthwise_never_mixes_channels(shape, k, m, seed):
    image, dk = _arr(seed, *shape), _arr(seed + 1, *k, shape[2], m)
    c = seed % shape[2]
    changed = image.copy()
    changed[:, :, c] += _arr(seed + 2, *shape[:2])
    diff = np.abs(depthwise_conv2d(changed, dk) - depthwise_conv2d(image, dk)).max(axis=(0, 1))
    own = np.arange(c * m, (c + 1) * m)
    others = np.setdiff1d(np.arange(shape[2] * m), own)
    assert np.all(diff[others] == 0.0)


@settings(max_examples=60, deadline=None)
@given(shape=shapes, k=ksizes, c_out=st.integers(1, 4), stride=st.integers(1, 2), padding=paddings,
       seed=st.integers(0, 2**16))
def test_factored_standard_kernel_equals_depthwise_separable(shape, k, c_out, stride, padding, seed):
    """W[i, j, c, o] = D[i, j, c] * P[c, o]  =>  conv2d(x, W) == pointwise(depthwise(x, D), P)."""
    image, d, p = _arr(seed, *shape), _arr(seed + 1, *k, shape[2]), _arr(seed + 2, shape[2], c_out)
    w = d[:, :, :, None] * p[None, None, :, :]
    try:
        expected = conv2d(image, w, stride=stride, padding=padding)
    except ValueError:
        return
    np.testing.assert_allclose(depthwise_separable_conv2d(image, d, p, stride=stride, padding=padding), expected,
                               rtol=1e-9, atol=1e-9)


# ------------------------------------------------------------ the reused workspace
def _every_op(image):
    """Each fast op (and each of its paths) on ``image``, with fixed kernels: (name, call) pairs."""
    c = image.shape[2]
    r = np.random.default_rng(1)
    k3, kc, pw = r.standard_normal((3, 3)), r.standard_normal((3, 3, c)), r.standard_normal((c, 4))
    col, row = r.standard_normal(5), r.standard_normal(3)
    col_c, row_c = r.standard_normal((3, c)), r.standard_normal((5, c))
    std3, std11 = r.standard_normal((3, 3, c, 4)), r.standard_normal((11, 11, c, 2))
    return [
        ("depthwise shared", lambda: depthwise_conv2d(image, k3)),
        ("depthwise per channel", lambda: depthwise_conv2d(image, kc)),
        ("depthwise stride 2", lambda: depthwise_conv2d(image, kc, stride=2)),
        ("separable shared", lambda: spatial_separable_conv2d(image, col, row)),
        ("separable per channel", lambda: spatial_separable_conv2d(image, col_c, row_c)),
        ("depthwise-separable", lambda: depthwise_separable_conv2d(image, kc, pw)),
        ("standard few channels", lambda: conv2d(image, std3)),
        ("standard many taps", lambda: conv2d(image, std11)),
        ("standard stride 2", lambda: conv2d(image, std3, stride=2)),
    ]


def test_results_never_share_memory_with_the_workspace():
    """An op's result stays as it was when later calls (other ops, other sizes) reuse the temporaries."""
    first = [(name, call()) for name, call in _every_op(rand(13, 17, 3))]
    kept = [(name, result.copy()) for name, result in first]
    for _, call in _every_op(rand(29, 11, 3)) + _every_op(rand(13, 17, 3)):
        call()
    for (name, result), (_, copy) in zip(first, kept, strict=True):
        np.testing.assert_array_equal(result, copy, err_msg=name)


def test_workspace_is_per_thread_and_gives_the_same_results():
    import threading

    image = rand(40, 33, 3)
    expected = {name: call() for name, call in _every_op(image)}
    errors = []

    def work():
        try:
            for _ in range(5):
                for name, call in _every_op(image):
                    np.testing.assert_allclose(call(), expected[name], rtol=1e-12, atol=1e-12, err_msg=name)
        except AssertionError as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]


def test_workspace_keeps_at_most_the_cap_per_buffer(monkeypatch):
    monkeypatch.setattr(fast_conv, "_WORKSPACE_MAX_BYTES", 4096)
    fast_conv._release_workspace()
    image = rand(60, 50, 3)
    for name, call in _every_op(image):
        got = call()
        assert got.dtype == image.dtype, name
    kept = fast_conv._workspace_local.__dict__.get("buffers", {})
    assert kept and all(buf.nbytes <= 4096 for buf in kept.values())
    fast_conv._release_workspace()
    assert not fast_conv._workspace_local.__dict__.get("buffers")


@pytest.mark.parametrize("stride", [1, 2, 3])
@pytest.mark.parametrize("dilation", [1, 2])
@pytest.mark.parametrize("ksize", [(3, 3), (5, 5), (1, 3), (4, 2)])
@pytest.mark.parametrize("filters", ["shared", "per channel"])
@pytest.mark.parametrize("padding", ["same", "valid", 2])
def test_depthwise_row_blocks_with_stride_dilation_and_odd_kernels_match_loops(monkeypatch, stride, dilation,
                                                                               ksize, filters, padding):
    """Small blocks, so that most of them are neither the first nor the last one (stride > 1 and
    dilation 1: the taps regrouped by phase; both > 1: the gathering path)."""
    monkeypatch.setattr(fast_conv, "_TAP_BLOCK_BYTES", 2000)
    image = rand(23, 19, 3)
    kernel = rand(*ksize) if filters == "shared" else rand(*ksize, 3)
    full = kernel if kernel.ndim == 3 else np.stack([kernel] * 3, axis=2)
    expected = depthwise_conv2d_loop(image, full, stride=stride, padding=padding, dilation=dilation)
    got = depthwise_conv2d(image, kernel, stride=stride, padding=padding, dilation=dilation)
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)
    pw = rand(3, 2)
    got = depthwise_separable_conv2d(image, kernel, pw, stride=stride, padding=padding, dilation=dilation)
    np.testing.assert_allclose(got, expected @ pw, rtol=1e-10, atol=1e-12)


def test_no_op_reads_workspace_memory_it_did_not_write(monkeypatch):
    """Temporaries start as NaN here: a value read before it is written would spread into the result."""
    original = fast_conv._workspace

    def poisoned(name, shape, dtype):
        buf = original(name, shape, dtype)
        buf[...] = np.nan
        return buf

    image = rand(23, 19, 3)
    expected = {name: call() for name, call in _every_op(image)}
    monkeypatch.setattr(fast_conv, "_workspace", poisoned)
    monkeypatch.setattr(fast_conv, "_TAP_BLOCK_BYTES", 2000)
    for name, call in _every_op(image) + [
        ("depthwise stride 3, even kernel", lambda: depthwise_conv2d(image, rand(4, 2, 3), stride=3)),
    ]:
        got = call()
        assert np.isfinite(got).all(), name
        if name in expected:
            np.testing.assert_allclose(got, expected[name], rtol=1e-10, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("stride", [1, 2])
def test_depthwise_separable_takes_the_same_pointwise_weights_as_pointwise(stride):
    """Keras-style (1, 1, C, C_out) and (C,) weights work with and without a stride, as in pointwise_conv2d."""
    image, dk = rand(9, 10, 3), rand(3, 3, 3)
    mid = depthwise_conv2d(image, dk, stride=stride)
    for weights in (rand(1, 1, 3, 4), rand(3)):
        got = depthwise_separable_conv2d(image, dk, weights, stride=stride)
        np.testing.assert_allclose(got, pointwise_conv2d(mid, weights), rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match=r"C_in = 3 .*got shape \(4, 2\)"):
        depthwise_separable_conv2d(image, dk, rand(4, 2), stride=stride)


# ------------------------------------------------------------ grouped convolution
@pytest.mark.parametrize("c_in,c_out,groups", [(4, 6, 2), (6, 6, 3), (6, 4, 2), (3, 6, 3), (4, 4, 4), (6, 3, 1)])
@pytest.mark.parametrize("stride,padding,dilation", [(1, "same", 1), (2, "valid", 1), (1, 1, 2), (3, "same", 1)])
def test_grouped_matches_loop(c_in, c_out, groups, stride, padding, dilation):
    image, kernel = rand(9, 8, c_in), rand(3, 2, c_in // groups, c_out)
    expected = conv2d_loop(image, kernel, stride=stride, padding=padding, dilation=dilation, groups=groups)
    got = conv2d(image, kernel, stride=stride, padding=padding, dilation=dilation, groups=groups)
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


def test_grouped_loop_is_independent_per_group():
    """Hand-built check of the loop: a grouped conv is g standard convs on channel slices, outputs concatenated."""
    image, kernel = rand(7, 7, 6), rand(3, 3, 2, 9)
    parts = [conv2d_loop(image[:, :, 2 * g : 2 * g + 2], kernel[:, :, :, 3 * g : 3 * g + 3]) for g in range(3)]
    np.testing.assert_allclose(conv2d_loop(image, kernel, groups=3), np.concatenate(parts, axis=2), atol=1e-12)


def test_groups_one_is_the_standard_convolution():
    image, kernel = rand(10, 9, 4), rand(3, 3, 4, 5)
    np.testing.assert_array_equal(conv2d(image, kernel, groups=1), conv2d(image, kernel))
    np.testing.assert_allclose(conv2d_loop(image, kernel, groups=1), conv2d_loop(image, kernel), atol=0)


@pytest.mark.parametrize("multiplier", [1, 2, 3])
@pytest.mark.parametrize("stride", [1, 2])
def test_groups_c_in_is_depthwise_with_pytorch_channel_order(multiplier, stride):
    """groups = C_in, C_out = M*C_in: output channel c*M + m is channel c filtered by kernel[..., 0, c*M + m]."""
    c = 3
    image, grouped_kernel = rand(11, 10, c), rand(3, 3, 1, c * multiplier)
    depthwise_kernel = grouped_kernel[:, :, 0, :].reshape(3, 3, c, multiplier)  # (Kh, Kw, C, M)
    expected = depthwise_conv2d(image, depthwise_kernel, stride=stride)
    np.testing.assert_allclose(conv2d(image, grouped_kernel, groups=c, stride=stride), expected, atol=1e-12)
    np.testing.assert_allclose(conv2d_loop(image, grouped_kernel, groups=c, stride=stride), expected, atol=1e-12)
    # the channel order, one output at a time
    for ch in range(c):
        for m in range(multiplier):
            alone = depthwise_conv2d(image[:, :, ch], grouped_kernel[:, :, 0, ch * multiplier + m], stride=stride)
            np.testing.assert_allclose(expected[:, :, ch * multiplier + m], alone, atol=1e-12)


def test_groups_float32_stays_float32():
    image, kernel = rand(8, 8, 4, dtype=np.float32), rand(3, 3, 2, 4, dtype=np.float32)
    got = conv2d(image, kernel, groups=2)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, conv2d_loop(image.astype(np.float64), kernel.astype(np.float64), groups=2),
                               rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kernel_shape,groups,message", [
    ((3, 3, 2, 6), 4, r"groups = 4 must divide both C_in = 6 and C_out = 6; choose a common divisor \(1, 2, 3, 6\)"),
    ((3, 3, 2, 5), 3, r"groups = 3 must divide both C_in = 6 and C_out = 5; choose a common divisor \(1\)"),
    ((3, 3, 6, 6), 2, r"kernel expects 6 input channels but the image has 6 / groups = 3 per group"),
    ((3, 3, 3, 6), 0, r"groups must be a positive integer, got 0"),
    ((3, 3, 3, 6), 2.0, r"groups must be a positive integer, got 2.0"),
])
def test_groups_bad_arguments_say_what_is_wrong(kernel_shape, groups, message):
    with pytest.raises(ValueError, match=message):
        conv2d(rand(8, 8, 6), rand(*kernel_shape), groups=groups)
