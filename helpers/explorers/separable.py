"""Notebook 01: the sliding window and the spatial separable filter."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from .. import conv, kernels
from ..costs import conv_cost, format_count
from ..widgets import Explorer, View
from ._common import RGB, SPATIAL_NAMES, _image, _kernel


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
            from ..plotting import draw_sliding_window

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
