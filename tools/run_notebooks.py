"""Execute every notebook top to bottom in a fresh kernel and store its outputs.

    python tools/run_notebooks.py            # all of notebooks/*.ipynb
    python tools/run_notebooks.py 01 03      # only those whose name starts so

Run from the repository root (``make notebooks`` does). Each notebook runs with its
own folder as the working directory, as JupyterLab runs it; execution counts come out
1, 2, 3, ...; the run time of each notebook is printed. A cell that raises stops that
notebook and the script exits non-zero without saving it.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"


def execute(path: Path, timeout: int = 300) -> float:
    """Run one notebook in place; return its wall-clock time in seconds."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    t0 = time.perf_counter()
    client.execute()
    elapsed = time.perf_counter() - t0
    for cell in nb.cells:
        cell.metadata.pop("execution", None)  # timestamps would change on every run
    nb.metadata.pop("widgets", None)
    nbformat.validate(nb)
    nbformat.write(nb, path)
    return elapsed


def main(argv: list[str]) -> int:
    paths = sorted(NOTEBOOKS.glob("[0-9]*.ipynb"))
    if argv:
        paths = [p for p in paths if any(p.name.startswith(a) for a in argv)]
    status = 0
    for path in paths:
        try:
            seconds = execute(path)
        except CellExecutionError as exc:
            print(f"{path.name}: FAILED\n{str(exc)[-2000:]}", file=sys.stderr)
            status = 1
            continue
        print(f"{path.name}: executed in {seconds:.1f} s")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
