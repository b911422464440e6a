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
    "NotebookFigure",
    "new_figure",
    "channel_names",
    "channel_panels",
    "draw_channels",
    "figure_input_output",
    "color_scale",
]


class NotebookFigure(Figure):
    """A Figure that shows itself as a PNG when it ends a notebook cell.

    Figures made without pyplot have no display hook of their own until the inline
    backend registers one; this makes helper-made figures render in every front end
    (JupyterLab, Colab, nbconvert) without touching pyplot's global state.

    Every figure carries a short text alternative, ``alt``, saying what it shows. It
    travels with the stored PNG (the output's ``image/png`` metadata) and is the
    figure's plain-text form (``text/plain``), which nbval compares and a reader
    without the image gets.
    """

    def __init__(self, *args: object, alt: str = "", **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.alt = alt

    def _repr_png_(self) -> bytes | tuple[bytes, dict]:
        import io

        buf = io.BytesIO()
        self.savefig(buf, format="png", dpi=self.dpi)
        return (buf.getvalue(), {"alt": self.alt}) if self.alt else buf.getvalue()

    def __repr__(self) -> str:
        return f"Figure: {self.alt}" if self.alt else super().__repr__()


def new_figure(*, alt: str, **kwargs: object) -> NotebookFigure:
    """A figure for a notebook cell, with its text alternative.

    ``alt`` says what the figure shows (kinds of panels, shapes, the setting); the
    other keyword arguments go to :class:`matplotlib.figure.Figure` (``figsize``,
    ``layout`` ...). End the cell with the figure to display it.
    """
    if not alt or not alt.strip():
        raise ValueError("alt must describe what the figure shows")
    return NotebookFigure(alt=alt, **kwargs)


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
    fig = NotebookFigure(figsize=(2.6 * cols + 1.0, 2.6 * (1 + out_rows) + 0.6), layout="constrained")
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


def show_channels(array: np.ndarray, title: str = "", names: list[str] | None = None,
                  *, panel_size: float = 2.4) -> Figure:
    """A one-row figure with a panel per channel of ``array`` (H, W, C) or (H, W).

    Signed data share one symmetric RdBu_r scale with a colorbar, non-negative data
    are gray. Returns the Figure (display it, or end the cell with it).
    """
    panels = channel_panels(array)
    fig = NotebookFigure(figsize=(panel_size * len(panels) + 0.8, panel_size + 0.5), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    draw_channels(list(axes), array, names or channel_names(len(panels)), fig=fig)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def draw_sliding_window(
    ax: Axes,
    in_size: tuple[int, int],
    kernel_size: tuple[int, int],
    out_pos: tuple[int, int] = (0, 0),
    *,
    stride: int = 1,
    padding: str | int = "same",
    dilation: int = 1,
    title: str | None = None,
) -> None:
    """Draw the padded input grid and mark the pixels that feed one output pixel.

    Image pixels are white, padding zeros light gray, and the (dilated) window of
    output pixel ``out_pos`` = (row, col) is filled with the tap index. The title
    states the output-size formula with the numbers filled in.
    """
    from matplotlib.patches import Rectangle

    from .conv import output_size, pad_amounts

    (h, w), (kh, kw) = in_size, kernel_size
    rows = pad_amounts(h, kh, stride=stride, padding=padding, dilation=dilation)
    cols = pad_amounts(w, kw, stride=stride, padding=padding, dilation=dilation)
    h_out, w_out = output_size(in_size, kernel_size, stride=stride, padding=padding, dilation=dilation)
    hp, wp = h + rows.before + rows.after, w + cols.before + cols.after
    r0, c0 = out_pos[0] * stride, out_pos[1] * stride
    ax.set_xlim(-0.5, wp - 0.5)
    ax.set_ylim(hp - 0.5, -0.5)
    ax.set_aspect("equal")
    for y in range(hp):
        for x in range(wp):
            inside = rows.before <= y < rows.before + h and cols.before <= x < cols.before + w
            ax.add_patch(Rectangle((x - 0.5, y - 0.5), 1, 1, facecolor="white" if inside else "#dddddd",
                                   edgecolor="#999999", lw=0.6))
    for i in range(kh):
        for j in range(kw):
            y, x = r0 + i * dilation, c0 + j * dilation
            ax.add_patch(Rectangle((x - 0.5, y - 0.5), 1, 1, facecolor="#ff8c42", alpha=0.75, edgecolor="k", lw=1))
            ax.text(x, y, f"{i},{j}", ha="center", va="center", fontsize=6)
    ax.set_xticks([])
    ax.set_yticks([])
    pad_text = f"padding {padding!r}: {rows.before}+{rows.after} rows, {cols.before}+{cols.after} cols"
    ax.set_title(title or (f"input {h}×{w} ({pad_text})\nkernel {kh}×{kw}, stride {stride}, dilation {dilation}"
                           f" → output {h_out}×{w_out}; window of out[{out_pos[0]}, {out_pos[1]}]"), fontsize=8)


def draw_window_step(
    ax_in: Axes,
    ax_out: Axes,
    grid: np.ndarray,
    padded: np.ndarray,
    kernel: np.ndarray,
    out: np.ndarray,
    pos: tuple[int, int],
    *,
    stride: tuple[int, int] = (1, 1),
    dilation: tuple[int, int] = (1, 1),
    fontsize: float = 8.0,
) -> dict:
    """One step of a sliding window: the padded input grid and the output grid, side by side.

    grid: (Hp, Wp) the padded input values; padded: (Hp, Wp) bool, True on padding
    cells (shaded gray, zeros); kernel: (Kh, Kw); out: (Ho, Wo) every output value;
    pos: the (row, col) of the output pixel being produced. The window of ``pos`` (its
    taps, ``dilation`` apart, starting at ``pos * stride``) is orange on the input; on
    the output, the pixels produced so far (raster order up to ``pos``) show their
    values and the current one is orange. Returns the artists that
    :func:`move_window_step` moves to another position.
    """
    from matplotlib.patches import Rectangle

    hp, wp = grid.shape
    kh, kw = kernel.shape
    ho, wo = out.shape
    ax_in.imshow(np.where(padded, 0.82, 1.0), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    window = [ax_in.add_patch(Rectangle((0, 0), 1, 1, facecolor="#ffb77a", edgecolor="#d9480f", lw=1.5))
              for _ in range(kh * kw)]
    for y in range(hp):
        for x in range(wp):
            if not padded[y, x]:  # padding cells are zeros: the gray says so
                ax_in.text(x, y, f"{grid[y, x]:g}", ha="center", va="center", fontsize=fontsize)
    done = ax_out.imshow(np.zeros((ho, wo)), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    current = ax_out.add_patch(Rectangle((0, 0), 1, 1, facecolor="#ffb77a", edgecolor="#d9480f", lw=1.5))
    texts = [ax_out.text(x, y, "", ha="center", va="center", fontsize=fontsize) for y in range(ho) for x in range(wo)]
    for ax, (h, w) in ((ax_in, (hp, wp)), (ax_out, (ho, wo))):
        # the cell borders as two line collections (minor-tick grid lines would cost a Tick
        # object per cell: most of a redraw); above the window patches, below the values
        ax.vlines(np.arange(-0.5, w, 1), -0.5, h - 0.5, colors="#999999", lw=0.6, zorder=1.5)
        ax.hlines(np.arange(-0.5, h, 1), -0.5, w - 0.5, colors="#999999", lw=0.6, zorder=1.5)
        ax.set_xlim(-0.5, w - 0.5)
        ax.set_ylim(h - 0.5, -0.5)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.xaxis.set_visible(False)
        ax.yaxis.set_visible(False)
    parts = {"window": window, "done": done, "current": current, "texts": texts, "out": out,
             "kernel_shape": (kh, kw), "stride": stride, "dilation": dilation}
    move_window_step(parts, pos)
    return parts


def move_window_step(parts: dict, pos: tuple[int, int]) -> None:
    """Move a drawn sliding window (from :func:`draw_window_step`) to output pixel ``pos``."""
    (_, kw), (sy, sx), (dy, dx) = parts["kernel_shape"], parts["stride"], parts["dilation"]
    out = parts["out"]
    ho, wo = out.shape
    r, c = pos
    for t, patch in enumerate(parts["window"]):
        i, j = divmod(t, kw)
        patch.set_xy((c * sx + j * dx - 0.5, r * sy + i * dy - 0.5))
    done = np.arange(ho * wo).reshape(ho, wo) <= r * wo + c
    parts["done"].set_data(np.where(done, 1.0, 0.93))
    parts["current"].set_xy((c - 0.5, r - 0.5))
    for t, (value, shown) in zip(parts["texts"], zip(out.ravel(), done.ravel(), strict=True), strict=True):
        t.set_text(f"{value:g}" if shown else "")
