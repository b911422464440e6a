"""Execute every notebook top to bottom in a fresh kernel and store its outputs.

    python tools/run_notebooks.py            # all of notebooks/*.ipynb
    python tools/run_notebooks.py 01 03      # only those whose name starts so
    python tools/run_notebooks.py --check 01 # execute, but do not store (for tests)

Run from the repository root (``make notebooks`` does). Each notebook runs with its
own folder as the working directory, as JupyterLab runs it; execution counts come out
1, 2, 3, ...; the run time of each notebook is printed. A cell that raises stops that
notebook and the script exits non-zero without saving it.

Two things make the run robust, and every test that executes notebooks uses them
through :func:`make_client`:

* nbclient's stand-in for the JupyterLab Output widget echoes each captured output back
  to the kernel on the shell channel while nbclient itself waits on that channel for the
  cell's reply; now and then the two block each other and the cell waits for its whole
  timeout (an open nbclient issue, jupyter/nbclient#312). :class:`LocalOutputWidget`
  keeps the stand-in (outputs of ``with out:`` still land in the widget, not in the
  cell) but never sends to the kernel, so there is nothing to block on.
* NumPy's OpenBLAS starts one spinning thread per core. When other processes keep the
  cores busy those threads wait for each other and a matrix product can take 10x
  longer, so kernels started from here get ``OPENBLAS_NUM_THREADS=1`` unless it is set
  (``helpers/__init__.py`` does the same for notebooks opened by hand).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before anything loads NumPy; kernels inherit it

import nbformat  # noqa: E402
from nbclient import NotebookClient  # noqa: E402
from nbclient.exceptions import CellExecutionError  # noqa: E402
from nbclient.output_widget import OutputWidget  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"


class LocalOutputWidget(OutputWidget):
    """nbclient's Output-widget mimic without the state echo to the kernel (see the module doc)."""

    def sync_state(self) -> None:
        """The kernel never reads the front end's copy of the outputs; do not send it."""


def make_client(nb: nbformat.NotebookNode, cwd: Path | str, *, timeout: int = 300,
                kernel_name: str = "python3", **kwargs: object) -> NotebookClient:
    """An nbclient ``NotebookClient`` for ``nb`` run in ``cwd``, immune to the Output-widget stall."""
    client = NotebookClient(nb, timeout=timeout, kernel_name=kernel_name,
                            resources={"metadata": {"path": str(cwd)}}, **kwargs)
    client.widget_registry = {"@jupyter-widgets/output": {"OutputModel": LocalOutputWidget}}
    return client


def execute(path: Path, timeout: int = 300, store: bool = True) -> float:
    """Run one notebook (in place unless ``store`` is False); return its wall-clock time in seconds."""
    nb = nbformat.read(path, as_version=4)
    client = make_client(nb, path.parent, timeout=timeout)
    t0 = time.perf_counter()
    client.execute()
    elapsed = time.perf_counter() - t0
    for cell in nb.cells:
        cell.metadata.pop("execution", None)  # timestamps would change on every run
    nb.metadata.pop("widgets", None)
    nbformat.validate(nb)
    if store:
        nbformat.write(nb, path)
    return elapsed


def main(argv: list[str]) -> int:
    store = "--check" not in argv
    argv = [a for a in argv if a != "--check"]
    paths = sorted(NOTEBOOKS.glob("[0-9]*.ipynb"))
    if argv:
        paths = [p for p in paths if any(p.name.startswith(a) for a in argv)]
    status = 0
    for path in paths:
        try:
            seconds = execute(path, store=store)
        except CellExecutionError as exc:
            print(f"{path.name}: FAILED\n{str(exc)[-2000:]}", file=sys.stderr)
            status = 1
            continue
        print(f"{path.name}: executed in {seconds:.1f} s", flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
