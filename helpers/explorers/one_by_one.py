"""Notebook 03: a 1x1 convolution as channel mixing."""

from __future__ import annotations

import numpy as np

from .. import conv, kernels
from ..costs import conv_cost, format_count
from ..widgets import Explorer, View
from ._common import _image

PRESETS_03 = ["grayscale", "ycbcr", "pca", "random", "swap_rb"]


def one_by_one_weights(preset: str, out_channels: int, image: np.ndarray) -> tuple[np.ndarray, np.ndarray, str]:
    """(weights (3, C_out), bias (C_out,), note) for a notebook-03 preset on an RGB image (H, W, 3)."""
    note = ""
    bias = None
    if preset == "grayscale":
        w = kernels.pointwise_preset("grayscale")
        note = "grayscale has exactly one output channel"
    elif preset == "ycbcr":
        k = min(out_channels, 3)
        w = kernels.pointwise_preset("ycbcr")[:, :k]
        bias = np.array([0.0, 0.5, 0.5])[:k]  # Cb and Cr are offset by +0.5: a bias, not a weight
        note = "Y, Cb, Cr: at most 3 channels" if out_channels > 3 else ""
    elif preset == "pca":
        k = min(out_channels, 3)
        w, mean, explained = kernels.pca_pointwise(image, k)
        bias = -mean @ w
        note = f"PCA keeps {explained[:k].sum():.1%} of the pixel variance with {k} channel(s)"
        if out_channels > 3:
            note += "; RGB has only 3 principal components"
    elif preset == "random":
        w = np.random.default_rng(0).standard_normal((3, out_channels)) / np.sqrt(3)
        note = "random mixing; more outputs than inputs is an expansion" if out_channels > 3 else "random mixing"
    elif preset == "swap_rb":
        w = kernels.pointwise_preset("swap_rb")
        note = "a permutation: B, G, R (3 channels)"
    else:
        raise ValueError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS_03)}")
    return w, np.zeros(w.shape[1]) if bias is None else bias, note


def one_by_one_view(preset: str, out_channels: int, relu: bool, image: str = "photo") -> View:
    """A 1x1 convolution of the sample image with a preset weight matrix, optionally followed by ReLU."""
    img = _image(image)
    w, b, note = one_by_one_weights(preset, out_channels, img)
    out = conv.pointwise_conv2d(img, w) + b
    if relu:
        negative = float((out < 0).mean())
        out = np.maximum(out, 0)
        note += f"; ReLU zeroed {negative:.0%} of the values"
    cost = conv_cost("pointwise", img.shape, 1, w.shape[1], bias=bool(np.any(b)))
    text = (f"1×1 convolution {img.shape[2]} -> {w.shape[1]} channels ({preset}{' + ReLU' if relu else ''}): "
            f"{format_count(cost.macs, 'MACs')} = {format_count(cost.flops, 'FLOPs')}, "
            f"{cost.params} params\nweights (C_in × C_out):\n{np.array2string(w, precision=3, suppress_small=True)}"
            + (f"\nnote: {note}" if note else ""))
    return View(panels=[(f"out c{i}", out[:, :, i]) for i in range(out.shape[2])], text=text, shared_scale=False)


def one_by_one() -> Explorer:
    """Notebook 03's explorer: weight preset, number of output channels, ReLU."""
    controls = {
        "preset": ("dropdown", PRESETS_03, "ycbcr"),
        "out_channels": ("slider", 1, 6, 1, 3),
        "relu": ("checkbox", False),
    }
    return Explorer(controls, one_by_one_view, ncols=6)
