"""tools/run_notebooks.py: the notebook runner that make notebooks and the tests use.

nbclient mimics JupyterLab's Output widget: every output printed ``with out:`` is
echoed back to the kernel on the shell channel, while nbclient is itself waiting on
that channel for the cell's reply. Sometimes that wait then misses the reply and lasts
the whole cell timeout, with no error (jupyter/nbclient#312). On this machine a cell
updating an Output widget 100 times made 3 of 10 runs with the stock client wait out
their timeout. ``make_client`` keeps the emulation but never sends to the kernel.
"""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("run_notebooks", ROOT / "tools" / "run_notebooks.py")
run_notebooks = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(run_notebooks)

TIMEOUT = 20  # seconds per cell; a run takes ~3 s, a stalled one at least this long
UPDATES = 100


def _output_widget_notebook() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell("import ipywidgets as w\nfrom IPython.display import clear_output, display"),
                nbformat.v4.new_code_cell("out = w.Output()\ndisplay(out)\n"
                                          f"for i in range({UPDATES}):\n    with out:\n"
                                          "        clear_output(wait=True)\n        print(i)"),
                nbformat.v4.new_code_cell("print('done')")]
    return nb


def test_output_widget_updates_never_wait_for_the_cell_timeout(tmp_path):
    for run in range(5):
        nb = _output_widget_notebook()
        client = run_notebooks.make_client(nb, tmp_path, timeout=TIMEOUT)
        t0 = time.perf_counter()
        client.execute()
        elapsed = time.perf_counter() - t0
        assert elapsed < TIMEOUT, f"run {run + 1} took {elapsed:.1f} s: a cell waited for its timeout"
        # the emulation still routes `with out:` output into the widget, not into the cell
        assert [o.output_type for o in nb.cells[1].outputs] == ["display_data"]
        (widget,) = [s for s in client.widget_state.values() if s.get("_model_name") == "OutputModel"]
        assert widget["outputs"] == [{"output_type": "stream", "name": "stdout", "text": f"{UPDATES - 1}\n"}]
        assert nb.cells[2].outputs[0]["text"].strip() == "done"
