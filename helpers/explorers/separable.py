"""Notebook 01: the sliding window and the spatial separable filter."""

from __future__ import annotations

import math
from math import comb

import numpy as np
from matplotlib.figure import Figure

from .. import conv, kernels
from ..costs import conv_cost, format_count
from ..widgets import Explorer, Panel, View
from ._common import RGB, SPATIAL_NAMES, _image, _kernel

PASSES = ["full K×K", "pass 1: column K×1", "pass 2: row 1×K"]
PADDINGS_01 = ["same", "valid", "1", "2"]


def window_factors(k: int) -> tuple[np.ndarray, np.ndarray]:
    """Integer column and row factors of the sliding-window kernel: binomial smoothing (K,)
    and a binomial derivative (K,) -- Sobel's [1, 2, 1] and [-1, 0, 1] for K = 3."""
    col = np.array([comb(k - 1, i) for i in range(k)], dtype=float)
    row = np.convolve([comb(k - 2, i) for i in range(k - 1)], [-1, 1]).astype(float) if k > 1 else np.ones(1)
    return col, row


def _window_grid(n: int) -> np.ndarray:
    """The sliding-window input: small integers 0-9 (seeded), (n, n)."""
    return np.random.default_rng(0).integers(0, 10, size=(n, n)).astype(float)


def _window_setup(n: int, kernel: int, stride: int, padding: str, dilation: int, step: str) -> dict:
    """Everything one pass of the sliding window needs: padded grid, kernel, strides, outputs."""
    pad = int(padding) if padding.isdigit() else padding
    rows = conv.pad_amounts(n, kernel, stride=stride, padding=pad, dilation=dilation)
    cols = conv.pad_amounts(n, kernel, stride=stride, padding=pad, dilation=dilation)
    image = np.pad(_window_grid(n), ((rows.before, rows.after), (cols.before, cols.after)))
    mask = np.ones(image.shape, bool)
    mask[rows.before:rows.before + n, cols.before:cols.before + n] = False
    col, row = window_factors(kernel)
    full = np.outer(col, row)
    # pass 1: the column filter down the padded grid (row stride s, row dilation d)
    p1 = np.array([[sum(image[y * stride + i * dilation, x] * col[i] for i in range(kernel))
                    for x in range(image.shape[1])] for y in range(rows.out)])
    if step == PASSES[0]:
        out = np.array([[np.sum(image[y * stride:y * stride + dilation * (kernel - 1) + 1:dilation,
                                      x * stride:x * stride + dilation * (kernel - 1) + 1:dilation] * full)
                         for x in range(cols.out)] for y in range(rows.out)])
        return dict(grid=image, mask=mask, kernel=full, out=out, stride=(stride, stride),
                    dilation=(dilation, dilation), rows=rows, cols=cols)
    if step == PASSES[1]:
        return dict(grid=image, mask=mask, kernel=col[:, None], out=p1, stride=(stride, 1), dilation=(dilation, 1),
                    rows=rows, cols=cols)
    p2 = np.array([[sum(p1[y, x * stride + j * dilation] * row[j] for j in range(kernel))
                    for x in range(cols.out)] for y in range(rows.out)])
    mask2 = np.zeros(p1.shape, bool)  # the intermediate keeps the padded columns (zeros)
    mask2[:, :cols.before] = mask2[:, cols.before + n:] = True
    return dict(grid=p1, mask=mask2, kernel=row[None, :], out=p2, stride=(1, stride),
                dilation=(1, dilation), rows=rows, cols=cols)


def sliding_window_rules(values: dict) -> dict:
    """Valid padding, dilation, stride and position for the current setting of the sliding window."""
    n, k = values["n"], values["kernel"]
    rules: dict = {}
    # paddings with distinct amounts that let the window fit (valid pads nothing)
    seen, options = set(), []
    for p in PADDINGS_01:
        pad = int(p) if p.isdigit() else p
        amounts = conv.pad_amounts(n, k, stride=values["stride"], padding=pad, dilation=values["dilation"])
        fits = n + sum(conv.pad_amounts(n, k, padding=pad)[:2]) >= k
        if fits and (amounts.before, amounts.after) not in seen:
            seen.add((amounts.before, amounts.after))
            options.append(p)
    rules["padding"] = {"options": options}
    padding = values["padding"] if values["padding"] in options else options[0]
    pad = int(padding) if padding.isdigit() else padding

    def fits(d: int) -> bool:
        a = conv.pad_amounts(n, k, padding=pad, dilation=d)
        return n + a.before + a.after >= d * (k - 1) + 1

    d_max = max(d for d in (1, 2, 3) if fits(d))
    rules["dilation"] = {"max": d_max}
    if d_max == 1:
        rules["dilation"]["disabled"] = (f"a dilated {k}-tap window does not fit in {n} pixels with padding "
                                         f"{padding!r}")
    d = min(values["dilation"], d_max)
    sizes = [conv.output_size((n, n), k, stride=s, padding=pad, dilation=d)[0] for s in (1, 2, 3)]
    s_max = 1 + max([i for i in (1, 2) if sizes[i] != sizes[i - 1]] or [0])
    rules["stride"] = {"max": s_max}
    if s_max == 1:
        rules["stride"]["disabled"] = f"the output is {sizes[0]} pixel(s) wide at every stride"
    s = min(values["stride"], s_max)
    setup = _window_setup(n, k, s, padding, d, values["step"])
    rules["position"] = {"max": setup["out"].size - 1}
    if setup["out"].size == 1:
        rules["position"]["disabled"] = "the output has one pixel"
    return rules


def sliding_window_view(n: int, kernel: int, stride: int, padding: str, dilation: int, step: str, position: int,
                        strip: bool = False, out_row: int | None = None, out_col: int | None = None) -> View:
    """The padded input with the window of one output pixel, and the output grid, for one pass.

    ``strip``: the windows of the first, second and last output pixels side by side (the static
    view). ``out_row``/``out_col`` pick the output pixel instead of ``position`` (one window).
    """
    s = _window_setup(n, kernel, stride, padding, dilation, step)
    ho, wo = s["out"].shape
    if out_row is not None or out_col is not None:
        position = min(out_row or 0, ho - 1) * wo + min(out_col or 0, wo - 1)
        strip = False
    r, c = divmod(position, wo)
    rows, cols = s["rows"], s["cols"]
    kh, kw = s["kernel"].shape
    value = s["out"][r, c]
    formula = (f"output size = floor((n + pad_total - d·(k-1) - 1) / s) + 1 = {rows.out}×{cols.out}  "
               f"(n={n}, k={kernel}, s={stride}, d={dilation}, padding {padding!r}: "
               f"{rows.before}+{rows.after} rows, {cols.before}+{cols.after} cols)")
    where = {PASSES[0]: f"{kernel}×{kernel} kernel = column ⊗ row",
             PASSES[1]: f"pass 1: column {kernel}×1 down the padded grid -> {ho}×{wo} intermediate",
             PASSES[2]: f"pass 2: row 1×{kernel} along the intermediate -> {ho}×{wo} output"}[step]
    macs = kh * kw * ho * wo
    kernel_rows = ["  " + "  ".join(f"{v:>4g}" for v in row) for row in s["kernel"]]
    text = "\n".join([formula, f"{where}: {kh * kw} MACs per output pixel, {macs} MACs in this pass",
                      f"kernel {kh}×{kw} (multiply each window cell by the kernel cell on it, then add):",
                      *kernel_rows,
                      f"out[{r}, {c}] = sum of {kh * kw} products = {value:g}"])
    positions = sorted({0, min(1, ho * wo - 1), ho * wo - 1}) if strip else [position]

    def draw(fig: Figure) -> None:
        from ..plotting import draw_window_step, move_window_step

        font = 8.0  # 11 px at 100 dpi; a cell is at least 30 px
        key = (n, kernel, stride, padding, dilation, step)
        parts = fig.__dict__.get("_window_parts")
        if parts is not None and parts["key"] == key and not strip:  # the same grids: only move the window
            move_window_step(parts, (r, c))
            parts["title"].set_text(f"output {ho}×{wo}: out[{r}, {c}] = {value:g}")
            return
        if strip:  # (the figure was cleared: the live view's axes and artists are gone)
            fig.__dict__.pop("_window_parts", None)
            fig.__dict__.pop("_window_axes", None)
            if "_window_full_size" in fig.__dict__:  # the live view may have made it shorter
                fig.set_size_inches(fig.__dict__["_window_full_size"])
            axes = fig.subplots(2, len(positions), squeeze=False, height_ratios=[s["grid"].shape[0], ho])
            for i, p in enumerate(positions):
                pr, pc = divmod(p, wo)
                draw_window_step(axes[0, i], axes[1, i], s["grid"], s["mask"], s["kernel"], s["out"], (pr, pc),
                                 stride=s["stride"], dilation=s["dilation"], fontsize=font)
                axes[0, i].set_title(f"window of out[{pr}, {pc}]", fontsize=10)
                axes[1, i].set_title(f"out[{pr}, {pc}] = {s['out'][pr, pc]:g}", fontsize=10)
            fig.suptitle(f"{step}, stride {stride}, padding {padding!r}, dilation {dilation}", fontsize=11)
            return
        ax_in, ax_k, ax_out = _window_axes(fig, [s["grid"].shape, (kh, kw), (ho, wo)])
        parts = draw_window_step(ax_in, ax_out, s["grid"], s["mask"], s["kernel"], s["out"], (r, c),
                                 stride=s["stride"], dilation=s["dilation"], fontsize=font)
        # the outer titles line up with the outer edges: a narrow grid's title then stays inside the figure
        ax_in.set_title(f"padded input {s['grid'].shape[0]}×{s['grid'].shape[1]} (gray: zero padding)",
                        fontsize=10, loc="left")
        parts["title"] = ax_out.set_title(f"output {ho}×{wo}: out[{r}, {c}] = {value:g}", fontsize=10, loc="right")
        parts["key"] = key
        fig.__dict__["_window_parts"] = parts
        vmax = np.abs(s["kernel"]).max()
        ax_k.imshow(s["kernel"], cmap="RdBu_r", vmin=-vmax, vmax=vmax)
        for (y, x), v in np.ndenumerate(s["kernel"]):
            ax_k.text(x, y, f"{v:g}", ha="center", va="center", fontsize=8,
                      color="white" if abs(v) > 0.6 * vmax else "black")
        ax_k.set_title(f"kernel {kh}×{kw}", fontsize=10)
        fig.texts[0].set_text(f"{step}, stride {stride}, padding {padding!r}, dilation {dilation}")

    alt = (f"Sliding window, {step}: padded input grid {s['grid'].shape[0]}×{s['grid'].shape[1]} with padding shaded "
           f"and the {kh}×{kw} window (stride {stride}, dilation {dilation}) "
           + (f"at output positions {', '.join(str(divmod(p, wo)) for p in positions)}" if strip
              else f"at out[{r}, {c}]")
           + f"; the {ho}×{wo} output grid with the values produced so far; kernel rows "
           + "; ".join(" ".join(f"{v:g}" for v in row) for row in s["kernel"]))
    return View(text=text, draw=draw, alt=alt, data=(s["grid"], s["kernel"], s["out"], positions),
                draw_key=() if strip else ("window",))


def _window_axes(fig: Figure, grids: list[tuple[int, int]]) -> list:
    """The input, kernel and output axes of the sliding window, emptied, sized for ``grids``.

    grids: the (rows, cols) of the padded input, the kernel and the output. The three
    axes are made once per figure and kept: a new grid empties them and moves them
    instead of building a figure and running a layout pass -- that was most of the time
    a control change took. Input and output cells are one size (as large as the figure
    allows); kernel cells at most 1.3 times that.
    """
    axes = fig.__dict__.get("_window_axes")
    if axes is None or any(ax not in fig.axes for ax in axes):
        fig.clear()
        fig.set_layout_engine(None)  # the boxes below are the layout
        axes = [fig.add_axes((0.0, 0.0, 1.0, 1.0)) for _ in range(3)]
        for ax in axes:
            ax.set_xticks([])
            ax.set_yticks([])
            ax.xaxis.set_visible(False)  # no ticks: nothing to draw for them
            ax.yaxis.set_visible(False)
        fig.suptitle("", fontsize=11, y=0.985, va="top")
        fig.__dict__["_window_axes"] = axes
    else:
        for ax in axes:
            for artist in [*ax.images, *ax.patches, *ax.texts, *ax.collections, *ax.lines]:
                artist.remove()
    full = fig.__dict__.setdefault("_window_full_size", tuple(fig.get_size_inches()))
    width, most = full[0] * fig.dpi, full[1] * fig.dpi  # pixels
    margin, gap, top = 5.0, 30.0, 56.0  # pixels; the titles sit in ``top``
    (hi, wi), (hk, wk), (ho, wo) = grids
    slots = [wi, max(wk, 2) + 1, max(wo, 3)]  # the kernel's slot has room for its title
    unit = (width - 2 * margin - 2 * gap) / sum(slots)
    cell = min(unit, (most - top - margin) / max(hi, ho))
    sizes = [(wi * cell, hi * cell), None, (wo * cell, ho * cell)]
    k_cell = min(1.3 * cell, slots[1] * unit / wk, (most - top - margin) / hk)
    sizes[1] = (wk * k_cell, hk * k_cell)
    # the figure is as tall as its tallest grid needs (no empty band under the titles)
    height = max(220, math.ceil(top + margin + max(h for _, h in sizes)))  # 220: room for the titles of a 1-row grid
    if abs(fig.get_size_inches()[1] * fig.dpi - height) > 0.5:
        fig.set_size_inches(full[0], height / fig.dpi)
    x = margin
    for ax, slot, (w, h) in zip(axes, slots, sizes, strict=True):
        x0 = x + (slot * unit - w) / 2  # centred in its slot; tops aligned, so the titles are on one line
        y0 = height - top - h
        ax.set_position((x0 / width, y0 / height, w / width, h / height))
        x += slot * unit + gap
    return axes

def sliding_window() -> Explorer:
    """Which input pixels feed each output pixel, for the full kernel and its two 1-D passes;
    a play button walks the window over every output position."""
    controls = {
        "step": ("toggle", PASSES, PASSES[0]),
        "n": ("slider", 4, 8, 1, 6),
        "kernel": ("slider", 2, 5, 1, 3),
        "stride": ("slider", 1, 3, 1, 1),
        "padding": ("dropdown", PADDINGS_01, "same"),
        "dilation": ("slider", 1, 3, 1, 1),
        "position": ("play", 0, 35, 1, 0),
    }
    states = [{"padding": "valid", "kernel": 2, "n": 5}, {"step": PASSES[1], "stride": 2, "padding": "2"},
              {"step": PASSES[2], "dilation": 2, "position": 5}, {"n": 4, "kernel": 5, "padding": "1"}]
    return Explorer(controls, sliding_window_view, ncols=3, panel_size=3.0, rules=sliding_window_rules,
                    states=states, static={"strip": True})


def separable_view(kernel: str, size: int, sigma: float, method: str, image: str) -> View:
    """Every channel of the sample image filtered fully, separably, or by the best rank-1 kernel;
    the kernel, its column and row factors and their outer product; the difference from full."""
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
    col, row = sep.column, sep.row
    # row 1: the input, the kernel and the outer product of its factors on one scale (compare them);
    # row 2: the outputs; row 3: the two 1-D factors on a scale of their own, and the difference map
    panels = [
        Panel(f"input {image}", img, kind="rgb", width=1.0, newrow=True),
        Panel(f"kernel {kh}×{kw}\n{kernel}", k, kind="kernel", group="kernel"),
        Panel("column ⊗ row\n(rank 1)", np.outer(col, row), kind="kernel", group="kernel"),
    ]
    panels += [Panel(f"{method}: {name}", out[:, :, i], group="out", newrow=i == 0) for i, name in enumerate(RGB)]
    panels += [
        Panel(f"column\n{kh}×1", col[:, None], kind="kernel", group="factors", width=0.2, newrow=True),
        Panel(f"row 1×{kw}", row[None, :], kind="kernel", group="factors", width=0.8),
        Panel(f"|{method} − full| (max over R, G, B)\nmax error {diff.max():.1e}", diff, kind="diff"),
    ]
    return View(panels=panels, text="\n".join(lines))


def _separable_rules(values: dict) -> dict:
    rules: dict = {}
    if values["kernel"] not in kernels.SIZED_KERNELS:
        rules["size"] = {"disabled": f"{values['kernel']} is 3×3 only"}
    if values["kernel"] != "gaussian":
        rules["sigma"] = {"disabled": "sigma sets the width of the gaussian only"}
    return rules


def separable() -> Explorer:
    """Notebook 01's explorer: kernel, size, sigma and full / separable / best rank-1."""
    controls = {
        "method": ("toggle", ["full", "separable", "best rank-1"], "separable"),
        "kernel": ("dropdown", SPATIAL_NAMES, "gaussian"),
        "size": ("slider", 3, 15, 2, 7),
        "sigma": ("float", 0.5, 4.0, 0.25, 1.5),
        "image": ("dropdown", ["test_card", "photo"], "test_card"),
    }
    states = [{"kernel": "laplacian", "method": "best rank-1"}, {"kernel": "random", "size": 5, "method": "full"},
              {"kernel": "box", "size": 3, "image": "photo"}]
    return Explorer(controls, separable_view, ncols=3, panel_size=2.65, rules=_separable_rules, states=states)
