"""The interactive explorers of the notebooks, built from core ipywidgets only.

Every explorer is an :class:`Explorer`: a few controls (sliders, dropdowns, toggle
buttons, checkboxes) and a ``compute`` function that turns their values into a
:class:`View` -- image panels (one per output channel) and/or line plots, plus a text
with the counts (MACs, parameters). ``Explorer.show()`` renders the default setting
as plain output (for GitHub's static view and for nbval); ``Explorer.widget()`` returns
the live UI.

Design choices, for speed and for Colab:

* ``ipywidgets`` is imported only inside :meth:`Explorer.widget`, so the maths and the
  CLI never need it. Only widgets that exist in ipywidgets 7 and 8 are used.
* One matplotlib ``Figure`` per explorer is kept and reused: a slider move updates the
  image artists' data and colour limits in place and re-encodes one small PNG, which
  takes tens of milliseconds, instead of building a new figure.
* The PNG is displayed with ``IPython.display.Image`` inside ``interactive_output``,
  which clears the previous one, so plots never pile up (in Colab either).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from matplotlib.figure import Figure

from .plotting import color_scale

__all__ = ["View", "LinePanel", "Explorer"]


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

    panels: (title, (H, W) array) pairs, drawn as images.
    lines: line plots, drawn after the image panels.
    text: the counts and remarks printed above the figure.
    shared_scale: one colour scale for all image panels (compare channels), or one each.
    """

    panels: list[tuple[str, np.ndarray]] = field(default_factory=list)
    text: str = ""
    lines: list[LinePanel] = field(default_factory=list)
    shared_scale: bool = True
    title: str = ""
    draw: Callable[[Figure], None] | None = None  # custom drawing instead of panels and lines


class Explorer:
    """Controls + a compute function + one reusable figure.

    Parameters
    ----------
    controls : {name: (kind, options)} with kind in "slider" (min, max, step, value),
        "float" (min, max, step, value), "dropdown" (list of options, value),
        "toggle" (list of options, value), "checkbox" (value). Names are the keyword
        arguments of ``compute``.
    compute : ``compute(**values) -> View``.
    ncols : image panels per row.
    """

    def __init__(self, controls: dict[str, tuple], compute: Callable[..., View], *, ncols: int = 4,
                 panel_size: float = 2.3, dpi: int = 72) -> None:
        self.controls = controls
        self.compute = compute
        self.ncols = ncols
        self.panel_size = panel_size
        self.dpi = dpi
        self._fig: Figure | None = None
        self._layout: tuple | None = None
        self._artists: list = []
        self._line_axes: list = []
        self._suptitle = None

    # ---------------------------------------------------------------- rendering
    def defaults(self) -> dict:
        """The value of every control as the explorer starts."""
        return {name: opts[-1] for name, (_kind, *opts) in self.controls.items()}

    def _build(self, view: View) -> None:
        n_img, n_line = len(view.panels), len(view.lines)
        cols = max(1, min(self.ncols, n_img)) if n_img else max(1, n_line)
        img_rows = -(-n_img // cols) if n_img else 0
        line_rows = -(-n_line // cols) if n_line else 0
        line_height = 1.25 if n_line else 0
        fig = Figure(figsize=(self.panel_size * cols * (1.3 if not n_img else 1.0),
                              self.panel_size * (img_rows + line_height * line_rows) + 0.7),
                     layout="constrained")
        grid = fig.add_gridspec(img_rows + line_rows, cols,
                                height_ratios=[1.0] * img_rows + [line_height] * line_rows)
        self._artists = []
        for i, (_, panel) in enumerate(view.panels):
            ax = fig.add_subplot(grid[i // cols, i % cols])
            ax.set_xticks([])
            ax.set_yticks([])
            interp = "nearest" if max(panel.shape) <= 64 else "antialiased"
            self._artists.append(ax.imshow(panel, interpolation=interp))
        self._line_axes = [fig.add_subplot(grid[img_rows + i // cols, i % cols]) for i in range(n_line)]
        self._suptitle = fig.suptitle("", fontsize=10)
        self._fig = fig
        self._frozen = False
        self._layout = (n_img, n_line, tuple(p.shape for _, p in view.panels))

    def figure(self, view: View) -> Figure:
        """Draw ``view`` into the explorer's figure (reused when the layout is unchanged)."""
        if view.draw is not None:
            if self._layout != ("custom",):
                self._fig = Figure(figsize=(self.panel_size * self.ncols, self.panel_size * 1.6), layout="constrained")
                self._layout = ("custom",)
            self._fig.clear()
            view.draw(self._fig)
            return self._fig
        layout = (len(view.panels), len(view.lines), tuple(p.shape for _, p in view.panels))
        if self._fig is None or layout != self._layout:
            self._build(view)
        shared = color_scale(np.stack([p for _, p in view.panels])) if view.panels and view.shared_scale else None
        for artist, (title, panel) in zip(self._artists, view.panels, strict=True):
            kw = shared or color_scale(panel)
            artist.set_data(panel)
            artist.set_cmap(kw["cmap"])
            artist.set_clim(kw["vmin"], kw["vmax"])
            artist.axes.set_title(f"{title}\n{panel.shape[0]}×{panel.shape[1]}", fontsize=8)
        for ax, lp in zip(self._line_axes, view.lines, strict=True):
            ax.clear()
            for label, (x, y) in lp.series.items():
                ax.plot(x, y, label=label, lw=1.4)
            if lp.logy:
                ax.set_yscale("log")
            if lp.ylim is not None:
                ax.set_ylim(*lp.ylim)
            ax.set_title(lp.title, fontsize=9)
            ax.set_xlabel(lp.xlabel, fontsize=8)
            ax.set_ylabel(lp.ylabel, fontsize=8)
            ax.tick_params(labelsize=7)
            ax.grid(alpha=0.3)
            if len(lp.series) > 1:
                ax.legend(fontsize=7)
        self._suptitle.set_text(view.title)
        return self._fig

    def render(self, **values: object) -> tuple[View, bytes]:
        """Compute the view for ``values`` (missing ones take their defaults) and encode it as PNG."""
        settings = {**self.defaults(), **values}
        view = self.compute(**settings)
        fig = self.figure(view)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=self.dpi, pil_kwargs={"compress_level": 1})  # fast zlib level
        if not getattr(self, "_frozen", True) and view.draw is None:
            # The constrained layout was computed by this first save; keep it. Later
            # redraws of the same layout skip the layout pass, which otherwise costs a
            # whole extra draw of the figure on every slider move.
            fig.set_layout_engine(None)
            self._frozen = True
        return view, buf.getvalue()

    def show(self, **values: object) -> None:
        """Print the counts and display the figure for one setting (the static explorer cell)."""
        from IPython.display import Image, display

        view, png = self.render(**values)
        if view.text:
            print(view.text)
        display(Image(data=png, format="png"))

    # ------------------------------------------------------------------ widgets
    def make_controls(self) -> dict:
        """The ipywidgets for the controls, by name."""
        import ipywidgets as w

        made = {}
        style = {"description_width": "initial"}
        for name, (kind, *opts) in self.controls.items():
            label = name.replace("_", " ")
            if kind == "slider":
                lo, hi, step, value = opts
                made[name] = w.IntSlider(min=lo, max=hi, step=step, value=value, description=label,
                                         continuous_update=False, style=style)
            elif kind == "float":
                lo, hi, step, value = opts
                made[name] = w.FloatSlider(min=lo, max=hi, step=step, value=value, description=label,
                                           continuous_update=False, style=style, readout_format=".2f")
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

    def widget(self) -> object:
        """The live explorer: the controls above an output that redraws on every change."""
        import ipywidgets as w
        from IPython.display import Image, display

        controls = self.make_controls()

        def update(**values: object) -> None:
            view, png = self.render(**values)
            if view.text:
                print(view.text)
            display(Image(data=png, format="png"))

        out = w.interactive_output(update, controls)
        toggles = [c for c in controls.values() if isinstance(c, w.ToggleButtons)]
        others = [c for c in controls.values() if not isinstance(c, w.ToggleButtons)]
        rows = [*toggles, *[w.HBox(others[i:i + 3]) for i in range(0, len(others), 3)]]
        box = w.VBox([*rows, out])
        box.add_class("explorer")
        return box
