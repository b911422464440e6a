"""Each notebook in a real JupyterLab in a real Chromium: run all, no errors, explorers respond.

For every notebook: open it, wait for the kernel, run all cells, assert that no
cell shows an error, find each explorer (the ipywidgets box with class
``explorer``), check its controls rendered, then move a slider, pick a dropdown
option, click a toggle or checkbox, and assert that the plotted image (the PNG data
URL) and the printed counts changed. Screenshots of every step go to
test-output/e2e/. Afterwards the kernel is shut down and the notebook file on disk
must be byte-for-byte unchanged.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "test-output" / "e2e"

# What each explorer must show, and what to do with it:
# (kind, label, value) -- kind slider: press ArrowRight `value` times; dropdown: select `value`;
# toggle: click the button `value`; checkbox: click it. Every action must change the image and the text.
PLANS = {
    "01_spatial_separable_convolution.ipynb": [
        {"controls": {"slider": 6, "dropdown": 1, "toggle": 0, "checkbox": 0},
         "actions": [("slider", "n", 1), ("dropdown", "padding", "valid")]},
        {"controls": {"slider": 2, "dropdown": 2, "toggle": 1, "checkbox": 0},
         "actions": [("toggle", "method", "full"), ("slider", "size", 1), ("dropdown", "kernel", "laplacian")]},
    ],
    "02_depthwise_vs_pointwise_convolution.ipynb": [
        {"controls": {"slider": 3, "dropdown": 1, "toggle": 1, "checkbox": 0},
         "actions": [("toggle", "mode", "standard"), ("dropdown", "kernel", "gaussian"), ("slider", "size", 1),
                     ("slider", "out channels", 2)]},
    ],
    "03_one_by_one_convolution.ipynb": [
        {"controls": {"slider": 1, "dropdown": 1, "toggle": 0, "checkbox": 1},
         "actions": [("slider", "out channels", 2), ("checkbox", "relu", None), ("dropdown", "preset", "pca")]},
        {"controls": {"slider": 3, "dropdown": 0, "toggle": 0, "checkbox": 0},
         "actions": [("slider", "c mid", 2), ("slider", "k", 1), ("slider", "c in", 1)]},
        {"controls": {"slider": 1, "dropdown": 0, "toggle": 0, "checkbox": 2},
         "actions": [("checkbox", "relu", None), ("checkbox", "centred", None), ("slider", "hidden", 3)]},
    ],
    "04_residual_connections.ipynb": [
        {"controls": {"slider": 1, "dropdown": 1, "toggle": 1, "checkbox": 1},
         "actions": [("toggle", "shortcut", "pre-activation"), ("slider", "depth", 1),
                     ("dropdown", "learning rate", "0.3"), ("checkbox", "batchnorm", None)]},
    ],
    "05_flag_driven_convolution.ipynb": [
        {"controls": {"slider": 1, "dropdown": 3, "toggle": 1, "checkbox": 0},
         "actions": [("toggle", "mode", "standard"), ("slider", "stride", 1), ("dropdown", "image", "photo")]},
    ],
}

SELECTORS = {"slider": ".widget-slider", "dropdown": ".widget-dropdown", "toggle": ".widget-toggle-buttons",
             "checkbox": ".widget-checkbox"}

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


def _state(explorer) -> tuple[str, str]:
    """(data URL of the plotted PNG, printed text) of one explorer's output."""
    img = explorer.locator(".jp-OutputArea-output img").first
    src = img.get_attribute("src") if img.count() else ""
    texts = explorer.locator(".jp-OutputArea-output pre").all_inner_texts()
    return src or "", "\n".join(texts)


def _wait_for_change(page, explorer, before: tuple[str, str], timeout: float = 60.0) -> tuple[str, str, float]:
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        now = _state(explorer)
        if now[0] and now[0] != before[0] and now[1] and now[1] != before[1]:
            page.wait_for_timeout(200)  # let the output settle (clear_output + display)
            return (*_state(explorer), time.perf_counter() - t0)
        page.wait_for_timeout(50)
    now = _state(explorer)
    raise AssertionError(f"explorer did not redraw within {timeout} s: image changed {now[0] != before[0]}, "
                         f"text changed {now[1] != before[1]}; text now:\n{now[1][:500]}")


def _control(explorer, kind: str, label: str):
    boxes = explorer.locator(SELECTORS[kind]).filter(has_text=label)
    assert boxes.count() >= 1, f"no {kind} labelled {label!r}"
    return boxes.first


def _act(page, explorer, kind: str, label: str, value) -> None:
    box = _control(explorer, kind, label)
    if kind == "slider":
        handle = box.locator(".noUi-handle, .ui-slider-handle").first
        handle.focus()
        for _ in range(value):
            page.keyboard.press("ArrowRight")
        handle.blur()
    elif kind == "dropdown":
        box.locator("select").select_option(label=value)
    elif kind == "toggle":
        box.locator(".widget-toggle-button", has_text=value).first.click()
    elif kind == "checkbox":
        box.locator("input[type=checkbox]").click()


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.e2e
@pytest.mark.parametrize("name", sorted(PLANS))
def test_notebook_runs_and_explorers_respond(lab, browser, name):
    path = ROOT / "notebooks" / name
    digest = _sha(path)
    checkpoint = ROOT / "notebooks" / ".ipynb_checkpoints" / name.replace(".ipynb", "-checkpoint.ipynb")
    checkpoint_before = checkpoint.exists() and checkpoint.stat().st_mtime
    OUTPUT.mkdir(parents=True, exist_ok=True)
    stem = name.split("_")[0]
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    timings = {}
    try:
        t0 = time.perf_counter()
        # a workspace of its own, reset, so no tab from an earlier test is restored beside this one
        page.goto(lab.url(f"lab/workspaces/e2e-{stem}/tree/notebooks/{name}") + "&reset")
        page.wait_for_function(f"{NOTEBOOK_JS} && {NOTEBOOK_JS}.context && "
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

        explorers = page.locator(f"{panel} .explorer")
        plans = PLANS[name]
        assert explorers.count() == len(plans), f"{name}: expected {len(plans)} explorers, found {explorers.count()}"
        for i, plan in enumerate(plans):
            ex = explorers.nth(i)
            ex.scroll_into_view_if_needed()
            for kind, count in plan["controls"].items():
                assert ex.locator(SELECTORS[kind]).count() == count, f"{name} explorer {i}: {kind} widgets"
            page.wait_for_function(
                "el => el.querySelector('.jp-OutputArea-output img')", arg=ex.element_handle(), timeout=60_000)
            state = _state(ex)
            assert state[0].startswith("data:image/png;base64,") and state[1], "explorer drew nothing"
            ex.screenshot(path=str(OUTPUT / f"{stem}_explorer{i}_0_default.png"))
            for step, (kind, label, value) in enumerate(plan["actions"], start=1):
                _act(page, ex, kind, label, value)
                src, text, seconds = _wait_for_change(page, ex, state)
                timings[f"explorer{i} {kind} {label}"] = round(seconds, 3)
                state = (src, text)
                ex.screenshot(path=str(OUTPUT / f"{stem}_explorer{i}_{step}_{kind}_{label.replace(' ', '_')}.png"))
        assert page.evaluate(ERRORS_JS) == []
    finally:
        (OUTPUT / f"{stem}_timings.json").write_text(json.dumps(timings, indent=2))
        page.screenshot(path=str(OUTPUT / f"{stem}_page.png"))
        lab.shutdown_kernels()
        page.close()
    assert _sha(path) == digest, f"{name} was modified on disk by the browser run"
    assert (checkpoint.exists() and checkpoint.stat().st_mtime) == checkpoint_before, \
        f"the browser run wrote {checkpoint.relative_to(ROOT)}"
    assert lab.api("sessions") == []
