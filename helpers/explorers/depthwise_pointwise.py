"""Notebook 02: depthwise, pointwise and standard convolution side by side."""

from __future__ import annotations

import numpy as np

from .. import conv, kernels
from ..costs import conv_cost, format_count
from ..widgets import Explorer, View
from ._common import RGB, _image, _kernel

MODES_02 = ["standard", "depthwise", "pointwise", "depthwise-separable"]


def layer_weights(kernel: str, size: int, channels: int, out_channels: int, multiplier: int
                  ) -> dict[str, np.ndarray]:
    """The weights the notebook-02 explorer uses, from one spatial kernel (K, K).

    depthwise (K, K, C, M): the kernel rotated by m x 90 degrees for multiplier m;
    pointwise (C*M, C_out) and the standard kernel's channel weights: seeded random.
    standard (K, K, C, C_out): the kernel rotated by o x 90 degrees for output o,
    times a channel weight -- so it is *not* a depthwise-separable product.
    """
    k = _kernel(kernel, size)
    rng = np.random.default_rng(0)
    depthwise = np.stack([np.stack([np.rot90(k, m) for m in range(multiplier)], axis=-1)] * channels, axis=2)
    pointwise = rng.standard_normal((channels * multiplier, out_channels)) / np.sqrt(channels * multiplier)
    mix = rng.standard_normal((channels, out_channels)) / np.sqrt(channels)
    standard = np.stack([np.rot90(k, o)[:, :, None] * mix[None, None, :, o] for o in range(out_channels)], axis=-1)
    return {"depthwise": depthwise, "pointwise": pointwise, "standard": standard, "pointwise_only": mix}


def depthwise_pointwise_view(mode: str, kernel: str, size: int, out_channels: int, multiplier: int,
                             image: str = "test_card") -> View:
    """One of the four layer types on the sample image; the costs of all four."""
    img = _image(image, 128)
    c = img.shape[2]
    wts = layer_weights(kernel, size, c, out_channels, multiplier)
    k = wts["depthwise"].shape[0]
    if mode == "standard":
        out = conv.conv2d(img, wts["standard"])
        names = [f"out c{o}: rot{(o % 4) * 90}° kernel, all of R,G,B" for o in range(out_channels)]
    elif mode == "depthwise":
        out = conv.depthwise_conv2d(img, wts["depthwise"])
        names = [f"out c{i}: {RGB[i // multiplier]} only" for i in range(c * multiplier)]
    elif mode == "pointwise":
        out = conv.pointwise_conv2d(img, wts["pointwise_only"])
        names = [f"out c{o}: mix of R,G,B" for o in range(out_channels)]
    else:
        out = conv.depthwise_separable_conv2d(img, wts["depthwise"], wts["pointwise"])
        names = [f"out c{o}: dw then mix" for o in range(out_channels)]
    shape = img.shape
    costs = {
        "standard": conv_cost("standard", shape, k, out_channels),
        "depthwise": conv_cost("depthwise", shape, k, depth_multiplier=multiplier),
        "pointwise": conv_cost("pointwise", shape, 1, out_channels),
        "depthwise-separable": conv_cost("depthwise_separable", shape, k, out_channels, depth_multiplier=multiplier),
    }
    rows = [f"{'layer':20s} {'output':>14s} {'MACs':>12s} {'FLOPs':>12s} {'params':>8s}"]
    for name, cost in costs.items():
        mark = "  <- shown" if name == mode else ""
        rows.append(f"{name:20s} {str(cost.out_shape):>14s} {format_count(cost.macs):>12s} "
                    f"{format_count(cost.flops):>12s} {cost.params:8d}{mark}")
    note = "" if kernel in kernels.SIZED_KERNELS or size == 3 else f"   ({kernel} is 3×3 only; size ignored)"
    head = f"input {shape}, kernel {kernel} {k}×{k}, C_out = {out_channels}, depth multiplier M = {multiplier}{note}"
    return View(panels=[(n, out[:, :, i]) for i, n in enumerate(names)], text="\n".join([head, *rows]))


def depthwise_pointwise() -> Explorer:
    """Notebook 02's explorer: layer type, kernel, K, output channels and depth multiplier."""
    controls = {
        "mode": ("toggle", MODES_02, "depthwise"),
        "kernel": ("dropdown", ["sobel_x", "sobel_y", "laplacian", "gaussian", "box", "emboss", "random"], "sobel_x"),
        "size": ("slider", 1, 9, 2, 3),
        "out_channels": ("slider", 1, 8, 1, 4),
        "multiplier": ("slider", 1, 3, 1, 1),
    }
    return Explorer(controls, depthwise_pointwise_view, ncols=4)
