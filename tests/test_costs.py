"""Cost formulas, their agreement with the ops, and MobileNet v1's published totals."""

import numpy as np
import pytest

from helpers import conv
from helpers.costs import KINDS, Cost, conv_cost, dense_cost, format_count, mobilenet_v1_layers


@pytest.mark.parametrize("shape", [(32, 32, 3), (17, 20, 8)])
@pytest.mark.parametrize("k", [1, 3, (1, 7), (5, 2)])
@pytest.mark.parametrize("stride", [1, 2])
def test_closed_forms(shape, k, stride):
    h, w, c = shape
    kh, kw = (k, k) if isinstance(k, int) else k
    ho, wo = conv.output_size((h, w), (kh, kw), stride=stride)
    std = conv_cost("standard", shape, k, 16, stride=stride)
    assert (std.macs, std.params) == (ho * wo * kh * kw * c * 16, kh * kw * c * 16)
    dw = conv_cost("depthwise", shape, k, stride=stride, depth_multiplier=2)
    assert (dw.macs, dw.params, dw.out_shape) == (ho * wo * kh * kw * c * 2, kh * kw * c * 2, (ho, wo, 2 * c))
    ds = conv_cost("depthwise_separable", shape, k, 16, stride=stride)
    assert ds.macs == dw.macs // 2 + ho * wo * c * 16
    assert ds.params == kh * kw * c + c * 16
    assert std.flops == 2 * std.macs
    b = conv_cost("standard", shape, k, 16, stride=stride, bias=True)
    assert b.params == std.params + 16 and b.macs == std.macs


def test_pointwise_and_separable_forms():
    pw = conv_cost("pointwise", (10, 12, 6), 1, 4)
    assert (pw.macs, pw.params, pw.out_shape) == (10 * 12 * 6 * 4, 24, (10, 12, 4))
    pw2 = conv_cost("pointwise", (10, 12, 6), 1, 4, stride=2)  # ResNet projection shortcut
    assert pw2.out_shape == (5, 6, 4) and pw2.macs == 5 * 6 * 24
    sep = conv_cost("spatial_separable", (10, 12, 3), 5)
    assert sep.macs == 3 * 10 * 12 * (5 + 5) and sep.params == 3 * 10
    full = conv_cost("depthwise", (10, 12, 3), 5)
    assert full.macs / sep.macs == pytest.approx(5 / 2)  # K^2 / 2K
    sep_valid = conv_cost("spatial_separable", (10, 12, 3), 5, padding="valid")
    assert sep_valid.macs == 3 * (6 * 12 * 5 + 6 * 8 * 5)  # the vertical pass keeps all 12 columns


@pytest.mark.parametrize(("k", "n"), [(3, 32), (3, 512), (5, 64), (7, 1024)])
def test_mobilenet_ratio(k, n):
    """Depthwise separable / standard = 1/N + 1/K^2 (MobileNet eq. 5)."""
    ds = conv_cost("depthwise_separable", (56, 56, 128), k, n)
    std = conv_cost("standard", (56, 56, 128), k, n)
    assert ds.macs / std.macs == pytest.approx(1 / n + 1 / k**2)


def test_cost_out_shape_equals_op_output():
    rng = np.random.default_rng(0)
    for stride, padding, dilation in [(1, "same", 1), (2, "valid", 1), (3, 2, 2), (2, "same", 2)]:
        x = rng.standard_normal((23, 19, 3))
        kw = {"stride": stride, "padding": padding, "dilation": dilation}
        assert conv.conv2d(x, rng.standard_normal((3, 2, 3, 5)), **kw).shape == \
            conv_cost("standard", x.shape, (3, 2), 5, **kw).out_shape
        assert conv.depthwise_conv2d(x, rng.standard_normal((3, 3, 3, 2)), **kw).shape == \
            conv_cost("depthwise", x.shape, 3, depth_multiplier=2, **kw).out_shape
        assert conv.depthwise_separable_conv2d(x, rng.standard_normal((2, 4, 3)), rng.standard_normal((3, 7)),
                                               **kw).shape == \
            conv_cost("depthwise_separable", x.shape, (2, 4), 7, **kw).out_shape
    for padding in ["same", "valid", 1]:
        assert conv.spatial_separable_conv2d(x, np.ones(5), np.ones(3), padding=padding).shape == \
            conv_cost("spatial_separable", x.shape, (5, 3), padding=padding).out_shape
    assert conv.pointwise_conv2d(x, np.ones((3, 4))).shape == conv_cost("pointwise", x.shape, 1, 4).out_shape


def test_dense_and_sums():
    fc = dense_cost(1024, 1000)
    assert (fc.macs, fc.params, fc.out_shape) == (1_024_000, 1_025_000, (1000,))
    assert dense_cost(10, 3, bias=False).params == 30
    a, b = conv_cost("standard", (8, 8, 3), 3, 4), dense_cost(256, 10)
    total = sum([a, b])
    assert isinstance(total, Cost) and total.macs == a.macs + b.macs and total.out_shape == (10,)


def test_mobilenet_v1_table4():
    """Howard et al. 2017, Table 4: 569 M vs 4866 M Mult-Adds, 4.2 M vs 29.3 M parameters."""
    mobile = sum(c for _, c in mobilenet_v1_layers())
    full = sum(c for _, c in mobilenet_v1_layers(full_convolution=True))
    assert round(mobile.macs / 1e6) == 569 and round(mobile.params / 1e5) == 42
    assert abs(full.macs / 1e6 - 4866) < 2 and round(full.params / 1e5) == 293
    pw = sum(c.macs for name, c in mobilenet_v1_layers() if name.startswith("pw"))
    assert pw / mobile.macs == pytest.approx(0.9486, abs=5e-4)  # Table 2: 94.86 %


@pytest.mark.parametrize(("args", "match"), [
    (("dilated", (8, 8, 3), 3, 4), "unknown kind"),
    (("standard", (8, 8, 3), 3), "out_channels"),
    (("pointwise", (8, 8, 3), 3, 4), "1x1"),
    (("standard", (8, 8), 9, 4), "larger than"),
    (("standard", (8, 8, 3, 1), 3, 4), "in_shape"),
])
def test_cost_errors(args, match):
    with pytest.raises(ValueError, match=match):
        conv_cost(*args, padding="valid")


def test_kinds_and_formatting():
    assert set(KINDS) == {"standard", "depthwise", "pointwise", "spatial_separable", "depthwise_separable"}
    assert format_count(568_740_352, "MACs") == "568.74 M MACs"
    assert format_count(27, "params") == "27 params"
    assert "FLOPs" in str(conv_cost("standard", (8, 8, 3), 3, 4))


def test_numpy_integer_sizes_count_in_python_ints():
    """NumPy int32/int64 sizes used to overflow silently (151 M instead of 268 G MACs)."""
    shape = (np.int32(2048), np.int32(2048), np.int32(256))
    big = conv_cost("standard", shape, np.int32(3), np.int32(256))
    assert big.macs == 2048 * 2048 * 9 * 256 * 256 and isinstance(big.macs, int)
    huge = conv_cost("pointwise", (np.int64(10**6), np.int64(10**6), np.int64(10**4)), 1, np.int64(10**4))
    assert huge.macs == 10**20 and huge.macs > 0  # beyond int64
    fc = dense_cost(np.int32(100_000), np.int32(100_000))
    assert fc.macs == 10**10 and type(fc.macs) is int and type(fc.params) is int


@pytest.mark.parametrize(("call", "message"), [
    (lambda: conv_cost("standard", (8, 8, 3), 3, 2.5), r"out_channels must be a positive integer, got 2\.5"),
    (lambda: conv_cost("standard", (8, 8, 3), 3, True), "out_channels must be a positive integer, got True"),
    (lambda: conv_cost("standard", (8, 8, 3), 3, np.float64(4)), "out_channels must be a positive integer"),
    (lambda: conv_cost("standard", (8, 8, 3), 3, 0), "out_channels must be a positive integer, got 0"),
    (lambda: conv_cost("standard", (8, 8, 3), 3), "needs out_channels"),
    (lambda: conv_cost("standard", (8, 8, 3.5), 3, 4), r"in_shape must be .* got \(8, 8, 3\.5\)"),
    (lambda: conv_cost("standard", (8, 8, 0), 3, 4), "in_shape must be"),
    (lambda: conv_cost("standard", (8, 8, 3, 1), 3, 4), "in_shape must be"),
    (lambda: conv_cost("standard", 8, 3, 4), "in_shape must be"),
    (lambda: conv_cost("standard", (8, 8, 3), 2.5, 4), "kernel size must be a positive integer"),
    (lambda: conv_cost("depthwise", (8, 8, 3), 3, depth_multiplier=1.5), "depth_multiplier must be"),
    (lambda: conv_cost("depthwise", (8, 8, 3), 3, stride=1.0), "stride must be"),
    (lambda: conv_cost("conv", (8, 8, 3), 3, 4), "unknown kind"),
    (lambda: dense_cost(10.5, 3), r"in_features must be a positive integer, got 10\.5"),
    (lambda: dense_cost(10, -3), "out_features must be a positive integer, got -3"),
    (lambda: dense_cost(False, 3), "in_features must be a positive integer"),
])
def test_cost_arguments_are_validated(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# ------------------------------------------------------------ grouped convolution
@pytest.mark.parametrize("groups", [1, 2, 4, 8])
def test_grouped_cost_divides_by_groups(groups):
    std = conv_cost("standard", (16, 16, 8), 3, 16)
    grp = conv_cost("standard", (16, 16, 8), 3, 16, groups=groups)
    assert (grp.macs * groups, grp.params * groups, grp.out_shape) == (std.macs, std.params, std.out_shape)
    assert conv_cost("standard", (16, 16, 8), 3, 16, groups=groups, bias=True).params == grp.params + 16


def test_groups_c_in_costs_the_same_as_depthwise():
    for m in (1, 2, 3):
        grp = conv_cost("standard", (20, 18, 4), 3, 4 * m, groups=4, stride=2)
        dw = conv_cost("depthwise", (20, 18, 4), 3, depth_multiplier=m, stride=2)
        assert (grp.macs, grp.params, grp.out_shape) == (dw.macs, dw.params, dw.out_shape)


def test_grouped_cost_counts_what_the_op_computes():
    """MACs = output values x (Kh Kw C_in/g): the number of products the loop sums for each output value."""
    image, kernel = np.ones((7, 6, 6)), np.ones((3, 3, 2, 9))
    out = conv.conv2d(image, kernel, groups=3, padding="valid")
    cost = conv_cost("standard", image.shape, 3, 9, groups=3, padding="valid")
    assert cost.out_shape == out.shape and cost.macs == out.size * 3 * 3 * 2 and cost.params == kernel.size
    assert out.max() == 3 * 3 * 2  # every output value is a sum of 18 products


@pytest.mark.parametrize("kwargs,message", [
    ({"kind": "standard", "out_channels": 6, "groups": 4}, "groups = 4 must divide both C_in = 8 and C_out = 6"),
    ({"kind": "depthwise", "groups": 2}, "groups applies to a standard convolution only"),
    ({"kind": "standard", "out_channels": 8, "groups": 0}, "groups must be a positive integer"),
])
def test_grouped_cost_bad_groups(kwargs, message):
    kind = kwargs.pop("kind")
    with pytest.raises(ValueError, match=message):
        conv_cost(kind, (8, 8, 8), 3, **kwargs)
