"""Schematics drawn by code for notebooks 03 and 04 (they render on GitHub and in Colab too).

* :func:`residual_blocks` -- a plain block, a ResNet v1 block and a pre-activation block
  side by side, with the shortcut drawn around the branch.
* :func:`one_by_one_mixing` -- a 1x1 convolution as channel mixing: the C_in values of
  one pixel, the weight matrix (values in the cells) and the C_out values it makes.
"""

from __future__ import annotations

import numpy as np
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from .plotting import NotebookFigure, new_figure

__all__ = ["residual_blocks", "one_by_one_mixing"]

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
                     figsize=(9, 3.8), layout="constrained")
    ax_in, ax_w, ax_out = fig.subplots(1, 3, gridspec_kw={"width_ratios": [1.2, c_out + 1, 1.2]})
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
    for ax, vec, name in ((ax_in, v, "image[y, x, :]"), (ax_out, out, "out[y, x, :]\n= image[y, x, :] @ W")):
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
