"""The interactive explorers of the notebooks, built from core ipywidgets only.

Every explorer is an :class:`Explorer`: a few controls (sliders, dropdowns, toggle
buttons, checkboxes, a play button) and a ``compute`` function that turns their values
into a :class:`View` -- image panels (input, kernels, output channels), line plots and
a text with the counts (MACs, parameters). ``Explorer.show()`` renders the default
setting as plain output (for GitHub's static view and for nbval); ``Explorer.widget()``
returns the live UI.

Every control matters. An explorer may give ``rules(values)``: for the current
values, the valid range of each control (``min``/``max`` of a slider, ``options`` of a
dropdown) and, for a control that does not apply, the reason it is disabled. The
sliders then only offer valid values (nothing is clamped silently), an inert control
is greyed out, and the printed text says why.

Every figure explains itself: signed values on a diverging map centred at 0 with a
colorbar, non-negative ones in gray, compared panels (a ``group``) share one scale and
one colorbar, small kernels have their values written in the cells, and each image
has a text alternative (``View.alt``, made from the panels when not given) that is
updated on every redraw.

Design choices, for speed and for Colab:

* ``ipywidgets`` is imported only inside :meth:`Explorer.widget`, so the maths and the
  CLI never need it. Only widgets that exist in ipywidgets 7.7 and 8 are used.
* One matplotlib ``Figure`` per explorer is kept and reused: a control change updates
  the image artists' data, colour limits and texts in place and re-encodes one PNG
  (tens of milliseconds) instead of building a new figure.
* The live image is an HTML ``<img>`` with an ``alt`` attribute inside an ``Output``
  widget (JupyterLab ignores the ``alt`` of a PNG output's metadata); the static
  ``show()`` stores the PNG with its ``alt`` metadata and prints the text alternative
  as a caption, so it reaches a screen reader in every front end.
"""

from __future__ import annotations

import base64
import html
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator, NullLocator

from .plotting import color_scale

__all__ = ["View", "Panel", "LinePanel", "Explorer", "MIN_FONT_PT"]

MIN_FONT_PT = 8.0  # at the explorers' 100 dpi: 11 px, the smallest text in any explorer figure
TITLE_PT = 10.0
COLORBAR_IN = 0.75  # a colorbar with its tick labels
MAX_WIDTH_IN = 9.6  # JupyterLab's output area is 968 px wide in a 1400-px window: figures up to 960 px
                    # at 100 dpi are shown at full size (a wider one would be scaled down, and its text with it)
BACKGROUND = "white"  # explicit, so the figures stay readable in JupyterLab's dark theme


@dataclass
class Panel:
    """One image panel.

    data: (H, W) values, or (H, W, 3) RGB in [0, 1] for ``kind="rgb"``.
    kind: "auto" (diverging map centred at 0 if any value is negative, else gray),
        "rgb", "kernel" (like auto, with the values written in the cells when it is
        small), or "diff" (an absolute difference: gray from 0, colorbar, max printed).
    group: panels with the same group share one colour scale and one colorbar
        (compared channels); ``None`` gives the panel a scale and colorbar of its own.
    width: relative width of the panel in its row.
    newrow: start a new row of panels with this one.
    """

    title: str
    data: np.ndarray
    kind: str = "auto"
    group: str | None = None
    width: float = 1.0
    newrow: bool = False


@dataclass
class LinePanel:
    """A line plot: ``series`` maps a label to (x, y) arrays."""

    title: str
    series: dict[str, tuple[np.ndarray, np.ndarray]]
    xlabel: str = ""
    ylabel: str = ""
    logy: bool = False
    ylim: tuple[float, float] | None = None


@dataclass
class View:
    """What an explorer shows for one setting of its controls.

    panels: :class:`Panel` objects, or (title, (H, W) array) pairs, drawn as images.
    lines: line plots, drawn after the image panels.
    text: the counts and remarks printed above the figure.
    shared_scale: for (title, array) pairs: one colour scale for all of them, or one each.
    alt: the figure's text alternative (made from the panels when empty).
    draw: custom drawing into the (cleared) figure instead of panels and lines.
    """

    panels: list = field(default_factory=list)
    text: str = ""
    lines: list[LinePanel] = field(default_factory=list)
    shared_scale: bool = True
    title: str = ""
    draw: Callable[[Figure], None] | None = None
    alt: str = ""
    data: tuple = ()  # for a custom drawing: the arrays and numbers it shows (see data_key)
    draw_key: tuple = ()  # for a custom drawing: same key as the last one -> draw updates the figure in place

    def image_panels(self) -> list[Panel]:
        """The panels as :class:`Panel` objects (pairs become gray/diverging panels)."""
        out = []
        for i, p in enumerate(self.panels):
            if isinstance(p, Panel):
                out.append(p)
            else:
                title, data = p
                out.append(Panel(title, np.asarray(data), group="shared" if self.shared_scale else f"own{i}"))
        return out

    def data_key(self) -> bytes:
        """Bytes that change exactly when the drawn data change (image panels and lines)."""
        import hashlib

        h = hashlib.sha1()
        for p in self.image_panels():
            h.update(np.ascontiguousarray(p.data, dtype=np.float64).tobytes())
            h.update(str(p.data.shape).encode())
        for lp in self.lines:
            for label, (x, y) in lp.series.items():
                h.update(label.encode())
                h.update(np.ascontiguousarray(x, dtype=np.float64).tobytes())
                h.update(np.ascontiguousarray(y, dtype=np.float64).tobytes())
        for item in self.data:
            h.update(np.ascontiguousarray(item, dtype=np.float64).tobytes() if isinstance(item, np.ndarray)
                     else repr(item).encode())
        return h.digest()


def _max_abs_pool(a: np.ndarray, step: int) -> np.ndarray:
    """(H, W) -> (ceil(H/step), ceil(W/step)): of each step×step block, its value of largest |value|."""
    h, w = a.shape
    hp, wp = -(-h // step) * step, -(-w // step) * step
    if (hp, wp) != (h, w):
        padded = np.zeros((hp, wp), dtype=a.dtype)
        padded[:h, :w] = a
        a = padded
    hi = a[::step, ::step].copy()
    lo = hi.copy()
    for i in range(step):
        for j in range(step):
            if i or j:
                np.maximum(hi, a[i::step, j::step], out=hi)
                np.minimum(lo, a[i::step, j::step], out=lo)
    return np.where(hi >= -lo, hi, lo)


def _same_pixels(old: np.ndarray | None, new: np.ndarray) -> bool:
    """Whether an image artist already shows ``new`` (its data, NaN where NaN)."""
    if old is None or old.shape != new.shape:
        return False
    old = np.ma.filled(np.ma.asarray(old, dtype=float), np.nan)
    return bool(np.array_equal(old, np.asarray(new, dtype=float), equal_nan=True))


def _describe_scale(p: Panel, kw: dict) -> str:
    if p.kind == "rgb":
        return "RGB"
    if kw["cmap"] == "RdBu_r":
        return f"diverging, ±{kw['vmax']:.3g}"
    return f"gray, {kw['vmin']:.3g} to {kw['vmax']:.3g}"


def _auto_alt(view: View, panels: list[Panel], scales: list[dict], setting: str) -> str:
    parts = []
    for p, kw in zip(panels, scales, strict=True):
        shape = "×".join(str(s) for s in p.data.shape[:2])
        title = " ".join(p.title.split())
        parts.append(f"{title} ({shape}, {_describe_scale(p, kw)})")
    parts += [f"line plot '{lp.title}' of {', '.join(lp.series)}" for lp in view.lines]
    head = f"{view.title}: " if view.title else ""
    return f"{head}{len(parts)} panels for {setting}: " + "; ".join(parts)


class _LightColorbar:
    """A matplotlib colorbar that follows its group's colour scale without being rebuilt.

    A Colorbar redraws itself in full (a new mesh of 256 cells, its ticks) whenever its
    image's limits change -- about 4 ms each, on every control change. The bar of a linear
    scale looks the same for any limits, so here it is one gradient image stretched over
    (vmin, vmax): a new scale moves its ends and the axis limits, and the ticks follow.
    """

    def __init__(self, cb: object) -> None:
        im = cb.mappable
        im.callbacks.disconnect(im.colorbar_cid)  # limits are set through update() instead
        self.cb, self.ax = cb, cb.ax
        if cb.solids is not None:
            cb.solids.remove()
            cb.solids = None
        vmin, vmax = im.get_clim()
        self.gradient = self.ax.imshow(np.linspace(0.0, 1.0, 256)[:, None], cmap=im.get_cmap(), vmin=0.0, vmax=1.0,
                                       aspect="auto", origin="lower", interpolation="nearest",
                                       extent=(0.0, 1.0, vmin, vmax), zorder=0)
        self.scale = None
        self.update(im.get_cmap().name, vmin, vmax)

    def update(self, cmap: str, vmin: float, vmax: float) -> None:
        if self.scale == (cmap, vmin, vmax):
            return
        self.scale = (cmap, vmin, vmax)
        if self.gradient.get_cmap().name != cmap:
            self.gradient.set_cmap(cmap)
        self.gradient.set_extent((0.0, 1.0, vmin, vmax))
        self.ax.set_xlim(0.0, 1.0)
        self.ax.set_ylim(vmin, vmax)
        self.cb.vmin, self.cb.vmax = vmin, vmax


TEXT_COLUMNS = 110  # JupyterLab's output area in a 1400-px window holds about 118 monospace characters


def wrap_text(text: str, width: int = TEXT_COLUMNS) -> str:
    """``text`` with every line longer than ``width`` broken between words (continuations
    indented), so the printed counts never break inside a word in the notebook."""
    import textwrap

    lines = []
    for line in text.splitlines():
        if len(line) <= width:
            lines.append(line)
            continue
        lines += textwrap.wrap(line, width, subsequent_indent="    ", break_long_words=False,
                               break_on_hyphens=False, replace_whitespace=False, drop_whitespace=True) or [line]
    return "\n".join(lines)


def _cell_label(value: float, integers: bool) -> str:
    """A kernel cell's value as written in it: integers as they are, others to 2 decimals;
    a value that is not 0 but rounds to 0.00 is written ``≈0`` (never a false ``0.00``)."""
    if not np.isfinite(value):
        return ""
    if integers:
        return f"{value:g}"
    text = f"{value:.2f}"
    return "≈0" if value != 0 and float(text) == 0 else text


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def _is_decade(value: float) -> bool:
    """Whether ``value`` is a power of ten."""
    return value > 0 and np.isfinite(value) and abs(value / 10.0 ** round(float(np.log10(value))) - 1) < 1e-9


def _decade_label(value: float, _pos: object = None) -> str:
    """A log-axis tick label: ``10⁻²`` for a power of ten, else the value (plain text, no mathtext)."""
    if value <= 0 or not np.isfinite(value):
        return ""
    if _is_decade(value):
        return "10" + str(round(float(np.log10(value)))).translate(_SUPERSCRIPT)
    return f"{value:g}"


def _set_log_ticks(ax: object) -> None:
    """Label a log y axis at :func:`_log_ticks` of its limits: decades as ``10⁻²``, 1-2-5 steps as numbers."""
    ticks = _log_ticks(*ax.get_ylim())
    if list(ax.get_yticks()) == ticks:
        return
    ax.set_yticks(ticks)
    decades = all(_is_decade(t) for t in ticks)
    ax.yaxis.set_major_formatter(FuncFormatter(_decade_label if decades else lambda v, _pos=None: f"{v:g}"))


def _log_ticks(lo: float, hi: float) -> list[float]:
    """Major ticks for a log axis from ``lo`` to ``hi``: the decades inside, or 1-2-5 steps
    when fewer than two decades fall inside, or finer steps: always at least two labelled
    ticks, however short the range."""
    lo, hi = min(lo, hi), max(lo, hi)
    if not (lo > 0 and np.isfinite(hi)):
        return []
    first, last = int(np.floor(np.log10(lo))), int(np.ceil(np.log10(hi)))
    step = max(1, -(-(last - first) // 6))  # at most about six decades labelled
    ticks = [10.0**e for e in range(first, last + 1, step) if lo <= 10.0**e <= hi]
    for mantissas in ((1, 2, 5), range(1, 10)):  # a short range: 1-2-5 steps, else every integer mantissa
        if len(ticks) < 2:
            ticks = [m * 10.0**e for e in range(first, last + 1) for m in mantissas if lo <= m * 10.0**e <= hi]
    digits = 2
    while len(ticks) < 2 and digits <= 8:  # a very flat line (a loss stuck near chance): its two ends, rounded inwards
        step = 10.0 ** (np.floor(np.log10(hi)) - digits + 1)
        a, b = np.ceil(lo / step) * step, np.floor(hi / step) * step
        ticks = [float(f"{a:.{digits}g}"), float(f"{b:.{digits}g}")] if a < b else []
        digits += 1
    return ticks


class Explorer:
    """Controls + a compute function (+ rules for valid values) + one reusable figure.

    Parameters
    ----------
    controls : {name: (kind, *options)}, the keyword arguments of ``compute``:
        "slider" (min, max, step, value), "float" (min, max, step, value),
        "select" (options, value) -- a slider over a list of values,
        "play" (min, max, step, value) -- a slider with a play button that steps it,
        "dropdown" (options, value), "toggle" (options, value), "checkbox" (value).
    compute : ``compute(**values) -> View``.
    rules : ``rules(values) -> {name: {"min", "max", "options", "disabled"}}`` for the
        current values: the valid range of a control, or why it is disabled ("disabled":
        the reason). Controls not named keep their declared range.
    states : other settings (partial dicts) worth checking besides the default; the
        tests move every control from each of them.
    static : extra keyword arguments for ``compute`` in :meth:`show` (e.g. a strip of
        frames instead of one).
    ncols : image panels per row (when no panel starts a row itself).
    prefetch : ``prefetch(values)`` for the live widget: called with ``None`` when a redraw
        after a control change starts and with the settled values whenever a drawing is
        shown, so slow work for the settings one move away can run while the learner
        looks (the notebook 04 explorer trains its networks so, while the kernel is idle).
    """

    def __init__(self, controls: dict[str, tuple], compute: Callable[..., View], *, ncols: int = 3,
                 panel_size: float = 2.8, dpi: int = 100, rules: Callable[[dict], dict] | None = None,
                 states: list[dict] | None = None, static: dict | None = None,
                 prefetch: Callable[[dict | None], None] | None = None) -> None:
        self.controls = controls
        self.prefetch = prefetch
        self.compute = compute
        self.rules = rules
        self.states = states or []
        self.static = static or {}
        self.ncols = ncols
        self.panel_size = panel_size
        self.dpi = dpi
        self._fig: Figure | None = None
        self._layout: tuple | None = None
        self._artists: list = []
        self._texts: list = []
        self._line_axes: list = []
        self._suptitle = None
        self._frozen = True
        self._draw_key: tuple = ()

    # ----------------------------------------------------------- values and rules
    def defaults(self) -> dict:
        """The value of every control as the explorer starts."""
        return {name: opts[-1] for name, (_kind, *opts) in self.controls.items()}

    def options(self, name: str, constraints: dict | None = None) -> list:
        """Every valid value of control ``name`` under ``constraints`` (from :meth:`settle`)."""
        kind, *opts = self.controls[name]
        rule = (constraints or {}).get(name, {})
        if kind in ("slider", "play"):
            lo, hi, step, _ = opts
            lo, hi = rule.get("min", lo), rule.get("max", hi)
            return list(range(lo, hi + 1, step))
        if kind == "float":
            lo, hi, step, _ = opts
            lo, hi = rule.get("min", lo), rule.get("max", hi)
            return [round(v, 10) for v in np.arange(lo, hi + step / 2, step)]
        if kind in ("dropdown", "toggle", "select"):
            return list(rule.get("options", opts[0]))
        return [False, True]

    def settle(self, values: dict) -> tuple[dict, dict]:
        """Values made valid under the rules (a value outside its new range moves to the
        nearest valid one, as the widget would show it), and the constraints."""
        values = {**self.defaults(), **values}
        constraints: dict = {}
        for _ in range(4):  # rules may depend on values that other rules just moved
            constraints = self.rules(values) if self.rules else {}
            changed = False
            for name, rule in constraints.items():
                kind = self.controls[name][0]
                valid = self.options(name, constraints) if ("options" in rule or "min" in rule
                                                            or "max" in rule) else None
                if valid and values[name] not in valid:
                    if kind in ("slider", "play", "float"):
                        values[name] = min(valid, key=lambda v: abs(v - values[name]))
                    else:
                        values[name] = valid[0]
                    changed = True
            if not changed:
                break
        return values, constraints

    # ---------------------------------------------------------------- rendering
    def _rows(self, panels: list[Panel]) -> list[list[Panel]]:
        """Panels in rows: a new row where a panel asks for one, and wherever the row would
        grow wider than the figure may be (``ncols`` panels, at most MAX_WIDTH_IN with the
        colorbars it carries)."""
        rows: list[list[Panel]] = []
        seen: set = set()
        for i, p in enumerate(panels):
            key = None if p.kind == "rgb" else (p.group or f"panel{i + 1}")
            new_bar = key is not None and key not in seen
            if rows and not p.newrow:
                full = sum(q.width >= 1 for q in rows[-1])  # narrow kernel panels do not count
                width = self._row_width(rows[-1]) + p.width * self.panel_size + (COLORBAR_IN if new_bar else 0)
                if width > MAX_WIDTH_IN + 1e-9 or (p.width >= 1 and full >= self.ncols):
                    rows.append([])
            else:
                rows.append([])
            rows[-1].append(p)
            p._bar = new_bar  # this panel's group gets its colorbar in this row
            if key is not None:
                seen.add(key)
        return rows

    def _row_width(self, row: list[Panel]) -> float:
        """Inches a row needs: its panels and the colorbars beside it."""
        return sum(p.width for p in row) * self.panel_size + COLORBAR_IN * sum(p._bar for p in row) + 0.2

    def _row_height(self, row: list[Panel]) -> float:
        """Inches for a row of panels: tall enough that a portrait image is still panel_size wide."""
        aspect = max([p.data.shape[0] / p.data.shape[1] for p in row if p.kind != "kernel"] + [1.0])
        return self.panel_size * aspect + 0.5

    def _build(self, view: View, panels: list[Panel]) -> None:
        rows = self._rows(panels)
        n_line = len(view.lines)
        line_cols = min(n_line, 2) if n_line else 0
        line_rows = -(-n_line // max(line_cols, 1)) if n_line else 0
        width = max(self._row_width(r) for r in rows) if rows else 0.0
        width = max(width, 4.6 * line_cols if n_line else 0.0, 4.0)
        height = sum(self._row_height(r) for r in rows) + 3.2 * line_rows + (0.45 if view.title else 0.15)
        fig = Figure(figsize=(width, height), layout="constrained", facecolor=BACKGROUND)
        grid = fig.add_gridspec(len(rows) + line_rows, 1,
                                height_ratios=[self._row_height(r) for r in rows] + [3.0] * line_rows)
        self._artists, self._texts = [], []
        axes_by_group: dict[str, list] = {}
        first_by_group: dict[str, object] = {}
        first_row: dict[str, int] = {}
        for r, row in enumerate(rows):
            spare = (width - self._row_width(row)) / self.panel_size  # keep every panel panel_size wide
            ratios = [p.width for p in row] + ([spare] if spare > 0.05 else [])
            sub = grid[r, 0].subgridspec(1, len(ratios), width_ratios=ratios)
            for i, p in enumerate(row):
                ax = fig.add_subplot(sub[0, i])
                ax.title.set_fontsize(TITLE_PT)
                ax.set_xticks([])
                ax.set_yticks([])
                ax.xaxis.set_visible(False)  # no ticks to draw: skipping the axes' axis objects saves
                ax.yaxis.set_visible(False)  # ~3 ms per panel per redraw (the frame is the spines)
                im = ax.imshow(self._shown(p), interpolation="nearest")  # pixels stay pixels; and fast
                texts = self._cell_texts(ax, p)
                self._artists.append(im)
                self._texts.append(texts)
                if p.kind != "rgb":
                    key = p.group or f"panel{len(self._artists)}"
                    first_by_group.setdefault(key, im)
                    if r == first_row.setdefault(key, r):  # a colorbar beside the group's first row
                        axes_by_group.setdefault(key, []).append(ax)
        self._bars = {}
        for key, axes in axes_by_group.items():
            cb = fig.colorbar(first_by_group[key], ax=axes, shrink=0.85, pad=0.02, aspect=18)
            cb.ax.tick_params(labelsize=MIN_FONT_PT)
            cb.locator = MaxNLocator(5)  # a few labelled ticks: enough to read, cheaper to draw
            # an invisible label as wide as the widest tick label a scale gets ("−0.25"), so the layout,
            # computed once for the first setting, leaves room for the labels of every later one
            cb.ax.annotate("−0.000", xy=(1.0, 0.5), xycoords="axes fraction", xytext=(5, 0),
                           textcoords="offset points", fontsize=MIN_FONT_PT, alpha=0.0, va="center")
            self._bars[key] = _LightColorbar(cb)
        self._group_of = [(p.group or f"panel{i + 1}") if p.kind != "rgb" else None for i, p in enumerate(panels)]
        self._line_axes = []
        for i in range(n_line):
            sub = grid[len(rows) + i // max(line_cols, 1), 0].subgridspec(1, line_cols, wspace=0.3)
            self._line_axes.append(fig.add_subplot(sub[0, i % line_cols]))
        self._suptitle = fig.suptitle("", fontsize=TITLE_PT + 1)
        self._fig = fig
        self._frozen = False

    _STATE = ("_fig", "_artists", "_texts", "_line_axes", "_suptitle", "_group_of", "_frozen", "_bars")

    def _switch(self, layout: tuple, view: View, panels: list[Panel]) -> None:
        """Make the figure of ``layout`` current: a kept one (the last few layouts are kept, so
        going back to a mode costs no new figure and no layout pass) or a new one."""
        cache = self.__dict__.setdefault("_figures", {})
        if self._layout is not None and self._layout != ("custom",) and self._fig is not None:
            cache[self._layout] = {k: getattr(self, k) for k in self._STATE}
        if layout in cache:
            self.__dict__.update(cache.pop(layout))
        else:
            self._build(view, panels)
        while len(cache) > 6:
            cache.pop(next(iter(cache)))
        self._layout = layout

    def _cell_texts(self, ax: object, p: Panel) -> list:
        """Text artists for the values of a small kernel, one per cell (none when the cells are too small)."""
        small = np.isfinite(p.data).sum() <= 60
        if p.kind == "kernel" and p.data.ndim == 2 and small and self._cell_px(p) >= 22:
            # clipped to the axes: they cannot reach outside it, so a partial redraw need not measure them
            return [ax.text(x, y, "", ha="center", va="center", fontsize=MIN_FONT_PT, clip_on=True)
                    for y in range(p.data.shape[0]) for x in range(p.data.shape[1])]
        return []

    def _cell_px(self, p: Panel) -> float:
        """About how many pixels one cell of a small array gets in its panel."""
        size = self.panel_size * self.dpi * 0.85
        return min(size * p.width / p.data.shape[1], size / p.data.shape[0])

    def _shown(self, p: Panel) -> np.ndarray:
        """The data drawn for ``p``: an image larger than its panel is reduced to about the
        panel's size (drawing fewer pixels keeps a redraw fast); values keep, of each s×s
        block, the one of largest magnitude, so a one-pixel edge or error never vanishes."""
        step = self._step(p)
        if step == 1:
            return p.data
        if p.kind == "rgb":
            return p.data[::step, ::step]
        return _max_abs_pool(p.data, step)

    def _step(self, p: Panel) -> int:
        if p.kind == "kernel":
            return 1
        return int(np.ceil(max(p.data.shape[:2]) / (self.panel_size * self.dpi * 0.85 * min(p.width, 1.0))))

    def _layout_key(self, view: View, panels: list[Panel]) -> tuple:
        # a kernel's shape is not part of the layout: its panel keeps its place and size (the
        # cells rescale), so a new kernel size costs no new figure and no layout pass
        shapes = [p.title.count("\n") if p.kind == "kernel" else
                  tuple(-(-n // self._step(p)) for n in p.data.shape[:2]) + p.data.shape[2:] for p in panels]
        return (tuple((p.kind, shape, p.group, p.width, p.newrow) for p, shape in zip(panels, shapes, strict=True)),
                len(view.lines), bool(view.title))

    def figure(self, view: View, setting: str = "the current setting") -> Figure:
        """Draw ``view`` into the explorer's figure (reused when the layout is unchanged)
        and set ``view.alt`` if it was empty."""
        if view.draw is not None:
            if self._layout != ("custom",):
                self._fig = Figure(figsize=(self.panel_size * self.ncols, self.panel_size * 1.6),
                                   layout="constrained", facecolor=BACKGROUND)
                self._layout, self._draw_key = ("custom",), ()
            if not view.draw_key or view.draw_key != self._draw_key:
                # a new drawing: cleared, laid out once by its first save (see render), then kept
                self._fig.clear()
                self._fig.set_layout_engine("constrained")
                self._frozen = False
            self._draw_key = view.draw_key
            view.draw(self._fig)
            if not view.alt:
                view.alt = f"{view.title or 'figure'} for {setting}"
            return self._fig
        panels = view.image_panels()
        layout = self._layout_key(view, panels)
        if self._fig is None or layout != self._layout:
            self._switch(layout, view, panels)
        # one colour scale per group: all of its panels together
        shown = [self._shown(p) for p in panels]  # what is drawn; extremes kept (max-|value| pooling)
        group_scale: dict[str, dict] = {}
        for d, g in zip(shown, self._group_of, strict=True):
            if g is not None:
                group_scale.setdefault(g, []).append(d)
        group_scale = {g: self._scale(np.concatenate([np.ravel(d) for d in ds]),
                                      next(p.kind for p, gg in zip(panels, self._group_of, strict=True) if gg == g))
                       for g, ds in group_scale.items()}
        for i, (artist, p, d) in enumerate(zip(self._artists, panels, shown, strict=True)):
            if p.kind == "kernel" and artist.get_array().shape != d.shape:  # another kernel size, same place
                for t in self._texts[i]:
                    t.remove()
                artist.set_data(d)
                artist.set_extent((-0.5, d.shape[1] - 0.5, d.shape[0] - 0.5, -0.5))
                self._texts[i] = self._cell_texts(artist.axes, p)
        scales = []
        for artist, texts, p, g, d in zip(self._artists, self._texts, panels, self._group_of, shown, strict=True):
            # only what differs is set: an unchanged panel stays un-stale and is not drawn again
            if p.kind == "rgb":
                d = np.clip(d, 0.0, 1.0)
                scales.append({"cmap": None})
            else:
                kw = group_scale[g]
                if artist.get_cmap().name != kw["cmap"]:
                    artist.set_cmap(kw["cmap"])
                if artist.get_clim() != (kw["vmin"], kw["vmax"]):
                    artist.set_clim(kw["vmin"], kw["vmax"])
                scales.append(kw)
                finite = p.data[np.isfinite(p.data)] if texts else p.data[:0]
                integers = bool(np.all(finite == np.round(finite)))
                for t, v in zip(texts, np.ravel(p.data), strict=False):
                    t.set_text(_cell_label(v, integers))
                    frac = (v - kw["vmin"]) / ((kw["vmax"] - kw["vmin"]) or 1.0)
                    dark = (frac < 0.3 or frac > 0.7) if kw["cmap"] == "RdBu_r" else frac < 0.55
                    color = "white" if dark else "black"
                    if t.get_color() != color:
                        t.set_color(color)
            if not _same_pixels(artist.get_array(), d):
                artist.set_data(d)
            title = p.title
            if p.kind != "kernel" and "×" not in title:
                title = f"{title}\n{p.data.shape[0]}×{p.data.shape[1]}"
            artist.axes.title.set_text(title)
        for key, kw in group_scale.items():
            if key in self._bars:
                self._bars[key].update(kw["cmap"], kw["vmin"], kw["vmax"])
        for ax, lp in zip(self._line_axes, view.lines, strict=True):
            lines = ax.get_lines()
            same_kind = (getattr(ax, "_panel_kind", None) == (lp.title, lp.xlabel, lp.ylabel, lp.logy)
                         and [ln.get_label() for ln in lines] == list(lp.series))
            if same_kind:  # the same plot with new numbers: move the lines, keep the axes' setup
                for ln, (x, y) in zip(lines, lp.series.values(), strict=True):
                    ln.set_data(x, y)
                ax.relim()
                ax.autoscale_view()
                if lp.ylim is not None:
                    ax.set_ylim(*lp.ylim)
                if lp.logy:
                    _set_log_ticks(ax)
                continue
            ax.clear()
            for label, (x, y) in lp.series.items():
                ax.plot(x, y, label=label, lw=1.6)
            if lp.logy:
                ax.set_yscale("log")
                # no minor ticks, labels in plain text (see _set_log_ticks): the default mathtext
                # labels and minor ticks of a log axis were most of a redraw
                ax.yaxis.set_minor_locator(NullLocator())
            if lp.ylim is not None:
                ax.set_ylim(*lp.ylim)
            if lp.logy:
                _set_log_ticks(ax)
            if all(np.all(np.asarray(x) == np.round(x)) for x, _ in lp.series.values()):
                ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # steps, blocks: no 0.5 ticks
            ax.set_title(lp.title, fontsize=TITLE_PT)
            ax.set_xlabel(lp.xlabel, fontsize=TITLE_PT - 1)
            ax.set_ylabel(lp.ylabel, fontsize=TITLE_PT - 1)
            ax.tick_params(labelsize=MIN_FONT_PT)
            ax.grid(alpha=0.3)
            if len(lp.series) > 1:
                ax.legend(fontsize=MIN_FONT_PT)
            ax._panel_kind = (lp.title, lp.xlabel, lp.ylabel, lp.logy)
        self._suptitle.set_text(view.title)
        if not view.alt:
            view.alt = _auto_alt(view, panels, scales, setting)
        return self._fig

    @staticmethod
    def _scale(values: np.ndarray, kind: str) -> dict:
        if kind == "diff":
            hi = float(np.nanmax(values)) if values.size else 0.0
            return {"cmap": "gray", "vmin": 0.0, "vmax": hi if hi > 0 else 1.0}
        return color_scale(values)

    def _view(self, values: dict) -> tuple[View, dict]:
        extra = {k: v for k, v in values.items() if k not in self.controls}
        settings, constraints = self.settle({k: v for k, v in values.items() if k in self.controls})
        view = self.compute(**settings, **extra)
        reasons = [f"{name.replace('_', ' ')} is disabled: {rule['disabled']}"
                   for name, rule in constraints.items() if rule.get("disabled")]
        if reasons:
            view.text = "\n".join([view.text, *reasons]) if view.text else "\n".join(reasons)
        return view, settings

    def view(self, **values: object) -> View:
        """The :class:`View` for ``values`` (settled as in :meth:`render`), without drawing it."""
        return self._view(values)[0]

    def render(self, **values: object) -> tuple[View, bytes]:
        """Compute the view for ``values`` (missing ones take their defaults, invalid ones
        move to the nearest valid value) and encode it as PNG. The view's text ends with
        the reason for every disabled control."""
        view, settings = self._view(values)
        setting = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in settings.items())
        fig = self.figure(view, setting)
        png = self._png(fig)
        if not self._frozen and (view.draw is None or view.draw_key):
            # The constrained layout was computed by this first save; keep it. Later
            # redraws of the same layout skip the layout pass, which otherwise costs a
            # whole extra draw of the figure on every control change.
            fig.set_layout_engine(None)
            self._frozen = True
        return view, png

    def _png(self, fig: Figure) -> bytes:
        """Draw ``fig`` with Agg and encode it as an RGB PNG: only the parts that changed since the
        last call are drawn again and only the changed bands of rows compressed again (see
        :func:`fast_canvas`); the pixels are those of a full redraw."""
        fig.set_dpi(self.dpi)
        canvas = fast_canvas(fig)
        canvas.redraw()
        return canvas.png()

    def show(self, **values: object) -> None:
        """Print the counts and display the figure for one setting (the static explorer cell).

        The PNG output carries the text alternative in its metadata (``alt``) and as its
        plain-text form; the caption line printed under the counts says the same, for
        front ends that do not pass the metadata on to the page (JupyterLab).
        """
        from IPython.display import display

        view, png = self.render(**{**self.static, **values})
        print(wrap_text("\n".join(t for t in (view.text, f"Figure: {view.alt}") if t)))
        display({"image/png": base64.b64encode(png).decode("ascii"), "text/plain": f"Figure: {view.alt}"}, raw=True,
                metadata={"image/png": {"alt": view.alt}})

    # ------------------------------------------------------------------ widgets
    def make_controls(self) -> dict:
        """The ipywidgets for the controls, by name (a "play" control is its slider;
        the slider and its Play button sit in ``self.play_buttons[name]``)."""
        import ipywidgets as w

        made = {}
        self.play_buttons = {}
        style = {"description_width": "initial"}
        for name, (kind, *opts) in self.controls.items():
            label = name.replace("_", " ")
            if kind in ("slider", "play"):
                lo, hi, step, value = opts
                made[name] = w.IntSlider(min=lo, max=hi, step=step, value=value, description=label,
                                         continuous_update=False, style=style)
                if kind == "play":
                    self.play_buttons[name] = w.Play(min=lo, max=hi, step=step, value=value, interval=700,
                                                     description=f"play {label}")
            elif kind == "float":
                lo, hi, step, value = opts
                made[name] = w.FloatSlider(min=lo, max=hi, step=step, value=value, description=label,
                                           continuous_update=False, style=style, readout_format=".2f")
            elif kind == "select":
                options, value = opts
                made[name] = w.SelectionSlider(options=options, value=value, description=label,
                                               continuous_update=False, style=style)
            elif kind == "dropdown":
                options, value = opts
                # wide enough for the longest option (about 7.5 px a character, plus the label and arrow)
                longest = max(len(str(o)) for o in options)
                width = max(300, int(7.5 * (longest + len(label))) + 60)
                made[name] = w.Dropdown(options=options, value=value, description=label, style=style,
                                        layout=w.Layout(width=f"{width}px"))
            elif kind == "toggle":
                options, value = opts
                made[name] = w.ToggleButtons(options=options, value=value, description=label,
                                             style={**style, "button_width": "auto"})
            elif kind == "checkbox":
                (value,) = opts
                made[name] = w.Checkbox(value=value, description=label, indent=False)
            else:
                raise ValueError(f"unknown control kind {kind!r} for {name!r}")
        return made

    def _apply(self, controls: dict, values: dict, constraints: dict) -> None:
        """Set every widget's range, value and disabled state from :meth:`settle`."""
        for name, c in controls.items():
            kind, *opts = self.controls[name]
            rule = constraints.get(name, {})
            targets = [c, *([self.play_buttons[name]] if name in self.play_buttons else [])]
            if kind in ("slider", "play", "float"):
                lo, hi = rule.get("min", opts[0]), rule.get("max", opts[1])
                for t in targets:
                    if lo > t.max:  # keep min <= max at every step
                        t.max = hi
                        t.min = lo
                    else:
                        t.min = lo
                        t.max = hi
            elif kind in ("dropdown", "toggle", "select"):
                options = list(rule.get("options", opts[0]))
                if list(c.options) != options:
                    c.options = options
            for t in targets:
                if t.value != values[name]:
                    t.value = values[name]
                t.disabled = bool(rule.get("disabled"))

    @staticmethod
    def html(view: View, png: bytes) -> str:
        """The live image: an ``<img>`` whose ``alt`` is the view's text alternative."""
        src = base64.b64encode(png).decode("ascii")
        return (f'<img src="data:image/png;base64,{src}" alt="{html.escape(view.alt)}" '
                f'style="max-width: 100%; background: {BACKGROUND}">')

    def widget(self) -> object:
        """The live explorer: the controls above an output that redraws on every change."""
        import ipywidgets as w
        from IPython.display import display

        controls = self.make_controls()
        out = w.Output()
        busy = [False]

        def refresh(_change: object = None) -> None:
            if busy[0]:
                return
            if self.prefetch and _change is not None:
                self.prefetch(None)
            busy[0] = True
            try:
                values, constraints = self.settle({n: c.value for n, c in controls.items()})
                self._apply(controls, values, constraints)
            finally:
                busy[0] = False
            try:
                view, png = self.render(**values)
            except Exception as exc:  # noqa: BLE001 -- shown where the learner looks, not in a log
                with out:
                    out.clear_output(wait=True)
                    print(wrap_text(f"This setting could not be drawn ({type(exc).__name__}: {exc}); "
                                    "move a control to another value."))
                if self.prefetch:  # never left paused by a failed redraw
                    self.prefetch(values)
                return
            with out:
                out.clear_output(wait=True)
                if view.text:
                    print(wrap_text(view.text))
                # an <img> with its alt (JupyterLab, Colab and VS Code show HTML), and the alt as the
                # plain-text form; the PNG travels once (a second image/png copy of it made every
                # message to the browser twice as large)
                display({"text/html": self.html(view, png), "text/plain": f"Figure: {view.alt}"}, raw=True)
            if self.prefetch:
                self.prefetch(values)

        for c in controls.values():
            c.observe(refresh, names="value")
        for name, play in self.play_buttons.items():
            w.jslink((play, "value"), (controls[name], "value"))
        toggles = [c for c in controls.values() if isinstance(c, w.ToggleButtons)]
        others = []
        for name, c in controls.items():
            if isinstance(c, w.ToggleButtons):
                continue
            others.append(w.HBox([self.play_buttons[name], c]) if name in self.play_buttons else c)
        rows = [*toggles, *[w.HBox(others[i:i + 3], layout=w.Layout(flex_flow="row wrap"))  # wrap, never overflow
                            for i in range(0, len(others), 3)]]
        refresh()
        box = w.VBox([*rows, out])
        box.add_class("explorer")
        return box


# ------------------------------------------------------------------ fast redraw
# A control change usually alters a few panels; redrawing and re-encoding the whole figure
# costs 100-200 ms. The canvas below redraws only what changed (the axes and figure texts
# matplotlib marks stale), re-encodes only the PNG bands whose pixels changed, and keeps the
# rasterised glyphs of every text it drew. Its pixels are those of a full redraw (tested).

_GLYPHS: OrderedDict = OrderedDict()  # (text, font, position phase, ...) -> [(glyph bitmap, left, top)]
_GLYPH_CACHE_SIZE = 6000
_FONT_METRICS: dict = {}  # (font properties, dpi) -> (ascent, descent, line gap) in pixels


def _glyph_cache_works() -> bool:
    """Matplotlib 3.11's Agg text path (per-glyph FreeType rendering) is the one replicated below."""
    import matplotlib
    from matplotlib.backends.backend_agg import RendererAgg
    from matplotlib.ft2font import FT2Font

    major_minor = tuple(int(p) for p in matplotlib.__version__.split(".")[:2])
    return (major_minor == (3, 11) and hasattr(RendererAgg, "_draw_text_glyphs_and_boxes")
            and hasattr(FT2Font, "_layout") and hasattr(FT2Font, "_render_glyph"))


def _make_canvas_class() -> type:
    import math

    from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg

    cache_glyphs = _glyph_cache_works()

    class _Renderer(RendererAgg):
        """Agg with a cache of rasterised text: the same string, font and sub-pixel position
        gives the same glyph bitmaps, so they are rendered by FreeType once."""

        def draw_text(self, gc, x, y, s, prop, angle, ismath=False, mtext=None):  # noqa: ANN001, ANN201
            if ismath or not cache_glyphs:
                return super().draw_text(gc, x, y, s, prop, angle, ismath, mtext)
            from matplotlib.backends.backend_agg import get_hinting_flag
            from matplotlib.ft2font import RenderMode

            features = mtext.get_fontfeatures() if mtext is not None else None
            language = mtext.get_language() if mtext is not None else None
            fy_abs = self.height - y
            ix, iy = math.floor(x), math.floor(fy_abs)
            flags = get_hinting_flag()
            key = (s, prop, self.dpi, angle, gc.get_antialiased(), flags, features and tuple(features), language,
                   x - ix, fy_abs - iy)
            glyphs = _GLYPHS.get(key)
            if glyphs is None:
                font = self._prepare_font(prop)
                items = font._layout(s, flags=flags, features=features, language=language)
                size = prop.get_size_in_points()
                cos, sin = math.cos(math.radians(angle)), math.sin(math.radians(angle))
                glyphs = []
                for item in items:
                    f, dx, dy = item.ft_object, item.x, item.y
                    f.set_size(size, self.dpi)
                    f._set_transform((0x10000 * np.array([[cos, -sin], [sin, cos]])).round().astype(int),
                                     [round(0x40 * (x + dx * cos - dy * sin)),
                                      round(0x40 * (fy_abs + dx * sin + dy * cos))])
                    bitmap = f._render_glyph(item.glyph_index, flags,
                                             RenderMode.NORMAL if gc.get_antialiased() else RenderMode.MONO)
                    buffer = np.array(bitmap.buffer, copy=True)
                    if not gc.get_antialiased():
                        buffer *= 0xff
                    glyphs.append((buffer, bitmap.left - ix, bitmap.top - iy))
                _GLYPHS[key] = glyphs
                while len(_GLYPHS) > _GLYPH_CACHE_SIZE:
                    _GLYPHS.popitem(last=False)
            else:
                _GLYPHS.move_to_end(key)
            height = int(self.height)
            for buffer, left, top in glyphs:
                self._renderer.draw_text_image(buffer, left + ix, height - (top + iy) + buffer.shape[0], 0, gc)
            return None

        if cache_glyphs:
            def _get_font_height_metrics(self, prop):  # noqa: ANN001, ANN202
                """The font's ascent, descent and line gap in pixels (what Text._get_layout looks
                up for every text it lays out: the font and its tables), kept per font and dpi."""
                key = (hash(prop), self.dpi)
                hit = _FONT_METRICS.get(key)
                if hit is None:
                    from matplotlib.font_manager import fontManager, get_font

                    font = get_font(fontManager._find_fonts_by_props(prop))
                    hit = (None, None, None)
                    for table_name, gap, ascent, descent in (
                            ("OS/2", "sTypoLineGap", "sTypoAscender", "sTypoDescender"),
                            ("hhea", "lineGap", "ascent", "descent")):
                        table = font.get_sfnt_table(table_name)
                        if table is None:
                            continue
                        em = font.get_sfnt_table("head")["unitsPerEm"]
                        scale = 1 / em * prop.get_size_in_points() * self.dpi / 72
                        hit = (table[ascent] * scale, -table[descent] * scale, table[gap] * scale)
                        break
                    _FONT_METRICS[key] = hit
                return hit

    class _Canvas(FigureCanvasAgg):
        """Agg canvas that redraws only the stale parts of a figure and encodes PNGs by bands."""

        BAND = 16  # rows per independently compressed PNG band

        def get_renderer(self):  # noqa: ANN201
            w, h = self.get_width_height(physical=True)
            key = w, h, self.figure.dpi
            if self._lastKey != key:
                self.renderer = _Renderer(w, h, self.figure.dpi)
                self._lastKey = key
                self._extents = None  # nothing drawn on this renderer yet
            return self.renderer

        # ---- drawing
        def _artists(self) -> list:
            fig = self.figure
            return sorted((a for a in fig.get_children() if a is not fig.patch and not a.get_animated()),
                          key=lambda a: a.get_zorder())

        @staticmethod
        def _extent(artist, renderer):  # noqa: ANN001, ANN205
            """Pixels (x0, y0, x1, y1) an artist draws into: for an axes its box, titles, texts,
            legend and, when it has ticks, its tick labels and marks (cheaper than get_tightbbox,
            whose layout pass costs milliseconds per axes)."""
            from matplotlib.axes import Axes
            from matplotlib.transforms import Bbox

            if not artist.get_visible():
                return None
            if isinstance(artist, Axes):
                ax = artist
                boxes = [ax.get_window_extent(renderer)]
                # texts clipped to the axes stay inside its box: measuring them (a text layout each)
                # was a third of a redraw with two 7x7 kernels written out
                texts = [ax.title, ax._left_title, ax._right_title, *(t for t in ax.texts if not t.get_clip_on())]
                boxes += [t.get_window_extent(renderer) for t in texts if t.get_visible() and t.get_text()]
                if ax.legend_ is not None and ax.legend_.get_visible():
                    boxes.append(ax.legend_.get_window_extent(renderer))
                for axis in (ax.xaxis, ax.yaxis):
                    if axis.get_visible() and (len(axis.get_majorticklocs()) or len(axis.get_minorticklocs())
                                               or axis.label.get_text()):
                        b = axis.get_tightbbox(renderer)
                        if b is not None:
                            boxes.append(b)
                        ticks = max(axis.majorTicks[0].get_tick_padding() if axis.majorTicks else 0.0,
                                    axis.minorTicks[0].get_tick_padding() if axis.minorTicks else 0.0)
                        boxes.append(ax.bbox.padded(renderer.points_to_pixels(ticks)))
                bbox = Bbox.union(boxes)
            else:
                bbox = artist.get_window_extent(renderer)
            if bbox is None or not np.all(np.isfinite(bbox.extents)) or bbox.width <= 0 or bbox.height <= 0:
                return None
            return tuple(float(v) for v in bbox.extents)

        def _full(self) -> None:
            self.draw()
            renderer = self.renderer
            self._drawn = self._artists()  # kept alive, so their ids stay theirs
            self._extents = {id(a): self._extent(a, renderer) for a in self._drawn}
            for a in self._drawn:  # measuring re-applies the aspect, which marks an axes stale
                a.stale = False
            self.full_draws = getattr(self, "full_draws", 0) + 1

        def redraw(self) -> None:
            """Bring the pixels up to date: a full draw the first time (or when the layout engine
            is on), else only the stale artists and whatever overlaps them."""
            fig = self.figure
            renderer = self.get_renderer()
            artists = self._artists()
            if (self._extents is None or fig.get_layout_engine() is not None
                    or len(artists) != len(self._drawn)
                    or any(a is not b for a, b in zip(artists, self._drawn, strict=True))):
                self._full()
                return
            pad = 2.0  # pixels: antialiased edges reach about one pixel beyond an extent
            regions: list = []
            todo: list = []
            for a in artists:  # what changed: repaint where it was (new pixels are checked after drawing)
                if a.stale:
                    todo.append(a)
                    if self._extents[id(a)] is not None:
                        regions.append(self._extents[id(a)])
            if not todo:
                return

            def hits(e: tuple) -> bool:
                return any(e[0] - pad < r[2] + pad and r[0] - pad < e[2] + pad and
                           e[1] - pad < r[3] + pad and r[1] - pad < e[3] + pad for r in regions)

            grown = True
            while grown:  # an artist overlapping a region to repaint is repainted too
                grown = False
                for a in artists:
                    e = self._extents[id(a)]
                    if a not in todo and e is not None and hits(e):
                        todo.append(a)
                        regions.append(e)
                        grown = True
            h, w = int(renderer.height), int(renderer.width)
            boxes = []
            for r in regions:
                x0, x1 = max(0, math.floor(r[0] - pad)), min(w, math.ceil(r[2] + pad))
                y0, y1 = max(0, h - math.ceil(r[3] + pad)), min(h, h - math.floor(r[1] - pad))
                if x1 > x0 and y1 > y0:
                    boxes.append((x0, y0, x1, y1))
            covered = np.zeros((-(-h // 8), -(-w // 8)), bool)
            for x0, y0, x1, y1 in boxes:
                covered[y0 // 8:-(-y1 // 8), x0 // 8:-(-x1 // 8)] = True
            self.last_partial = (len(todo), len(artists), float(covered.mean()))
            if covered.mean() > 0.75:  # most of it: one full draw is simpler and as fast
                self._full()
                return
            buf = np.asarray(renderer.buffer_rgba())
            face = (np.array(fig.patch.get_facecolor()) * 255).round().astype(np.uint8)
            for x0, y0, x1, y1 in boxes:
                buf[y0:y1, x0:x1] = face
            for a in artists:
                if a in todo:
                    a.draw(renderer)
            kept = [self._extents[id(a)] for a in artists if a not in todo and self._extents[id(a)] is not None]
            for a in todo:
                e = self._extent(a, renderer)
                self._extents[id(a)] = e
                if e is not None and any(e[0] - pad < k[2] + pad and k[0] - pad < e[2] + pad and
                                         e[1] - pad < k[3] + pad and k[1] - pad < e[3] + pad for k in kept):
                    self._full()  # it now reaches into a part that was not repainted: draw everything
                    return
            for a in todo:
                a.stale = False
            fig.stale = False

        # ---- PNG
        def png(self) -> bytes:
            """The canvas as an RGB PNG; only bands whose pixels changed are compressed again."""
            import struct
            import zlib

            rgba = np.asarray(self.get_renderer().buffer_rgba())
            h, w = rgba.shape[:2]
            state = getattr(self, "_bands", None)
            if state is None or state["shape"] != (h, w):
                state = self._bands = {"shape": (h, w), "pixels": np.zeros_like(rgba), "raw": {}, "packed": {}}
                fresh = True
            else:
                fresh = False
            prev = state["pixels"]
            for b, y0 in enumerate(range(0, h, self.BAND)):
                y1 = min(h, y0 + self.BAND)
                if not fresh and np.array_equal(rgba[y0:y1], prev[y0:y1]):
                    continue
                prev[y0:y1] = rgba[y0:y1]
                rgb = rgba[y0:y1, :, :3].reshape(y1 - y0, w * 3)
                raw = np.empty((y1 - y0, 1 + 3 * w), np.uint8)
                raw[0, 0], raw[0, 1:] = 0, rgb[0]  # first row of a band unfiltered: bands are independent
                raw[1:, 0] = 2  # the others: "up" filter (white space and flat colour become zeros)
                np.subtract(rgb[1:], rgb[:-1], out=raw[1:, 1:])
                data = raw.tobytes()
                z = zlib.compressobj(1, zlib.DEFLATED, -15)
                state["raw"][b] = data
                state["packed"][b] = z.compress(data) + z.flush(zlib.Z_FULL_FLUSH)
            n = -(-h // self.BAND)
            adler = 1
            for b in range(n):
                adler = zlib.adler32(state["raw"][b], adler)
            idat = b"".join([b"\x78\x01", *(state["packed"][b] for b in range(n)), b"\x03\x00",
                             struct.pack(">I", adler & 0xFFFFFFFF)])

            def chunk(tag: bytes, data: bytes) -> bytes:
                return (struct.pack(">I", len(data)) + tag + data
                        + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF))

            return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                    + chunk(b"IDAT", idat) + chunk(b"IEND", b""))

    return _Canvas


_CANVAS: list = []


def fast_canvas(fig: Figure) -> object:
    """The figure's redraw-what-changed Agg canvas (attached on first use)."""
    if not _CANVAS:
        _CANVAS.append(_make_canvas_class())
    if not isinstance(fig.canvas, _CANVAS[0]):
        _CANVAS[0](fig)
    return fig.canvas
