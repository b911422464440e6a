"""Notebook 03: a 1x1 convolution as channel mixing, as a bottleneck, and stacked with or without a ReLU.

Three explorers: :func:`one_by_one` (colour presets on the photograph),
:func:`bottleneck` (what a 1x1 reduction saves, and what the best one keeps of a
many-channel feature map) and :func:`two_one_by_ones` (two 1x1 convolutions with and
without a ReLU between them, against the best single 1x1).
"""

from __future__ import annotations

import functools

import numpy as np

from .. import conv, kernels
from ..costs import conv_cost, format_count
from ..widgets import Explorer, LinePanel, View
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


def _rules_03(values: dict) -> dict:
    """out channels: fixed by grayscale and the swap, at most 3 for YCbCr and PCA; ReLU: inert when the
    preset's outputs are never negative."""
    preset = values["preset"]
    rules: dict = {}
    if preset == "grayscale":
        rules["out_channels"] = {"disabled": "grayscale has exactly one output channel"}
    elif preset == "swap_rb":
        rules["out_channels"] = {"disabled": "the swap is a permutation of R, G, B: three output channels"}
    elif preset in ("ycbcr", "pca"):
        rules["out_channels"] = {"max": 3}
    img = _image("photo")
    w, b, _ = one_by_one_weights(preset, min(int(values["out_channels"]), 3 if preset != "random" else 6), img)
    if (conv.pointwise_conv2d(img, w) + b).min() >= 0:
        rules["relu"] = {"disabled": f"every output value of {preset} is already >= 0, so a ReLU changes nothing"}
    return rules


def one_by_one() -> Explorer:
    """Notebook 03's explorer: weight preset, number of output channels, ReLU."""
    controls = {
        "preset": ("dropdown", PRESETS_03, "random"),
        "out_channels": ("slider", 1, 6, 1, 3),
        "relu": ("checkbox", False),
    }
    states = [{"preset": "ycbcr"}, {"preset": "pca", "out_channels": 2}, {"preset": "grayscale"},
              {"preset": "random", "relu": True}]
    return Explorer(controls, one_by_one_view, ncols=3, panel_size=3.1, rules=_rules_03, states=states)


# ------------------------------------------------------------------ bottleneck
@functools.lru_cache(maxsize=16)
def feature_map(channels: int) -> np.ndarray:
    """A many-channel feature map: (48, 48, channels), read-only.

    The test card (subsampled to 48x48) through two random convolution layers with
    ReLU (5x5, 3 -> 32, then 3x3, 32 -> ``channels``; He-scaled weights, seed 0): the
    second-layer features of an untrained CNN, a stand-in for a real layer -- many
    channels, correlated, with a decaying spectrum.
    """
    rng = np.random.default_rng(0)
    card = np.asarray(_image("test_card", 48), dtype=float)
    card = card - card.mean(axis=(0, 1))
    h1 = np.maximum(conv.conv2d(card, rng.standard_normal((5, 5, 3, 32)) * np.sqrt(2 / 75)), 0)
    out = np.maximum(conv.conv2d(h1, rng.standard_normal((3, 3, 32, channels)) * np.sqrt(2 / 288)), 0)
    out.flags.writeable = False
    return out


@functools.lru_cache(maxsize=16)
def _pca_shares(channels: int) -> np.ndarray:
    """Share of the variance of :func:`feature_map` carried by each principal component: (channels,)."""
    return kernels.pca_pointwise(np.asarray(feature_map(channels)), 1)[2]


def bottleneck_macs(h: int, w: int, c_in: int, c_mid: int, k: int) -> tuple[int, int]:
    """(direct, bottleneck) MACs of a KxK convolution C_in -> C_in on (h, w, C_in), and of
    1x1 C_in -> C_mid, KxK C_mid -> C_mid, 1x1 C_mid -> C_in ('same' padding, stride 1)."""
    direct = conv_cost("standard", (h, w, c_in), k, c_in).macs
    reduce_ = conv_cost("pointwise", (h, w, c_in), 1, c_mid)
    middle = conv_cost("standard", reduce_.out_shape, k, c_mid)
    expand = conv_cost("pointwise", middle.out_shape, 1, c_in)
    return direct, reduce_.macs + middle.macs + expand.macs


def break_even_width(c_in: int, k: int) -> float:
    """The C_mid at which the bottleneck costs as much as the direct KxK convolution.

    Per pixel: 2·C_in·C_mid + K²·C_mid² = K²·C_in², solved for C_mid > 0.
    """
    a, b, c = k * k, 2 * c_in, -(k * k) * c_in * c_in
    return (-b + np.sqrt(b * b - 4 * a * c)) / (2 * a)


def bottleneck_view(c_in: int, c_mid: int, k: int) -> View:
    """MACs of a KxK layer with and without a 1x1 bottleneck, and the variance the best C_mid-channel 1x1 keeps."""
    c_mid = min(c_mid, c_in)
    h = w = 28
    direct, bott = bottleneck_macs(h, w, c_in, c_mid, k)
    shares = _pca_shares(c_in)
    kept = float(shares[:c_mid].sum())
    even = break_even_width(c_in, k)
    widths = np.arange(1, c_in + 1)
    cost_ratio = np.array([bottleneck_macs(h, w, c_in, m, k)[1] for m in widths]) / direct
    text = (f"{k}x{k} convolution {c_in} -> {c_in} on 28x28: {format_count(direct, 'MACs')} | bottleneck 1x1 "
            f"{c_in}->{c_mid}, {k}x{k} {c_mid}->{c_mid}, 1x1 {c_mid}->{c_in}: {format_count(bott, 'MACs')} "
            + (f"({direct / bott:.1f}x fewer)\n" if bott < direct else f"({bott / direct:.1f}x MORE than direct)\n")
            + f"the saving disappears at C_mid = {even:.0f} (2·C_in·C_mid + K²·C_mid² = K²·C_in²)\n"
            f"best {c_mid}-channel 1x1 (PCA, the least-squares optimum) keeps {kept:.1%} of the variance of a "
            f"{c_in}-channel feature map")
    mark = np.array([c_mid, c_mid])
    panels = [
        LinePanel("MACs of the bottleneck / direct KxK",
                  {"bottleneck / direct": (widths, cost_ratio),
                   "break-even (ratio 1)": (np.array([1, c_in]), np.ones(2)),
                   f"C_mid = {c_mid}": (mark, np.array([cost_ratio.min(), max(cost_ratio.max(), 1.0)]))},
                  "bottleneck width C_mid", "cost ratio (log)", logy=True),
        LinePanel("variance kept by the best C_mid-channel 1x1",
                  {"PCA": (widths, np.cumsum(shares)), f"C_mid = {c_mid}": (mark, np.array([0.0, 1.0]))},
                  "bottleneck width C_mid", "share of the variance", ylim=(0.0, 1.02)),
    ]
    return View(lines=panels, text=text, alt=(
        f"Two line plots against the bottleneck width C_mid for C_in = {c_in}, K = {k}: the MACs of the "
        "bottleneck over those of the direct convolution (log scale), and the share of the feature map's variance "
        f"kept by the best C_mid-channel 1x1; the current width {c_mid} is marked on both."))


def bottleneck() -> Explorer:
    """Notebook 03's bottleneck explorer: C_in, C_mid and the kernel size K."""
    controls = {
        "c_in": ("slider", 256, 512, 64, 256),
        "c_mid": ("slider", 4, 256, 4, 64),
        "k": ("slider", 3, 7, 2, 3),
    }
    return Explorer(controls, bottleneck_view, ncols=2, panel_size=4.0, states=[{"c_mid": 256}, {"k": 7}])


# ------------------------------------------------------------ two 1x1s, ReLU
def two_one_by_ones_view(hidden: int, relu: bool, centred: bool) -> View:
    """x -> 1x1 (3 -> hidden) -> [ReLU] -> 1x1 (hidden -> 3) on the photograph, and the best single 1x1 (+ bias) fit."""
    img = np.asarray(_image("photo", 128), dtype=float)
    x = img - img.mean(axis=(0, 1)) if centred else img
    rng = np.random.default_rng(0)
    w1, w2 = rng.standard_normal((3, hidden)), rng.standard_normal((hidden, 3)) / np.sqrt(hidden)
    mid = conv.pointwise_conv2d(x, w1)
    zeroed = float((mid < 0).mean())
    negative = (mid < 0).reshape(-1, hidden).mean(axis=0)
    switching = int(((negative > 0.05) & (negative < 0.95)).sum())  # units whose sign changes across pixels
    if relu:
        mid = np.maximum(mid, 0)
    out = conv.pointwise_conv2d(mid, w2)
    flat_x = np.c_[x.reshape(-1, 3), np.ones(x.shape[0] * x.shape[1])]
    flat_y = out.reshape(-1, 3)
    best, *_ = np.linalg.lstsq(flat_x, flat_y, rcond=None)
    fit = (flat_x @ best).reshape(out.shape)
    err = float(np.linalg.norm(fit - out) / max(np.linalg.norm(out), 1e-300))
    parts = (f"x{' - mean' if centred else ''} -> 1x1 (3 -> {hidden}) -> {'ReLU -> ' if relu else ''}"
             f"1x1 ({hidden} -> 3)")
    relu_note = (f"the ReLU zeroes {zeroed:.0%} of the hidden values; {switching} of {hidden} hidden units change "
                 "sign across the pixels (a unit that is always on or always off acts linearly)" if relu else
                 f"no ReLU ({zeroed:.0%} of the hidden values are negative and pass through)")
    verdict = ("the two 1x1s collapse into one: a single 3 -> 3 1x1 reproduces them" if err < 1e-9 else
               "no single 1x1 reproduces them: the ReLU between them makes the pair non-linear")
    text = (f"{parts}; {relu_note}\nbest single 1x1 (+ bias, least squares over all pixels): relative error "
            f"{err:.1e}\n{verdict}")
    panels = [(f"out c{i}", out[:, :, i]) for i in range(3)]
    panels.append(("|best single 1x1 - out|", np.abs(fit - out).sum(axis=2)))
    return View(panels=panels, text=text, shared_scale=False)


def two_one_by_ones() -> Explorer:
    """Notebook 03's explorer of two stacked 1x1 convolutions: hidden width, ReLU, centred input."""
    controls = {
        "hidden": ("slider", 1, 32, 1, 8),
        "relu": ("checkbox", True),
        "centred": ("checkbox", True),
    }
    return Explorer(controls, two_one_by_ones_view, ncols=2, panel_size=3.1,
                    states=[{"relu": False}, {"centred": False}])
