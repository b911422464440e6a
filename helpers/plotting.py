"""Figures: every channel of an image or feature map as its own titled panel.

Signed results (edge filters) use a diverging colormap centred at 0 with a shared,
symmetric scale and a colorbar; non-negative ones use gray. Small arrays are drawn
with ``interpolation="nearest"`` so individual pixels stay visible.

The functions build :class:`matplotlib.figure.Figure` objects directly (no pyplot
state), so the CLI can save them without a display and the widgets can redraw the
same figure in place.
"""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

__all__ = [
    "channel_names",
    "channel_panels",
    "draw_channels",
    "figure_input_output",
    "color_scale",
]


def channel_names(n: int, rgb: bool | None = None) -> list[str]:
    """Panel titles: R, G, B for a 3-channel image (when ``rgb`` is not False), else c0, c1, ..."""
    if n == 3 and rgb is not False:
        return ["R", "G", "B"]
    return [f"c{i}" for i in range(n)]


def color_scale(values: np.ndarray) -> dict:
    """imshow keyword arguments for ``values``: a symmetric RdBu_r scale when any value
    is negative, otherwise gray from 0 (or the minimum) to the maximum."""
    finite = values[np.isfinite(values)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    if lo < -1e-12 * max(1.0, abs(hi)):
        m = max(abs(lo), abs(hi)) or 1.0
        return {"cmap": "RdBu_r", "vmin": -m, "vmax": m}
    return {"cmap": "gray", "vmin": min(lo, 0.0), "vmax": hi if hi > min(lo, 0.0) else min(lo, 0.0) + 1.0}


def channel_panels(array: np.ndarray) -> list[np.ndarray]:
    """Split (H, W) or (H, W, C) into a list of C (H, W) panels."""
    a = np.asarray(array)
    return [a] if a.ndim == 2 else [a[:, :, i] for i in range(a.shape[2])]


def draw_channels(
    axes: list[Axes],
    array: np.ndarray,
    names: list[str] | None = None,
    *,
    colorbar: bool = True,
    fig: Figure | None = None,
) -> list:
    """Draw each channel of ``array`` (H, W, C) into ``axes`` (at least C of them).

    Titles give the channel name and the (H, W) shape. One colour scale is shared by
    all channels so they can be compared. Returns the image artists.
    """
    panels = channel_panels(array)
    names = names or channel_names(len(panels), rgb=False)
    kw = color_scale(np.asarray(array))
    interp = "nearest" if max(panels[0].shape) <= 64 else "antialiased"
    artists = []
    for ax, panel, name in zip(axes, panels, names, strict=False):
        im = ax.imshow(panel, interpolation=interp, **kw)
        ax.set_title(f"{name}  {panel.shape[0]}×{panel.shape[1]}", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        artists.append(im)
    if colorbar and fig is not None and artists:
        fig.colorbar(artists[-1], ax=list(axes[: len(panels)]), shrink=0.8, pad=0.02)
    return artists


def figure_input_output(
    image: np.ndarray,
    output: np.ndarray,
    *,
    title: str = "",
    output_names: list[str] | None = None,
    max_cols: int = 4,
) -> Figure:
    """The input image and every output channel, each in its own panel.

    image: (H, W, 3) or (H, W) in [0, 1]; output: (H', W', C_out) or (H', W').
    The first row shows the input (RGB composite, then its channels when it has
    3); the rows below show the C_out output channels, ``max_cols`` per row.
    """
    image = np.asarray(image)
    outs = channel_panels(output)
    n_in = 1 + (image.shape[2] if image.ndim == 3 and image.shape[2] > 1 else 0)
    cols = max(min(max_cols, len(outs)), n_in)
    out_rows = -(-len(outs) // cols)
    fig = Figure(figsize=(2.6 * cols + 1.0, 2.6 * (1 + out_rows) + 0.6), layout="constrained")
    grid = fig.add_gridspec(1 + out_rows, cols)
    ax0 = fig.add_subplot(grid[0, 0])
    shown = np.clip(image, 0, 1)
    ax0.imshow(shown, cmap="gray" if shown.ndim == 2 else None, vmin=0, vmax=1)
    ax0.set_title(f"input  {image.shape}", fontsize=9)
    ax0.set_axis_off()
    if n_in > 1:
        in_axes = [fig.add_subplot(grid[0, 1 + i]) for i in range(image.shape[2])]
        draw_channels(in_axes, image, channel_names(image.shape[2]), colorbar=False)
        for ax in in_axes:
            ax.set_title("input " + ax.get_title(), fontsize=9)
    out_axes = [fig.add_subplot(grid[1 + i // cols, i % cols]) for i in range(len(outs))]
    names = output_names or channel_names(len(outs), rgb=False)
    draw_channels(out_axes, output, [f"out {n}" for n in names], fig=fig)
    if title:
        fig.suptitle(title, fontsize=11)
    return fig
