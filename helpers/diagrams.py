"""Schematics drawn by code, so they render wherever a notebook runs (Colab included).

Each schematic lives in its own function and returns a :class:`~helpers.plotting.NotebookFigure`
with a text alternative:

* :func:`connectivity_figure` (notebook 02) -- which input channels feed which output
  channels in a standard, depthwise, pointwise and grouped convolution.
* :func:`one_by_one_mixing` (notebook 03) -- a 1x1 convolution as channel mixing: the C_in
  values of one pixel, the weight matrix (values in the cells) and the C_out values it makes.
* :func:`residual_blocks` (notebook 04) -- a plain block, a ResNet v1 block and a
  pre-activation block side by side, with the shortcut drawn around the branch.
"""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Rectangle

from .plotting import NotebookFigure, new_figure

__all__ = ["CONNECTIVITY_KINDS", "connections", "draw_connectivity", "connectivity_figure", "one_by_one_mixing",
           "residual_blocks"]

# ----------------------------------------------------------- notebook 02: connectivity
CONNECTIVITY_KINDS = ("standard", "depthwise", "pointwise", "grouped")
_CHANNEL_COLOURS = ("#d62728", "#2ca02c", "#1f77b4", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")


def connections(kind: str, c_in: int, c_out: int, groups: int = 2) -> list[tuple[int, int]]:
    """Which input channel feeds which output channel: a list of (c, o) pairs.

    standard and pointwise: every input feeds every output. depthwise (multiplier
    c_out // c_in): output o reads input o // M only. grouped: ``groups`` blocks of
    c_in/groups inputs feeding c_out/groups outputs (PyTorch ``groups=``).
    """
    if kind not in CONNECTIVITY_KINDS:
        raise ValueError(f"unknown kind {kind!r}; choose one of: {', '.join(CONNECTIVITY_KINDS)}")
    if kind in ("standard", "pointwise"):
        return [(c, o) for o in range(c_out) for c in range(c_in)]
    if kind == "depthwise":
        if c_out % c_in:
            raise ValueError(f"depthwise needs c_out a multiple of c_in, got {c_in} -> {c_out}")
        m = c_out // c_in
        return [(o // m, o) for o in range(c_out)]
    if c_in % groups or c_out % groups:
        raise ValueError(f"grouped needs c_in and c_out divisible by groups={groups}, got {c_in} -> {c_out}")
    gi, go = c_in // groups, c_out // groups
    return [(c, o) for o in range(c_out) for c in range((o // go) * gi, (o // go + 1) * gi)]


def _kernel_text(kind: str, k: int, c_in: int, groups: int) -> str:
    return {
        "standard": f"each output: one {k}×{k}×{c_in} kernel",
        "depthwise": f"each output: one {k}×{k}×1 kernel",
        "pointwise": f"each output: one 1×1×{c_in} kernel",
        "grouped": f"each output: one {k}×{k}×{c_in // groups} kernel",
    }[kind]


def draw_connectivity(ax: Axes, kind: str, c_in: int = 4, c_out: int = 4, k: int = 3, groups: int = 2) -> int:
    """Draw input channels (left), output channels (right) and one line per (input, output) pair
    that a weight connects, coloured by the input channel. Returns the number of weights."""
    pairs = connections(kind, c_in, c_out, groups)
    taps = 1 if kind == "pointwise" else k * k
    n_weights = len(pairs) * taps
    ax.set_xlim(-0.2, 3.2)
    ax.set_ylim(max(c_in, c_out) + 0.1, -1.6)
    ax.set_axis_off()

    def y_of(i: int, n: int) -> float:
        return i + (max(c_in, c_out) - n) / 2 + 0.5

    for c in range(c_in):
        colour = _CHANNEL_COLOURS[c % len(_CHANNEL_COLOURS)]
        ax.add_patch(Rectangle((0.0, y_of(c, c_in) - 0.35), 0.7, 0.7, facecolor=colour, alpha=0.35,
                               edgecolor=colour, lw=1.5))
        ax.text(0.35, y_of(c, c_in), f"in {c}", ha="center", va="center", fontsize=10)
    for o in range(c_out):
        ax.add_patch(Rectangle((2.3, y_of(o, c_out) - 0.35), 0.7, 0.7, facecolor="white", edgecolor="#444444", lw=1.5))
        ax.text(2.65, y_of(o, c_out), f"out {o}", ha="center", va="center", fontsize=10)
    for c, o in pairs:
        ax.plot([0.7, 2.3], [y_of(c, c_in), y_of(o, c_out)], color=_CHANNEL_COLOURS[c % len(_CHANNEL_COLOURS)],
                lw=1.6, alpha=0.85)
    title = {"standard": f"standard {k}×{k}", "depthwise": f"depthwise {k}×{k}", "pointwise": "pointwise 1×1",
             "grouped": f"grouped {k}×{k}, groups={groups}"}[kind]
    ax.text(1.5, -1.2, title, ha="center", va="center", fontsize=12, weight="bold")
    text = (f"{_kernel_text(kind, k, c_in, groups)}\n{len(pairs)} links × {taps} tap{'s' if taps != 1 else ''} "
            f"= {n_weights} weights")
    ax.text(1.5, -0.55, text, ha="center", va="center", fontsize=10)
    return n_weights


def connectivity_figure(c_in: int = 4, c_out: int = 4, k: int = 3, groups: int = 2) -> NotebookFigure:
    """Four panels side by side: standard, depthwise, pointwise and grouped convolution,
    each as input channels linked to the output channels they feed, with the kernel
    shape per output channel and the weight count."""
    counts = {}
    fig = new_figure(
        alt=(f"Connectivity of four layer types with {c_in} input and {c_out} output channels: standard and "
             f"pointwise link every input to every output, depthwise links input c to output c only, grouped "
             f"(groups={groups}) links each block of {c_in // groups} inputs to its own {c_out // groups} outputs."),
        figsize=(13, 4.2), layout="constrained")
    axes = fig.subplots(1, len(CONNECTIVITY_KINDS))
    for ax, kind in zip(axes, CONNECTIVITY_KINDS, strict=True):
        counts[kind] = draw_connectivity(ax, kind, c_in, c_out, k, groups)
    fig.set_facecolor("white")
    fig.counts = counts  # weights per kind, for the notebook's asserts
    return fig


# ------------------------------------------------- notebooks 03 and 04: 1x1 and residual blocks
_COLOURS = {"weight": "#cfe2f3", "BN": "#fff2cc", "ReLU": "#d9ead3", "add": "#f4cccc"}


def _box(ax: object, x: float, y: float, text: str, kind: str, w: float = 1.6, h: float = 0.42) -> None:
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.03",
                                facecolor=_COLOURS[kind], edgecolor="#333333", lw=1))
    ax.text(x, y, text, ha="center", va="center", fontsize=10)


def _arrow(ax: object, p: tuple[float, float], q: tuple[float, float], colour: str = "#333333",
           style: str = "-|>", rad: float = 0.0, lw: float = 1.2) -> None:
    ax.add_patch(FancyArrowPatch(p, q, arrowstyle=style, mutation_scale=12, color=colour, lw=lw,
                                 connectionstyle=f"arc3,rad={rad}"))


def residual_blocks() -> NotebookFigure:
    """Plain block, ResNet v1 block (He et al. 2015) and pre-activation block (He et al. 2016), drawn bottom-up."""
    fig = new_figure(alt="Three block diagrams, input at the bottom: a plain block (weight, BN, ReLU, weight, BN, "
                         "ReLU), a ResNet v1 block (the same branch, its output added to the input carried by a "
                         "shortcut arrow, then ReLU), and a pre-activation block (BN, ReLU, weight, BN, ReLU, weight, "
                         "then the addition with nothing after it).",
                     figsize=(10, 5.2), layout="constrained")
    axes = fig.subplots(1, 3)
    stacks = {
        "plain block\n$x_{l+1} = \\mathrm{ReLU}(F(x_l))$": (["weight", "BN", "ReLU", "weight", "BN", "ReLU"], None),
        "ResNet v1 (2015)\n$x_{l+1} = \\mathrm{ReLU}(x_l + F(x_l))$":
            (["weight", "BN", "ReLU", "weight", "BN", "add", "ReLU"], 5),
        "pre-activation (2016)\n$x_{l+1} = x_l + F(x_l)$": (["BN", "ReLU", "weight", "BN", "ReLU", "weight", "add"], 6),
    }
    for ax, (title, (stack, add_at)) in zip(axes, stacks.items(), strict=True):
        ys = np.arange(len(stack)) * 0.8 + 1.0
        ax.text(0, 0.25, "$x_l$", ha="center", va="center", fontsize=11)
        _arrow(ax, (0, 0.42), (0, ys[0] - 0.23))
        for i, (kind, y) in enumerate(zip(stack, ys, strict=True)):
            if kind == "add":
                ax.add_patch(FancyBboxPatch((-0.22, y - 0.22), 0.44, 0.44, boxstyle="circle,pad=0.0",
                                            facecolor=_COLOURS["add"], edgecolor="#333333"))
                ax.text(0, y, "+", ha="center", va="center", fontsize=14)
            else:
                _box(ax, 0, y, "weight\n(3×3 conv / dense)" if kind == "weight" else kind, kind,
                     h=0.55 if kind == "weight" else 0.42)
            if i + 1 < len(stack):
                _arrow(ax, (0, y + 0.25), (0, ys[i + 1] - 0.25))
        top = ys[-1] + 0.6
        _arrow(ax, (0, ys[-1] + 0.25), (0, top))
        ax.text(0, top + 0.2, "$x_{l+1}$", ha="center", va="center", fontsize=11)
        if add_at is not None:  # the shortcut: out to the right, up, into the addition
            y_add = ys[add_at]
            ax.plot([0, 1.45, 1.45], [0.55, 0.55, y_add], color="#cc0000", lw=2)
            _arrow(ax, (1.45, y_add), (0.24, y_add), colour="#cc0000", lw=2)
            ax.text(1.55, (0.55 + y_add) / 2, "identity\nshortcut", color="#cc0000", fontsize=10, va="center")
            ax.text(-1.05, (ys[0] + ys[add_at - 1]) / 2, "branch F", rotation=90, fontsize=10, va="center",
                    color="#555555")
        ax.set_xlim(-1.3, 2.5)
        ax.set_ylim(0, top + 0.5)
        ax.set_title(title, fontsize=11)
        ax.axis("off")
    fig.set_facecolor("white")
    return fig


def one_by_one_mixing(weights: np.ndarray | None = None, pixel: np.ndarray | None = None) -> NotebookFigure:
    """A 1x1 convolution at one pixel: out[y, x, :] = image[y, x, :] @ W, with W drawn with its values.

    weights: (C_in, C_out); pixel: (C_in,). Defaults: a 4 -> 3 example with fixed values.
    """
    w = np.array([[0.5, -1.0, 0.0], [0.25, 0.5, 1.0], [-0.5, 0.0, 0.5], [1.0, 0.25, -0.25]]) if weights is None \
        else np.asarray(weights, dtype=float)
    v = np.array([1.0, 2.0, -1.0, 0.5]) if pixel is None else np.asarray(pixel, dtype=float)
    if w.ndim != 2 or v.shape != (w.shape[0],):
        raise ValueError(f"weights must be (C_in, C_out) and pixel (C_in,), got {w.shape} and {v.shape}")
    out = v @ w
    c_in, c_out = w.shape
    fig = new_figure(alt=f"A 1x1 convolution as channel mixing: the {c_in} channel values of one pixel (left), "
                         f"the {c_in}x{c_out} weight matrix with its values (middle, diverging colours) and the "
                         f"{c_out} output channel values of the same pixel (right), each output a weighted sum of "
                         "all inputs; the same matrix is used at every pixel.",
                     figsize=(8, 3.8), layout="constrained")
    ax_in, ax_w, ax_out = fig.subplots(1, 3, gridspec_kw={"width_ratios": [1.6, c_out + 1.4, 1.6]})
    m = max(np.abs(w).max(), 1e-12)
    im = ax_w.imshow(w, cmap="RdBu_r", vmin=-m, vmax=m)
    for i in range(c_in):
        for j in range(c_out):
            ax_w.text(j, i, f"{w[i, j]:g}", ha="center", va="center", fontsize=11,
                      color="white" if abs(w[i, j]) > 0.6 * m else "black")
    ax_w.set_xticks(range(c_out), [f"out c{j}" for j in range(c_out)], fontsize=10)
    ax_w.set_yticks(range(c_in), [f"in c{i}" for i in range(c_in)], fontsize=10)
    ax_w.set_title(f"W: ({c_in}, {c_out}), the same at every pixel", fontsize=11)
    fig.colorbar(im, ax=ax_w, shrink=0.8, label="weight")
    for ax, vec, name in ((ax_in, v, "image[y, x, :]"), (ax_out, out, "out[y, x, :] =\nimage[y, x, :] @ W")):
        mm = max(np.abs(vec).max(), 1e-12)
        ax.imshow(vec[:, None], cmap="RdBu_r", vmin=-mm, vmax=mm)
        for i, val in enumerate(vec):
            ax.text(0, i, f"{val:g}", ha="center", va="center", fontsize=11,
                    color="white" if abs(val) > 0.6 * mm else "black")
        ax.set_xticks([])
        ax.set_yticks(range(len(vec)), [f"c{i}" for i in range(len(vec))], fontsize=10)
        ax.set_title(name, fontsize=11)
    fig.set_facecolor("white")
    return fig
