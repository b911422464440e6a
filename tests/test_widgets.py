"""The explorer machinery (helpers.widgets): readable figures, colour scales, rules, alt text."""

import base64

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colorbar import Colorbar
from matplotlib.text import Text

from helpers import explorers
from helpers.widgets import MAX_WIDTH_IN, TEXT_COLUMNS, Explorer, Panel, View, wrap_text

FACTORIES = [explorers.sliding_window, explorers.separable, explorers.depthwise_pointwise, explorers.program,
             explorers.one_by_one, explorers.bottleneck, explorers.two_one_by_ones, explorers.residual]


def _drawn(ex):
    fig = ex._fig
    if not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)
    fig.canvas.draw()
    return fig, fig.canvas.get_renderer()


@pytest.mark.parametrize("factory", FACTORIES, ids=lambda f: f.__name__)
def test_figures_are_readable_at_the_default_jupyterlab_width(factory):
    """At most 960 px wide (shown unscaled in JupyterLab's 968-px output area at a 1400-px window),
    every text at least 10 px tall, every image panel (not the small kernels) at least 250 px wide,
    and an explicit white background."""
    ex = factory()
    for state in [{}, *ex.states]:
        view, png = ex.render(**ex.settle(state)[0])
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        fig, renderer = _drawn(ex)
        assert fig.get_figwidth() <= MAX_WIDTH_IN + 1e-9, (state, fig.get_figwidth())
        assert fig.get_facecolor()[:3] == (1.0, 1.0, 1.0)
        small = [t.get_text() for t in fig.findobj(Text)
                 if t.get_text().strip() and t.get_visible() and t.get_fontsize() * ex.dpi / 72 < 10]
        assert not small, f"text under 10 px in {state}: {small[:5]}"
        if view.draw is None:
            for artist, panel in zip(ex._artists, view.image_panels(), strict=True):
                if panel.kind != "kernel":
                    width = artist.axes.get_window_extent(renderer).width
                    assert width >= 250, (state, panel.title, width)


def test_signed_values_diverge_around_zero_with_one_colorbar_per_group():
    signed = np.linspace(-1, 3, 100).reshape(10, 10)
    ex = Explorer({"x": ("checkbox", False)}, lambda x: View(panels=[
        Panel("input", np.full((10, 10, 3), 0.5), kind="rgb"),
        Panel("a", signed, group="out"), Panel("b", signed / 2, group="out"),
        Panel("gray", np.abs(signed)), Panel("diff", np.abs(signed) * 1e-3, kind="diff")]))
    ex.render()
    a, b, gray, diff = ex._artists[1:]
    assert a.get_cmap().name == b.get_cmap().name == "RdBu_r"
    assert a.get_clim() == b.get_clim() == (-3.0, 3.0)  # shared and centred at 0
    assert gray.get_cmap().name == "gray" and gray.get_clim() == (0.0, 3.0)
    assert diff.get_cmap().name == "gray" and diff.get_clim()[0] == 0.0
    colorbars = [ax for ax in ex._fig.axes if hasattr(ax, "_colorbar") and isinstance(ax._colorbar, Colorbar)]
    assert len(colorbars) == 3  # one for the group a+b, one for gray, one for diff; none for the RGB input


def test_kernel_values_are_written_in_the_cells():
    k = np.array([[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]])
    ex = Explorer({"x": ("checkbox", False)}, lambda x: View(panels=[Panel("kernel 3×3", k * (2 if x else 1),
                                                                           kind="kernel")]))
    ex.render()
    assert [t.get_text() for t in ex._texts[0]] == ["1", "0", "-1", "2", "0", "-2", "1", "0", "-1"]
    ex.render(x=True)
    assert [t.get_text() for t in ex._texts[0]][:3] == ["2", "0", "-2"]  # updated in place


def test_alt_text_describes_the_panels_and_follows_every_redraw():
    ex = explorers.depthwise_pointwise()
    a, _ = ex.render()
    b, _ = ex.render(mode="pointwise", out_channels=2)
    assert a.alt != b.alt
    assert "mode depthwise" in a.alt and "out c0 ← R only (128×128, diverging" in a.alt
    assert "mode pointwise" in b.alt and "out c1" in b.alt and "out c2" not in b.alt


def test_show_stores_the_png_with_its_alt_and_prints_it(capsys):
    """nbval compares text: the printed counts and the figure's plain-text form (its alt) are stored."""
    shown = []
    import IPython.display

    original = IPython.display.display
    IPython.display.display = lambda *args, **kw: shown.append((args, kw))
    try:
        ex = explorers.separable()
        ex.show()
    finally:
        IPython.display.display = original
    (bundle,), kw = shown[0]
    assert kw["raw"] and base64.b64decode(bundle["image/png"])[:8] == b"\x89PNG\r\n\x1a\n"
    alt = kw["metadata"]["image/png"]["alt"]
    assert alt and bundle["text/plain"] == f"Figure: {alt}"
    printed = capsys.readouterr().out
    assert printed.rstrip().endswith(wrap_text(f"Figure: {alt}")) and "max |difference from full|" in printed
    assert max(len(line) for line in printed.splitlines()) <= TEXT_COLUMNS  # no line breaks inside a word


def test_every_stored_notebook_image_has_alt_text():
    """Every image output stored in the notebooks carries a text alternative in its metadata."""
    import json
    from pathlib import Path

    missing = []
    for path in sorted(Path(__file__).resolve().parents[1].glob("notebooks/0*.ipynb")):
        for i, cell in enumerate(json.loads(path.read_text())["cells"]):
            for out in cell.get("outputs", []):
                if "image/png" in out.get("data", {}):
                    alt = out.get("metadata", {}).get("image/png", {}).get("alt", "")
                    if not alt.strip():
                        missing.append(f"{path.name} cell {i}")
    assert not missing, f"image outputs without alt text: {missing}"


def test_rules_settle_to_valid_values_and_report_reasons():
    def rules(values):
        return {"b": {"max": values["a"]}, "c": {"disabled": "c needs a > 2"} if values["a"] <= 2 else {}}

    ex = Explorer({"a": ("slider", 1, 5, 1, 2), "b": ("slider", 0, 5, 1, 4), "c": ("checkbox", False)},
                  lambda a, b, c: View(text=f"{a} {b} {c}"), rules=rules)
    values, cons = ex.settle({})
    assert values["b"] == 2 and ex.options("b", cons) == [0, 1, 2]  # moved into range, never beyond it
    view = ex.view()
    assert view.text == "2 2 False\nc is disabled: c needs a > 2"
    assert ex.view(a=4, b=4).text == "4 4 False"


def test_widget_disables_inert_controls_and_links_play():
    pytest.importorskip("ipywidgets")
    import ipywidgets as w

    ex = explorers.sliding_window()
    box = ex.widget()
    flat = [c for row in box.children[:-1] for c in (row.children if isinstance(row, w.HBox) else [row])]
    flat = [g for c in flat for g in (c.children if isinstance(c, w.HBox) else [c])]
    play = next(c for c in flat if isinstance(c, w.Play))
    position = next(c for c in flat if isinstance(c, w.IntSlider) and c.description == "position")
    assert play.max == position.max == 35  # 6x6 outputs
    next(c for c in flat if getattr(c, "description", "") == "stride").value = 2
    assert play.max == position.max == 8  # 3x3 outputs
    n = next(c for c in flat if getattr(c, "description", "") == "n")
    kernel = next(c for c in flat if getattr(c, "description", "") == "kernel")
    n.value, kernel.value = 4, 5
    padding = next(c for c in flat if getattr(c, "description", "") == "padding")
    assert "valid" not in padding.options


def test_big_images_keep_one_pixel_edges_when_reduced_for_display():
    from helpers.widgets import _max_abs_pool

    edges = np.zeros((256, 256))
    edges[:, 101] = -2.0  # a one-pixel line on an odd column: subsampling by 2 would drop it
    edges[57, :] = 1.5
    shown = _max_abs_pool(edges, 2)
    assert shown.shape == (128, 128) and shown[:, 50].min() == -2.0 and shown[28, :].max() == 1.5
    assert _max_abs_pool(np.arange(25.0).reshape(5, 5), 2).tolist() == [[6, 8, 9], [16, 18, 19], [21, 23, 24]]


@pytest.mark.parametrize("factory", [explorers.separable, explorers.depthwise_pointwise, explorers.sliding_window],
                         ids=lambda f: f.__name__)
def test_redrawing_only_what_changed_gives_the_pixels_of_a_full_redraw(factory):
    """The explorers redraw only the stale panels and re-encode only the changed PNG bands: after a
    run of control changes the PNG decodes to exactly what a fresh full Agg draw of the figure gives."""
    import io

    from PIL import Image

    ex = factory()
    values, constraints = ex.settle({})
    ex.render(**values)
    names = [n for n in ex.controls if not constraints.get(n, {}).get("disabled")]
    partial = 0
    for name in names:
        options = ex.options(name, constraints)
        other = options[(options.index(values[name]) + 1) % len(options)]
        moved = ex.settle({**values, name: other})[0]
        for setting in (moved, values):  # there and back: both are control changes
            fig_before = ex._fig
            full_before = getattr(fig_before.canvas, "full_draws", 0)
            _, png = ex.render(**setting)
            partial += ex._fig is fig_before and ex._fig.canvas.full_draws == full_before
            got = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
            fast = ex._fig.canvas
            plain = FigureCanvasAgg(ex._fig)
            plain.draw()
            expected = np.asarray(plain.buffer_rgba())[:, :, :3]
            assert got.shape == expected.shape and np.array_equal(got, expected), (name, setting)
            ex._fig.set_canvas(fast)  # back to the explorer's canvas, with its state
    if factory is not explorers.sliding_window:
        assert partial > 0, "no control change was drawn partially"


def test_widget_calls_prefetch_after_each_drawing_and_pauses_it_for_a_redraw():
    pytest.importorskip("ipywidgets")
    import ipywidgets as w

    calls = []
    ex = explorers.separable()
    ex.prefetch = calls.append
    box = ex.widget()
    assert len(calls) == 1 and calls[0]["method"] == "separable"  # after the first drawing
    method = next(c for c in box.children if isinstance(c, w.ToggleButtons))
    method.value = "full"
    assert calls[1] is None and calls[2]["method"] == "full" and len(calls) == 3


def test_residual_prefetch_trains_the_neighbours_with_the_same_numbers(monkeypatch):
    """The notebook 04 explorer trains the settings one move away in a background thread: what it
    caches is what the foreground would compute, a pause holds it between steps, and a redraw that
    needs the setting being trained waits for it instead of training it twice."""
    import importlib
    import threading
    import time

    residual = importlib.import_module("helpers.explorers.residual")
    monkeypatch.setattr(residual, "STEPS", 5)
    runs = residual._Runs()
    monkeypatch.setattr(residual, "_RUNS", runs)
    trained = []
    real = residual._train_runs

    def counting(*args, **kw):
        trained.append((args, threading.current_thread().name))
        return real(*args, **kw)

    monkeypatch.setattr(residual, "_train_runs", counting)
    residual._prefetch({"depth": 4, "batchnorm": True, "shortcut": "v1", "learning_rate": 0.1})
    deadline = time.monotonic() + 60
    while (runs._wanted or runs._training) and time.monotonic() < deadline:
        time.sleep(0.01)
    expected = {(6, "plain", True), (6, "v1", True), (2, "plain", True), (2, "v1", True), (4, "plain", False),
                (4, "v1", False), (4, "preact", True)}
    assert set(runs._done) == expected
    assert all(name == "residual-explorer-prefetch" for _, name in trained)
    for key in expected:  # the same numbers as trained in the foreground
        fg = real(*key)
        assert all(np.array_equal(a, b, equal_nan=True) for a, b in zip(runs.get(key), fg, strict=True)), key
    assert len(trained) == len(expected)  # get() of a warmed setting trains nothing

    residual._prefetch(None)  # a redraw starts: the background thread holds at its next step
    gate = threading.Event()
    monkeypatch.setattr(runs, "_wait_while_paused", lambda: gate.wait(10))
    residual._prefetch({"depth": 8, "batchnorm": True, "shortcut": "v1", "learning_rate": 0.1})
    while runs._training is None and time.monotonic() < deadline:
        time.sleep(0.005)
    key = runs._training
    assert key is not None and key not in runs._done
    threading.Timer(0.2, gate.set).start()
    before = len(trained)
    result = runs.get(key)  # waits for the background thread instead of training it again
    assert key in runs._done and result is runs._done[key]
    assert [args for args, _ in trained[before:]].count(key) == 0


def test_residual_prefetch_holds_while_a_notebook_cell_runs(monkeypatch):
    """In IPython the background training waits while a cell runs (a notebook run top to bottom
    is not slowed by it) and goes on when the kernel is idle."""
    import importlib
    import time

    from IPython.core.events import EventManager, available_events

    residual = importlib.import_module("helpers.explorers.residual")
    monkeypatch.setattr(residual, "STEPS", 3)
    runs = residual._Runs()
    monkeypatch.setattr(residual, "_RUNS", runs)

    class Shell:
        events = EventManager(None, available_events)

    shell = Shell()
    monkeypatch.setattr("IPython.get_ipython", lambda: shell)
    residual._prefetch({"depth": 2, "batchnorm": False, "shortcut": "v1", "learning_rate": 0.1})  # in a cell
    time.sleep(0.5)
    assert runs._done == {}  # the cell that drew the explorer still runs
    shell.events.trigger("post_run_cell", None)
    deadline = time.monotonic() + 60
    while not runs._done and time.monotonic() < deadline:
        time.sleep(0.01)
    shell.events.trigger("pre_run_cell", None)  # the next cell: the thread holds after its current step
    time.sleep(0.3)
    done = len(runs._done)
    time.sleep(0.5)
    assert 0 < done == len(runs._done) < 5
    shell.events.trigger("post_run_cell", None)
    while (runs._wanted or runs._training) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert set(runs._done) == {(4, "plain", False), (4, "v1", False), (2, "plain", True), (2, "v1", True),
                               (2, "preact", False)}


@pytest.mark.parametrize(("lo", "hi"), [(0.9, 1.3), (1.05, 1.8), (1.08, 1.12), (1.0991, 1.0993), (0.003, 0.08),
                                        (0.02, 900.0), (1e-9, 10.0), (3.0, 3.5)])
def test_log_axes_always_get_two_labelled_ticks_inside_their_range(lo, hi):
    from helpers.widgets import _log_ticks

    ticks = _log_ticks(lo, hi)
    assert len(ticks) >= 2 and all(lo <= t <= hi for t in ticks) and ticks == sorted(set(ticks))


def test_sliding_window_still_draws_live_after_the_static_strip():
    """show() draws a strip into the same figure (clearing it); the live view drawn after it must
    build its grids again, not move artists that are no longer in the figure."""
    import io

    from PIL import Image

    ex = explorers.sliding_window()
    ex.render()
    ex.render(**ex.static)  # what show() draws
    ex.render(position=1)
    _, png = ex.render(position=2)
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    orange = (np.abs(pixels - [255, 183, 122]).sum(axis=2) < 12).sum()  # the window's cells
    assert orange > 1000, "the live sliding window came out blank"


def test_widget_prints_a_failed_redraw_and_keeps_prefetching(capsys):
    pytest.importorskip("ipywidgets")
    import ipywidgets as w

    def compute(a: int) -> View:
        if a == 2:
            raise ValueError("no picture for a = 2")
        return View(panels=[("x", np.full((4, 4), float(a)))], text=f"a = {a}")

    calls = []
    ex = Explorer({"a": ("slider", 0, 3, 1, 1)}, compute, prefetch=calls.append)
    box = ex.widget()
    slider = next(c for c in box.children[0].children if isinstance(c, w.IntSlider))
    slider.value = 2
    printed = capsys.readouterr().out
    assert "This setting could not be drawn (ValueError: no picture for a = 2); move a control" in printed
    assert calls[-2] is None and calls[-1]["a"] == 2  # paused for the redraw, resumed after the failure
    slider.value = 3
    assert "a = 3" in capsys.readouterr().out
