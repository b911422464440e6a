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
import io
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

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
    """

    def __init__(self, controls: dict[str, tuple], compute: Callable[..., View], *, ncols: int = 3,
                 panel_size: float = 2.8, dpi: int = 100, rules: Callable[[dict], dict] | None = None,
                 states: list[dict] | None = None, static: dict | None = None) -> None:
        self.controls = controls
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
                ax.set_xticks([])
                ax.set_yticks([])
                im = ax.imshow(self._shown(p), interpolation="nearest")  # pixels stay pixels; and fast
                texts = []
                small = np.isfinite(p.data).sum() <= 60
                if p.kind == "kernel" and p.data.ndim == 2 and small and self._cell_px(p) >= 22:
                    texts = [ax.text(x, y, "", ha="center", va="center", fontsize=MIN_FONT_PT)
                             for y in range(p.data.shape[0]) for x in range(p.data.shape[1])]
                self._artists.append(im)
                self._texts.append(texts)
                if p.kind != "rgb":
                    key = p.group or f"panel{len(self._artists)}"
                    first_by_group.setdefault(key, im)
                    if r == first_row.setdefault(key, r):  # a colorbar beside the group's first row
                        axes_by_group.setdefault(key, []).append(ax)
        for key, axes in axes_by_group.items():
            cb = fig.colorbar(first_by_group[key], ax=axes, shrink=0.85, pad=0.02, aspect=18)
            cb.ax.tick_params(labelsize=MIN_FONT_PT)
            cb.locator = MaxNLocator(5)  # a few labelled ticks: enough to read, cheaper to draw
        self._group_of = [(p.group or f"panel{i + 1}") if p.kind != "rgb" else None for i, p in enumerate(panels)]
        self._line_axes = []
        for i in range(n_line):
            sub = grid[len(rows) + i // max(line_cols, 1), 0].subgridspec(1, line_cols)
            self._line_axes.append(fig.add_subplot(sub[0, i % line_cols]))
        self._suptitle = fig.suptitle("", fontsize=TITLE_PT + 1)
        self._fig = fig
        self._frozen = False

    _STATE = ("_fig", "_artists", "_texts", "_line_axes", "_suptitle", "_group_of", "_frozen")

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
        shapes = [tuple(-(-n // self._step(p)) for n in p.data.shape[:2]) + p.data.shape[2:] for p in panels]
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
        scales = []
        for artist, texts, p, g, d in zip(self._artists, self._texts, panels, self._group_of, shown, strict=True):
            if p.kind == "rgb":
                artist.set_data(np.clip(d, 0.0, 1.0))
                scales.append({"cmap": None})
            else:
                kw = group_scale[g]
                artist.set_data(d)
                artist.set_cmap(kw["cmap"])
                artist.set_clim(kw["vmin"], kw["vmax"])
                scales.append(kw)
                finite = p.data[np.isfinite(p.data)] if texts else p.data[:0]
                integers = bool(np.all(finite == np.round(finite)))
                for t, v in zip(texts, np.ravel(p.data), strict=False):
                    t.set_text("" if not np.isfinite(v) else f"{v:g}" if integers else f"{v:.2f}")
                    frac = (v - kw["vmin"]) / ((kw["vmax"] - kw["vmin"]) or 1.0)
                    dark = (frac < 0.3 or frac > 0.7) if kw["cmap"] == "RdBu_r" else frac < 0.55
                    t.set_color("white" if dark else "black")
            title = p.title
            if p.kind != "kernel" and "×" not in title:
                title = f"{title}\n{p.data.shape[0]}×{p.data.shape[1]}"
            artist.axes.set_title(title, fontsize=TITLE_PT)
        for ax, lp in zip(self._line_axes, view.lines, strict=True):
            ax.clear()
            for label, (x, y) in lp.series.items():
                ax.plot(x, y, label=label, lw=1.6)
            if lp.logy:
                ax.set_yscale("log")
            if lp.ylim is not None:
                ax.set_ylim(*lp.ylim)
            ax.set_title(lp.title, fontsize=TITLE_PT)
            ax.set_xlabel(lp.xlabel, fontsize=TITLE_PT - 1)
            ax.set_ylabel(lp.ylabel, fontsize=TITLE_PT - 1)
            ax.tick_params(labelsize=MIN_FONT_PT)
            ax.grid(alpha=0.3)
            if len(lp.series) > 1:
                ax.legend(fontsize=MIN_FONT_PT)
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
        """Draw ``fig`` with Agg and encode it as an RGB PNG (fast zlib level; no alpha channel,
        the background is opaque white anyway)."""
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from PIL import Image

        canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
        fig.set_dpi(self.dpi)
        canvas.draw()
        rgb = np.asarray(canvas.buffer_rgba())[:, :, :3]
        buf = io.BytesIO()
        Image.fromarray(rgb).save(buf, format="png", compress_level=1)
        return buf.getvalue()

    def show(self, **values: object) -> None:
        """Print the counts and display the figure for one setting (the static explorer cell).

        The PNG output carries the text alternative in its metadata (``alt``) and as its
        plain-text form; the caption line printed under the counts says the same, for
        front ends that do not pass the metadata on to the page (JupyterLab).
        """
        from IPython.display import display

        view, png = self.render(**{**self.static, **values})
        print("\n".join(t for t in (view.text, f"Figure: {view.alt}") if t))
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
                made[name] = w.Dropdown(options=options, value=value, description=label, style=style)
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
            busy[0] = True
            try:
                values, constraints = self.settle({n: c.value for n, c in controls.items()})
                self._apply(controls, values, constraints)
            finally:
                busy[0] = False
            view, png = self.render(**values)
            with out:
                out.clear_output(wait=True)
                if view.text:
                    print(view.text)
                # HTML first (JupyterLab and Colab show it: an <img> with its alt); the PNG and the
                # plain-text alt travel with it for front ends and tools that read those
                display({"text/html": self.html(view, png), "image/png": base64.b64encode(png).decode("ascii"),
                         "text/plain": f"Figure: {view.alt}"}, raw=True, metadata={"image/png": {"alt": view.alt}})

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
        rows = [*toggles, *[w.HBox(others[i:i + 3]) for i in range(0, len(others), 3)]]
        refresh()
        box = w.VBox([*rows, out])
        box.add_class("explorer")
        return box
