"""Each notebook in a real JupyterLab in a real Chromium: run all, no errors, every explorer control matters.

For every notebook: open it, wait for the kernel, run all cells, assert that no
cell shows an error. Then, for each explorer (the ipywidgets box with class
``explorer``):

* every control that is enabled is moved (a slider one step, a dropdown to another
  option, a toggle to another button, a checkbox clicked), from the default state
  and again after each toggle option is picked, and the plotted image or the
  printed counts must change; every disabled control must have its reason printed
  ("<name> is disabled: ...");
* a Play button (the sliding window) must step the picture by itself;
* the live image is an ``<img>`` with a non-empty ``alt`` that follows the redraw,
  shown at its natural size (not scaled down: its text stays >= 10 px);
* the time from a control change to the new image is recorded; the median per
  notebook is printed with the target (<= 300 ms, met or MISSED) and the machine's
  load, and written to test-output/e2e/NN_timings.json. The moves come back to back
  (as fast as the page settles); notebook 04's explorer, which trains the settings one
  move away while the kernel is idle, then has every enabled non-toggle control moved
  once more with 3 s between moves (a learner looking at each plot), reported apart. It is a measurement, not an
  assertion: a timing on a shared machine says as much about the machine as about
  the code (speed targets live in the benchmarks, not in pass/fail tests).

The static explorer output (``explorer.show()``) is checked too: JupyterLab 4 does
not copy an output's ``alt`` metadata to the ``<img>`` (asserted here, so we notice
if it starts to), so the printed caption "Figure: ..." must be there instead.

Screenshots of every explorer go to test-output/e2e/; with UPDATE_SCREENSHOTS=1 the
default view of each explorer also replaces the README's images/screenshots/.
Afterwards the kernel is shut down and the notebook file on disk must be
byte-for-byte unchanged.
"""

from __future__ import annotations

import hashlib
import json
import os
import statistics
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "test-output" / "e2e"
SCREENSHOTS = ROOT / "images" / "screenshots"

# notebook -> the README screenshot name of each of its explorers, in page order
EXPLORERS = {
    "01_spatial_separable_convolution.ipynb": ["explorer_01_sliding_window", "explorer_01_separable"],
    "02_depthwise_vs_pointwise_convolution.ipynb": ["explorer_02_depthwise_pointwise"],
    "03_one_by_one_convolution.ipynb": ["explorer_03_one_by_one", "explorer_03_bottleneck",
                                        "explorer_03_two_one_by_ones"],
    "04_residual_connections.ipynb": ["explorer_04_residual"],
    "05_flag_driven_convolution.ipynb": ["explorer_05_program"],
}
MEDIAN_LIMIT_S = 0.300
# explorers whose first visit to a setting computes something slow (notebook 04 trains two
# networks) are also moved at a learner's pace: LOOK_MS between moves
LEARNER_PACE = {"04_residual_connections.ipynb"}
LOOK_MS = 3000

NOTEBOOK_JS = "window.jupyterapp.shell.currentWidget"
ALL_RUN_JS = f"""() => {{
    const nb = {NOTEBOOK_JS};
    if (!nb || !nb.content || !nb.sessionContext.session || !nb.sessionContext.session.kernel) return false;
    const code = nb.content.widgets.filter(c => c.model.type === 'code');
    return code.every(c => c.model.executionCount !== null) && nb.sessionContext.session.kernel.status === 'idle';
}}"""
ERRORS_JS = f"""() => {NOTEBOOK_JS}.content.widgets
    .filter(c => c.model.type === 'code')
    .flatMap(c => c.model.outputs.toJSON())
    .filter(o => o.output_type === 'error')
    .map(o => o.ename + ': ' + o.evalue)"""
# Every control of an explorer box: its kind, label, whether it is disabled, and what it offers.
SELECTOR = ".widget-slider, .widget-dropdown, .widget-toggle-buttons, .widget-checkbox"
CONTROLS_JS = "ex => [...ex.querySelectorAll('" + SELECTOR + """')]
  .map((el, index) => {
    const kind = el.classList.contains('widget-slider') ? 'slider'
      : el.classList.contains('widget-dropdown') ? 'dropdown'
      : el.classList.contains('widget-toggle-buttons') ? 'toggle' : 'checkbox';
    // a checkbox's description sits beside its box (.widget-label-basic), not in the empty left label
    const label = ((kind === 'checkbox' && el.querySelector('.widget-label-basic'))
                   || el.querySelector('.widget-label') || {}).textContent || '';
    const handle = el.querySelector('.noUi-handle');
    const select = el.querySelector('select');
    const buttons = [...el.querySelectorAll('button')];
    const input = el.querySelector('input[type=checkbox]');
    const disabled = kind === 'slider'  // ipywidgets 7's jQuery UI slider marks itself with a class
      ? (el.querySelector('[disabled], .ui-slider-disabled, .ui-state-disabled') !== null)
      : kind === 'dropdown' ? select.disabled
      : kind === 'toggle' ? buttons.every(b => b.disabled) : input.disabled;
    return {index, kind, label: label.trim(), disabled,
            now: handle ? Number(handle.getAttribute('aria-valuenow')) : null,
            min: handle ? Number(handle.getAttribute('aria-valuemin')) : null,
            max: handle ? Number(handle.getAttribute('aria-valuemax')) : null,
            options: select ? [...select.options].map(o => o.textContent) : buttons.map(b => b.textContent.trim()),
            value: select ? select.options[select.selectedIndex].textContent
              : (buttons.find(b => b.classList.contains('mod-active')) || {}).textContent};
  })"""


STATE_JS = """el => {
    // the image as its scheme and a hash (not the whole data URL: copying ~100 KB out of the page on
    // every poll loaded the machine the kernel redraws on), its alt, and the printed text
    const img = el.querySelector('.jp-OutputArea-output img');
    const src = img ? (img.getAttribute('src') || '') : '';
    let h = 2166136261;
    for (let i = 0; i < src.length; i++) { h ^= src.charCodeAt(i); h = Math.imul(h, 16777619); }
    const texts = [...el.querySelectorAll('.jp-OutputArea-output pre')].map(e => e.innerText);
    return [src ? src.slice(0, 22) + ':' + src.length + ':' + (h >>> 0) : '',
            img ? (img.getAttribute('alt') || '') : '', texts.join('\\n')];
}"""


def _state(explorer) -> tuple[str, str, str]:
    """(the plotted PNG as "data:image/png;base64,:<length>:<hash>", its alt, printed text) of one explorer."""
    src, alt, text = explorer.evaluate(STATE_JS)
    return src, alt, text


def _wait_for_change(page, explorer, before: tuple[str, str, str], what: str,
                     timeout: float = 60.0, t0: float | None = None) -> tuple[tuple[str, str, str], float]:
    """Wait until the image or the text differs from ``before``; the seconds it took to the new image,
    counted from ``t0`` (``time.perf_counter()`` when the control was moved; default: now)."""
    t0 = time.perf_counter() if t0 is None else t0
    while time.perf_counter() - t0 < timeout:
        now = _state(explorer)
        if now[0] and now[2] and (now[0] != before[0] or now[2] != before[2]):
            seconds = time.perf_counter() - t0
            page.wait_for_timeout(150)  # let the output settle (clear_output + display)
            return _state(explorer), seconds
        page.wait_for_timeout(10)
    now = _state(explorer)
    raise AssertionError(f"{what}: the explorer did not change within {timeout} s; text now:\n{now[2][:600]}")


def _controls(explorer) -> list[dict]:
    return explorer.evaluate(CONTROLS_JS)


def _act(page, explorer, control: dict) -> tuple[str, float]:
    """Move one control; returns what was done and ``time.perf_counter()`` just before the move."""
    box = explorer.locator(SELECTOR).nth(control["index"])
    if control["kind"] == "slider":
        # ipywidgets 8 draws sliders with noUiSlider (aria values on the handle), 7 with jQuery UI (none)
        handle = box.locator(".noUi-handle, .ui-slider-handle").first
        handle.focus()
        if control["now"] is not None:
            key = "ArrowLeft" if control["now"] >= control["max"] else "ArrowRight"
            t0 = time.perf_counter()
            page.keyboard.press(key)
        else:  # no position to read: step right, and left instead if the readout did not move (at the end)
            readout = box.locator(".widget-readout").first
            before = readout.inner_text()
            key = "ArrowRight"
            t0 = time.perf_counter()
            page.keyboard.press(key)
            page.wait_for_timeout(200)
            if readout.inner_text() == before:  # that press did nothing: the move is the next one
                key = "ArrowLeft"
                t0 = time.perf_counter()
                page.keyboard.press(key)
        handle.blur()
        return f"{control['label']} {key}", t0
    t0 = time.perf_counter()
    if control["kind"] == "dropdown":
        options = control["options"]
        other = options[(options.index(control["value"]) + 1) % len(options)]
        box.locator("select").select_option(label=other)
        return f"{control['label']} -> {other}", t0
    if control["kind"] == "toggle":
        other = next(o for o in control["options"] if o != control["value"])
        box.locator("button", has_text=other).first.click()
        return f"{control['label']} -> {other}", t0
    box.locator("input[type=checkbox]").click()
    return f"{control['label']} clicked", t0


def _exercise(page, explorer, state, timings: list[float], log: list[str], where: str, look_ms: int = 0):
    """Move every enabled non-toggle control once; check the reason of every disabled one.
    ``look_ms``: wait so long before each move, as a learner looking at the plot would."""
    n = len(_controls(explorer))
    for i in range(n):
        control = _controls(explorer)[i]
        if control["kind"] == "toggle":
            continue
        if control["disabled"]:
            name = control["label"]
            assert f"{name} is disabled: " in state[2], f"{where}: {name} is disabled without a reason printed"
            log.append(f"{where}: {name} disabled (reason printed)")
            continue
        page.wait_for_timeout(look_ms)
        what, t0 = _act(page, explorer, control)
        state, seconds = _wait_for_change(page, explorer, state, f"{where}: {what}", t0=t0)
        timings.append(seconds)
        log.append(f"{where}: {what}: changed in {seconds * 1000:.0f} ms")
        assert state[1], f"{where}: {what}: the image has no alt text"
    return state


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.e2e
@pytest.mark.parametrize("name", sorted(EXPLORERS))
def test_notebook_runs_and_every_explorer_control_matters(lab, browser, name):
    path = ROOT / "notebooks" / name
    digest = _sha(path)
    checkpoint = ROOT / "notebooks" / ".ipynb_checkpoints" / name.replace(".ipynb", "-checkpoint.ipynb")
    checkpoint_before = checkpoint.exists() and checkpoint.stat().st_mtime
    OUTPUT.mkdir(parents=True, exist_ok=True)
    stem = name.split("_")[0]
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    timings: dict = {}
    redraws: list[float] = []
    paced: list[float] = []
    log: list[str] = []
    try:
        t0 = time.perf_counter()
        # a workspace of its own, reset, so no tab from an earlier test is restored beside this one
        page.goto(lab.url(f"lab/workspaces/e2e-{stem}/tree/notebooks/{name}") + "&reset")
        page.wait_for_function("window.jupyterapp && window.jupyterapp.shell && "
                               f"{NOTEBOOK_JS} && {NOTEBOOK_JS}.context && "
                               f"{NOTEBOOK_JS}.context.path === 'notebooks/{name}'", timeout=60_000)
        panel = "#" + page.evaluate(f"{NOTEBOOK_JS}.id")
        page.wait_for_function("[...document.querySelectorAll('.jp-StatusBar-TextItem')]"
                               ".some(e => /\\(ipykernel\\) \\| Idle/.test(e.textContent))", timeout=90_000)
        timings["open_to_idle_s"] = round(time.perf_counter() - t0, 2)
        page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
        page.wait_for_timeout(500)
        page.wait_for_function(ALL_RUN_JS, timeout=180_000, polling=250)
        timings["run_all_s"] = round(time.perf_counter() - t0 - timings["open_to_idle_s"], 2)
        errors = page.evaluate(ERRORS_JS)
        assert errors == [], f"{name}: cells raised {errors}"

        # the static explorer outputs: JupyterLab drops the metadata alt, the printed caption carries it
        captions = page.locator(f"{panel} .jp-OutputArea-output pre", has_text="Figure: ")
        assert captions.count() >= len(EXPLORERS[name]), f"{name}: static explorer outputs without a caption"
        static_alts = page.evaluate(f"""() => [...document.querySelectorAll('{panel} .jp-OutputArea-output img')]
            .filter(i => !i.closest('.explorer')).map(i => i.getAttribute('alt'))""")
        timings["jupyterlab_sets_img_alt_from_metadata"] = any(static_alts)

        explorers = page.locator(f"{panel} .explorer")
        assert explorers.count() == len(EXPLORERS[name]), f"{name}: found {explorers.count()} explorers"
        for i, shot in enumerate(EXPLORERS[name]):
            ex = explorers.nth(i)
            ex.scroll_into_view_if_needed()
            page.wait_for_function(
                "el => el.querySelector('.jp-OutputArea-output img')", arg=ex.element_handle(), timeout=60_000)
            state = _state(ex)
            assert state[0].startswith("data:image/png;base64,") and state[2], "explorer drew nothing"
            assert state[1], f"{name} explorer {i}: the live image has no alt text"
            size = ex.locator(".jp-OutputArea-output img").first.evaluate(
                "i => [i.naturalWidth, i.getBoundingClientRect().width]")
            assert size[1] >= size[0] - 1, f"{name} explorer {i}: image scaled down from {size[0]} to {size[1]} px"
            # a tall window for the picture, so the whole explorer fits (the width, and so the layout, stay)
            page.set_viewport_size({"width": 1400, "height": 2400})
            ex.scroll_into_view_if_needed()
            page.wait_for_timeout(500)
            ex.screenshot(path=str(OUTPUT / f"{shot}.png"))
            if os.environ.get("UPDATE_SCREENSHOTS") == "1":
                ex.screenshot(path=str(SCREENSHOTS / f"{shot}.png"))
            page.set_viewport_size({"width": 1400, "height": 1000})
            ex.scroll_into_view_if_needed()
            play = ex.locator(".widget-play button").first
            if play.count():
                play.click()  # the play button walks the position slider: the picture changes by itself
                state, _ = _wait_for_change(page, ex, state, f"{stem} explorer {i}: play")
                state, _ = _wait_for_change(page, ex, state, f"{stem} explorer {i}: play, second step")
                ex.locator(".widget-play button").nth(1).click()  # pause
                page.wait_for_timeout(1500)  # a step already on its way may still arrive
                state = _state(ex)
                log.append(f"{stem} explorer {i}: play stepped the window twice")
            alt_before = state[1]
            where = f"{stem} explorer {i} (default)"
            state = _exercise(page, ex, state, redraws, log, where)
            if any(not c["disabled"] for c in _controls(ex)):
                assert state[1] != alt_before, f"{where}: the alt text did not follow the controls"
            toggles = [c for c in _controls(ex) if c["kind"] == "toggle"]
            for toggle in toggles:
                for option in toggle["options"]:
                    current = next(c for c in _controls(ex) if c["index"] == toggle["index"])
                    if option == current["value"]:
                        continue
                    ex.locator(SELECTOR).nth(toggle["index"]).locator("button", has_text=option).first.click()
                    state, seconds = _wait_for_change(page, ex, state, f"{where}: {toggle['label']} -> {option}")
                    redraws.append(seconds)
                    log.append(f"{stem} explorer {i}: {toggle['label']} -> {option}: "
                               f"changed in {seconds * 1000:.0f} ms")
                    state = _exercise(page, ex, state, redraws, log, f"{stem} explorer {i} ({option})")
            if name in LEARNER_PACE:
                # every enabled non-toggle control moved once more from where the moves above
                # ended, LOOK_MS apart: the explorer trains the settings one move away while the
                # kernel is idle, so a learner who looks at each plot first is measured too
                # (reported apart from the back-to-back moves above)
                state = _exercise(page, ex, state, paced, log, f"{stem} explorer {i} (learner pace)",
                                  look_ms=LOOK_MS)
            ex.screenshot(path=str(OUTPUT / f"{shot}_after.png"))
        assert page.evaluate(ERRORS_JS) == []
    finally:
        if redraws:
            timings["redraw_median_s"] = round(statistics.median(redraws), 3)
            timings["redraw_max_s"] = round(max(redraws), 3)
            timings["redraws"] = len(redraws)
            timings["redraw_target_s"] = MEDIAN_LIMIT_S
            timings["redraw_target_met"] = timings["redraw_median_s"] <= MEDIAN_LIMIT_S
            timings["load_average_1min"] = os.getloadavg()[0]
        if paced:
            timings["learner_pace_look_s"] = LOOK_MS / 1000
            timings["learner_pace_redraw_median_s"] = round(statistics.median(paced), 3)
            timings["learner_pace_redraw_max_s"] = round(max(paced), 3)
            timings["learner_pace_redraws"] = len(paced)
        timings["log"] = log
        (OUTPUT / f"{stem}_timings.json").write_text(json.dumps(timings, indent=2, ensure_ascii=False))
        print(f"\n{name}: {len(redraws)} control changes, median redraw "
              f"{timings.get('redraw_median_s', float('nan')) * 1000:.0f} ms, max "
              f"{timings.get('redraw_max_s', float('nan')) * 1000:.0f} ms (target <= {MEDIAN_LIMIT_S * 1000:.0f} ms: "
              f"{'met' if timings.get('redraw_target_met') else 'MISSED'}; load average "
              f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs); JupyterLab sets the <img> alt from "
              f"the output metadata: {timings.get('jupyterlab_sets_img_alt_from_metadata')}"
              + (f"; at a learner's pace ({LOOK_MS / 1000:g} s between moves): median "
                 f"{timings['learner_pace_redraw_median_s'] * 1000:.0f} ms, max "
                 f"{timings['learner_pace_redraw_max_s'] * 1000:.0f} ms over {len(paced)}" if paced else ""))
        page.screenshot(path=str(OUTPUT / f"{stem}_page.png"))
        lab.shutdown_kernels()
        page.close()
    assert _sha(path) == digest, f"{name} was modified on disk by the browser run"
    assert (checkpoint.exists() and checkpoint.stat().st_mtime) == checkpoint_before, \
        f"the browser run wrote {checkpoint.relative_to(ROOT)}"
    assert lab.api("sessions") == []
