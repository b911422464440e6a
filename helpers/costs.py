"""Counting the cost of a layer: multiply-accumulates (MACs) and parameters.

One MAC is one multiplication and one addition, so FLOPs = 2 x MACs. The MobileNet
paper's "Mult-Adds" are MACs; the ResNet paper's "FLOPs" are MACs too. Every number
printed by this series says which unit it is.

For an input (H, W, C_in), a kernel Kh x Kw and an output (H', W', C_out)
(H', W' from :func:`helpers.conv.output_size`):

==================== ================================== ==============================
kind                 MACs                               parameters (bias=False)
==================== ================================== ==============================
standard             H'W' · Kh·Kw · C_in · C_out        Kh·Kw·C_in·C_out
standard, groups=g   H'W' · Kh·Kw · (C_in/g) · C_out    Kh·Kw·(C_in/g)·C_out
depthwise            H'W' · Kh·Kw · C_in · M            Kh·Kw·C_in·M
pointwise            H'W' · C_in · C_out                C_in·C_out
spatial_separable    C_in · (H'·W·Kh + H'·W'·Kw)        C_in·(Kh + Kw)
depthwise_separable  H'W' · C_in·M · (Kh·Kw + C_out)    C_in·M·(Kh·Kw + C_out)
==================== ================================== ==============================

``bias=True`` adds one parameter per output channel of each convolution (and, for
``depthwise_separable``, for both of its convolutions); biases are counted as
parameters, not as MACs. Batch-norm is not counted.
"""

from __future__ import annotations

from dataclasses import dataclass

from .conv import Padding, _is_int, _pair, output_size

__all__ = ["Cost", "conv_cost", "dense_cost", "KINDS", "format_count"]

KINDS = ("standard", "depthwise", "pointwise", "spatial_separable", "depthwise_separable")


def format_count(n: float, unit: str = "") -> str:
    """12_345_678 -> '12.35 M'; with a unit, '12.35 M MACs' (and 27 -> '27 params')."""
    for factor, prefix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= factor:
            text = f"{n / factor:.2f} {prefix}"
            break
    else:
        text = f"{n:g}"
    return f"{text} {unit}" if unit else text


@dataclass(frozen=True)
class Cost:
    """The cost of one layer, or of several added together.

    macs: multiply-accumulates for one input (batch size 1).
    params: learnable parameters.
    out_shape: shape of the layer's output, (H', W', C_out) or (features,).
    """

    macs: int
    params: int
    out_shape: tuple[int, ...]
    kind: str = ""

    @property
    def flops(self) -> int:
        """Floating-point operations, counted as 2 x MACs."""
        return 2 * self.macs

    def __add__(self, other: Cost) -> Cost:
        """Cost of this layer followed by ``other`` (the output shape is the later one's)."""
        if not isinstance(other, Cost):
            return NotImplemented
        return Cost(self.macs + other.macs, self.params + other.params, other.out_shape, "total")

    def __radd__(self, other: object) -> Cost:
        if other == 0:  # lets sum([...]) start from 0
            return self
        return NotImplemented

    def __str__(self) -> str:
        return (
            f"{format_count(self.macs, 'MACs')} ({format_count(self.flops, 'FLOPs')}), "
            f"{format_count(self.params, 'params')}, output {self.out_shape}"
        )


def _count(name: str, value: object) -> int:
    """A positive integer (Python or NumPy) as a Python int, so that products never overflow."""
    if not _is_int(value) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _check_shape(in_shape: tuple[int, ...]) -> tuple[int, int, int]:
    message = f"in_shape must be (H, W, C) or (H, W) with positive integer sizes, got {in_shape!r}"
    try:
        sizes = tuple(in_shape)
    except TypeError:
        raise ValueError(message) from None
    if len(sizes) not in (2, 3) or not all(_is_int(v) and v >= 1 for v in sizes):
        raise ValueError(message)
    h, w, c = (*sizes, 1) if len(sizes) == 2 else sizes
    return int(h), int(w), int(c)


def conv_cost(
    kind: str,
    in_shape: tuple[int, ...],
    kernel_size: int | tuple[int, int],
    out_channels: int | None = None,
    *,
    stride: int = 1,
    padding: Padding = "same",
    dilation: int = 1,
    depth_multiplier: int = 1,
    bias: bool = False,
    groups: int = 1,
) -> Cost:
    """MACs, parameters and output shape of one convolution layer.

    Parameters
    ----------
    kind : "standard" | "depthwise" | "pointwise" | "spatial_separable" | "depthwise_separable".
    in_shape : (H, W, C_in) (or (H, W) for one channel).
    kernel_size : K or (Kh, Kw); must be 1 for "pointwise".
    out_channels : C_out; required for standard, pointwise and depthwise_separable,
        ignored otherwise (depthwise and spatial_separable output C_in * M channels).
    stride, padding, dilation : as in :mod:`helpers.conv`. A pointwise layer may have
        a stride (a ResNet projection shortcut); a spatial_separable one may not.
    depth_multiplier : M for depthwise and depthwise_separable.
    bias : count one bias per output channel of each convolution.
    groups : g for a grouped "standard" convolution (PyTorch's ``groups``; g divides C_in
        and C_out): each output channel sees C_in / g input channels, so MACs and
        parameters are divided by g. ``groups = C_in`` is a depthwise convolution.

    Returns
    -------
    Cost with ``.macs``, ``.params``, ``.flops`` (= 2 * macs) and ``.out_shape``.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; choose one of: {', '.join(KINDS)}")
    h, w, c_in = _check_shape(in_shape)
    kh, kw = _pair(kernel_size)
    m = _count("depth_multiplier", depth_multiplier)
    if kind in ("standard", "pointwise", "depthwise_separable"):
        if out_channels is None:
            raise ValueError(f"{kind} convolution needs out_channels (a positive integer), got None")
        out_channels = _count("out_channels", out_channels)
    if kind == "pointwise" and (kh, kw) != (1, 1):
        raise ValueError(f"a pointwise convolution has a 1x1 kernel, got kernel_size {kernel_size!r}")
    if kind == "spatial_separable" and (stride != 1 or dilation != 1):
        raise ValueError("spatial_separable is counted for stride 1 and dilation 1 only (as the op is defined)")

    g = _check_groups(kind, groups, c_in, out_channels)
    h_out, w_out = output_size((h, w), (kh, kw), stride=stride, padding=padding, dilation=dilation)
    pixels = h_out * w_out
    b = int(bool(bias))
    if kind == "standard":
        per_group = c_in // g
        macs, params = pixels * kh * kw * per_group * out_channels, kh * kw * per_group * out_channels
        c_out = out_channels
        params += b * c_out
    elif kind == "pointwise":
        macs, params, c_out = pixels * c_in * out_channels, c_in * out_channels, out_channels
        params += b * c_out
    elif kind == "depthwise":
        c_out = c_in * m
        macs, params = pixels * kh * kw * c_out, kh * kw * c_out + b * c_out
    elif kind == "spatial_separable":
        # the vertical pass produces H' x W rows (padding only rows), then the horizontal pass
        rows_out, _ = output_size((h, w), (kh, 1), padding=padding)
        c_out = c_in
        macs = c_in * (rows_out * w * kh + pixels * kw)
        params = c_in * (kh + kw) + b * c_in
    else:  # depthwise_separable
        mid = c_in * m
        c_out = out_channels
        macs = pixels * mid * (kh * kw + out_channels)
        params = mid * (kh * kw + out_channels) + b * (mid + out_channels)
    return Cost(int(macs), int(params), (h_out, w_out, int(c_out)), kind)


def _check_groups(kind: str, groups: object, c_in: int, c_out: int | None) -> int:
    """``groups`` as an int: 1 for every kind, a common divisor of C_in and C_out for "standard"."""
    if not _is_int(groups) or groups < 1:
        raise ValueError(f"groups must be a positive integer, got {groups!r}")
    groups = int(groups)
    if groups != 1 and kind != "standard":
        raise ValueError(f"groups applies to a standard convolution only, not {kind!r} "
                         "(a depthwise convolution is groups = C_in)")
    if c_in % groups or (c_out is not None and c_out % groups):
        raise ValueError(f"groups = {groups} must divide both C_in = {c_in} and C_out = {c_out}")
    return groups


def dense_cost(in_features: int, out_features: int, *, bias: bool = True) -> Cost:
    """A fully connected layer: in x out MACs, in x out (+ out bias) parameters.

    Returns a Cost whose out_shape is (out_features,).
    """
    in_features = _count("in_features", in_features)
    out_features = _count("out_features", out_features)
    macs = in_features * out_features
    return Cost(macs, macs + (out_features if bias else 0), (int(out_features),), "dense")


# ------------------------------------------------------------- MobileNet v1 (2017)
# Table 1 of Howard et al., "MobileNets" (arXiv:1704.04861): after a stride-2 3x3
# convolution to 32 channels, 13 depthwise-separable blocks (depthwise stride, pointwise
# output channels). The table prints "Conv dw / s2" for the 13th block, but its own
# input and output are both 7x7x1024, so the stride there is 1; that reading gives the
# paper's totals.
MOBILENET_V1_BLOCKS = (
    (1, 64), (2, 128), (1, 128), (2, 256), (1, 256), (2, 512),
    (1, 512), (1, 512), (1, 512), (1, 512), (1, 512),
    (2, 1024), (1, 1024),
)


def mobilenet_v1_layers(full_convolution: bool = False, resolution: int = 224) -> list[tuple[str, Cost]]:
    """Layer-by-layer cost of MobileNet v1 (width multiplier 1) for one image.

    full_convolution: replace every depthwise-separable block by a standard 3x3
    convolution with the same stride and channels (the paper's "Conv MobileNet").

    Counted: convolution and fully connected weights (no conv bias: batch-norm follows
    every conv and its parameters are not counted), the FC bias, and MACs of conv and
    FC layers. Average pooling and softmax are not counted. Returns [(name, Cost)].
    """
    layers = [("conv 3x3 s2", conv_cost("standard", (resolution, resolution, 3), 3, 32, stride=2))]
    shape = layers[0][1].out_shape
    for i, (stride, c_out) in enumerate(MOBILENET_V1_BLOCKS, start=1):
        if full_convolution:
            layers.append((f"conv 3x3 s{stride} #{i}", conv_cost("standard", shape, 3, c_out, stride=stride)))
        else:
            dw = conv_cost("depthwise", shape, 3, stride=stride)
            layers.append((f"dw 3x3 s{stride} #{i}", dw))
            layers.append((f"pw 1x1 #{i}", conv_cost("pointwise", dw.out_shape, 1, c_out)))
        shape = layers[-1][1].out_shape
    layers.append(("fc 1024->1000", dense_cost(shape[2], 1000, bias=True)))
    return layers
