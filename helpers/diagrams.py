"""Schematics drawn by code, so they render wherever a notebook runs (Colab included).

Each schematic lives in its own function and returns a :class:`~helpers.plotting.NotebookFigure`
with a text alternative. Notebook 02 uses :func:`connectivity_figure`.
"""

from __future__ import annotations

from matplotlib.axes import Axes
from matplotlib.patches import Rectangle

from .plotting import NotebookFigure, new_figure

__all__ = ["CONNECTIVITY_KINDS", "connections", "draw_connectivity", "connectivity_figure"]

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
