"""The explorer of each notebook: its controls and what it computes for them.

Each function returns an :class:`helpers.widgets.Explorer`; the notebook calls
``.show()`` for the static default view and ``.widget()`` for the live one. The
compute functions are plain functions of the control values, so the tests can call
them directly.
"""

from __future__ import annotations

import functools

import numpy as np
from matplotlib.figure import Figure

from . import cli, conv, kernels
from .costs import conv_cost, format_count
from .images import SAMPLES, sample_image
from .widgets import Explorer, View

__all__ = [
    "sliding_window",
    "separable",
    "depthwise_pointwise",
    "program",
    "one_by_one",
    "residual",
]

SPATIAL_NAMES = ["gaussian", "box", "sobel_x", "sobel_y", "laplacian", "sharpen", "emboss", "random"]
RGB = ["R", "G", "B"]


def _kernel(name: str, size: int, sigma: float | None = None) -> np.ndarray:
    if name in kernels.SIZED_KERNELS:
        return kernels.get_kernel(name, size, sigma if name == "gaussian" else None)
    return kernels.get_kernel(name)


@functools.lru_cache(maxsize=8)
def _image(name: str, size: int | None = None) -> np.ndarray:
    """A sample image (optionally subsampled to about ``size`` rows), decoded once.

    Every slider move asks for it, so it is cached: a contiguous, read-only array.
    """
    img = sample_image(name)
    if size is not None:
        step = max(1, img.shape[0] // size)
        img = img[::step, ::step]
    img = np.ascontiguousarray(img)
    img.flags.writeable = False
    return img


# ------------------------------------------------------------------- notebook 01
def sliding_window() -> Explorer:
    """Which input pixels feed one output pixel, for any padding, stride and dilation."""

    def compute(n: int, kernel: int, stride: int, padding: str, dilation: int, out_row: int, out_col: int) -> View:
        pad = int(padding) if padding.isdigit() else padding
        try:
            h_out, w_out = conv.output_size((n, n), kernel, stride=stride, padding=pad, dilation=dilation)
        except ValueError as exc:
            message = str(exc)
            return View(text=f"error: {message}",
                        draw=lambda fig: fig.text(0.5, 0.5, message[:90], ha="center", wrap=True))
        r, c = min(out_row, h_out - 1), min(out_col, w_out - 1)

        def draw(fig: Figure) -> None:
            from .plotting import draw_sliding_window

            draw_sliding_window(fig.add_subplot(1, 1, 1), (n, n), (kernel, kernel), (r, c), stride=stride,
                                padding=pad, dilation=dilation)

        text = (f"output size = floor((n + pad_total - d·(k-1) - 1) / s) + 1 = {h_out}×{w_out}   "
                f"(n={n}, k={kernel}, s={stride}, d={dilation}, padding={padding!r}); showing out[{r}, {c}]")
        return View(text=text, draw=draw)

    controls = {
        "n": ("slider", 3, 9, 1, 6),
        "kernel": ("slider", 1, 5, 1, 3),
        "stride": ("slider", 1, 3, 1, 1),
        "padding": ("dropdown", ["same", "valid", "0", "1", "2"], "same"),
        "dilation": ("slider", 1, 3, 1, 1),
        "out_row": ("slider", 0, 8, 1, 1),
        "out_col": ("slider", 0, 8, 1, 2),
    }
    return Explorer(controls, compute, ncols=2, panel_size=3.2, dpi=72)


def separable_view(kernel: str, size: int, sigma: float, method: str, image: str) -> View:
    """Every channel of the sample image filtered fully, separably, or by the best rank-1 kernel."""
    img = _image(image)
    k = _kernel(kernel, size, sigma)
    sep = kernels.separability(k)
    kh, kw = k.shape
    full = conv.depthwise_conv2d(img, k)
    terms = kernels.low_rank_terms(k)
    if method == "full":
        out = full
    elif method == "separable":  # exact: one separable pass per singular value
        out = sum(conv.spatial_separable_conv2d(img, c, r) for c, r in terms)
    else:
        out = conv.spatial_separable_conv2d(img, sep.column, sep.row)
    diff = np.abs(out - full).max(axis=2)
    diff[diff < 1e-9 * max(np.abs(full).max(), 1e-300)] = 0.0  # round-off is shown as exactly 0 (black)
    full_cost = conv_cost("depthwise", img.shape, (kh, kw))
    sep_cost = conv_cost("spatial_separable", img.shape, (kh, kw))
    r = max(len(terms), 1)
    h, w, _ = img.shape
    lines = [
        f"kernel {kernel} {kh}×{kw}: SVD rank {sep.rank} "
        f"({'separable' if sep.separable else 'not separable'}); best rank-1 relative error {sep.relative_error:.3f}",
        f"full 2-D        : {kh * kw:3d} MACs per pixel and channel -> {format_count(full_cost.macs, 'MACs')} "
        f"on {h}×{w}×3",
        f"separable ×{r} : {r * (kh + kw):3d} MACs per pixel and channel -> {format_count(r * sep_cost.macs, 'MACs')}"
        + ("   (rank > 1: costs more than the full kernel!)" if r * (kh + kw) > kh * kw else ""),
        f"best rank-1     : {kh + kw:3d} MACs per pixel and channel -> {format_count(sep_cost.macs, 'MACs')}",
        f"showing {method}: max |difference from full| = {diff.max():.2e}",
    ]
    panels = [(f"{method}: {name}", out[:, :, i]) for i, name in enumerate(RGB)]
    panels.append(("|difference| vs full", diff))
    return View(panels=panels, text="\n".join(lines), shared_scale=False)


def separable() -> Explorer:
    """Notebook 01's explorer: kernel, size, sigma and full / separable / best rank-1."""
    controls = {
        "method": ("toggle", ["full", "separable", "best rank-1"], "separable"),
        "kernel": ("dropdown", SPATIAL_NAMES, "gaussian"),
        "size": ("slider", 3, 15, 2, 7),
        "sigma": ("float", 0.5, 4.0, 0.25, 1.5),
        "image": ("dropdown", ["test_card", "photo"], "test_card"),
    }
    return Explorer(controls, separable_view, ncols=4)


# ------------------------------------------------------------------- notebook 02
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


# ------------------------------------------------------------------- notebook 05
def command_line(mode: str, kernel: str, image: str, stride: int, padding: str) -> str:
    """The shell command equivalent to an explorer setting."""
    parts = ["python convolution_program.py", f"--mode {mode}"]
    if kernel != "default":
        parts.append(f"--kernel {kernel}")
    if image != "test_card":
        parts.append(f"--image images/{SAMPLES[image]}")
    if stride != 1:
        parts.append(f"--stride {stride}")
    if padding != "same":
        parts.append(f"--padding {padding}")
    return " ".join(parts)


def program_view(mode: str, kernel: str, image: str, stride: int, padding: str) -> View:
    """What ``convolution_program.py`` computes for these flags (via helpers.cli)."""
    img = _image(image)
    cmd = command_line(mode, kernel, image, stride, padding)
    pad = int(padding) if padding.isdigit() else padding
    try:
        k, _ = cli.resolve_kernel(None if kernel == "default" else kernel, mode, pointwise=mode == "pointwise")
        weights = cli.resolve_kernel(None, mode, pointwise=True)[0] if mode == "depthwise_separable" else None
        out, used, notes, cost = cli.convolve(img, k, mode, weights=weights, stride=stride, padding=pad)
    except (ValueError, cli.UsageError) as exc:
        gray = img.mean(axis=2)
        return View(panels=[("input (no output)", gray)],
                    text=f"$ {cmd}\nconvolution_program.py: error: {exc}")
    text = [f"$ {cmd}",
            f"kernel {tuple(used.shape)} -> output {out.shape}: {format_count(cost.macs, 'MACs')} "
            f"= {format_count(cost.flops, 'FLOPs')}, {format_count(cost.params, 'params')}",
            *[f"note: {n}" for n in notes]]
    return View(panels=[(f"out c{i}", out[:, :, i]) for i in range(out.shape[2])], text="\n".join(text))


def program() -> Explorer:
    """Notebook 05's explorer: the program's flags as widgets, and the command line they make."""
    controls = {
        "mode": ("toggle", list(cli.MODES), "depthwise"),
        "kernel": ("dropdown", ["default", *SPATIAL_NAMES, *kernels.POINTWISE_PRESETS], "default"),
        "image": ("dropdown", ["test_card", "photo"], "test_card"),
        "stride": ("slider", 1, 4, 1, 1),
        "padding": ("dropdown", ["same", "valid", "0", "1", "2"], "same"),
    }
    return Explorer(controls, program_view, ncols=4)


# ------------------------------------------------------------------- notebook 03
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


# ------------------------------------------------------------------- notebook 04
def residual_view(depth: int, residual: str, activation: str, init_scale: float, steps: int = 60) -> View:
    """Per-layer gradient norms at initialisation and a short training run on the spirals."""
    from . import nn

    x, y = nn.spirals(60, 3, seed=0)
    use_res = residual == "residual"
    net = nn.make_network(depth, residual=use_res, activation=activation, init_scale=init_scale)
    with np.errstate(all="ignore"):
        norms = nn.activation_gradient_norms(net, x, y)
        losses = nn.train(net, x, y, steps=steps, optimizer=nn.SGD(lr=0.05))
    from .widgets import LinePanel

    layers = np.arange(len(norms))
    finite = np.isfinite(norms) & (norms > 0)
    ratio = norms[0] / norms[-1] if norms[-1] else float("nan")
    text = (f"{residual} network, {depth} hidden blocks of 32 {activation} units, init scale {init_scale:.2f}: "
            f"{sum(v.size for v, _ in net.params())} params\n"
            f"‖dL/dh‖ at init: {norms[-1]:.2e} entering the output layer, {norms[0]:.2e} reaching the input "
            f"(ratio {ratio:.2e})\n"
            f"training loss after {steps} SGD steps: {losses[-1]:.3f} (start {losses[0]:.3f})")
    panels = [
        LinePanel("‖dL/dh‖ at each layer's input, at initialisation", {residual: (layers[finite], norms[finite])},
                  "layer (input → output)", "gradient norm", logy=True),
        LinePanel("training loss (spirals)", {residual: (np.arange(len(losses)), np.array(losses))},
                  "step", "cross-entropy", ylim=(0.0, 1.05 * max([v for v in losses if np.isfinite(v)] or [1.0]))),
    ]
    return View(lines=panels, text=text)


def residual() -> Explorer:
    """Notebook 04's explorer: depth, residual on/off, activation, initialisation scale."""
    controls = {
        "residual": ("toggle", ["plain", "residual"], "residual"),
        "depth": ("slider", 1, 40, 1, 20),
        "activation": ("dropdown", ["tanh", "relu"], "tanh"),
        "init_scale": ("float", 0.0, 2.0, 0.1, 0.5),
    }
    return Explorer(controls, residual_view, ncols=2, panel_size=3.0)
