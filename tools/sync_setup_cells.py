"""Rewrite the setup cell (the first code cell) of every notebook from helpers/repo.py.

    python tools/sync_setup_cells.py          # rewrite where it differs; list what changed
    python tools/sync_setup_cells.py --check  # change nothing; exit 1 if any notebook differs

The setup cell makes ``helpers`` importable and, on Colab, clones the series from
``helpers.repo.CLONE_URL`` at ``helpers.repo.BRANCH``. Its text lives in one place,
:func:`helpers.repo.setup_cell`; run this after changing that (a fork changing the
owner, name or branch, say). Only the cell's source changes; its outputs are cleared
(the setup cell prints nothing) and every other cell is left byte-for-byte alone.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import nbformat  # noqa: E402

from helpers import repo  # noqa: E402

MARKER = "# Setup:"


def setup_cell_index(nb: nbformat.NotebookNode) -> int:
    """Index of the notebook's setup cell: its first code cell, which must start with ``# Setup:``."""
    first = next((i for i, c in enumerate(nb.cells) if c.cell_type == "code"), None)
    if first is None or not nb.cells[first].source.startswith(MARKER):
        raise ValueError(f"the first code cell does not start with {MARKER!r}")
    return first


def sync(path: Path, write: bool = True) -> bool:
    """Make ``path``'s setup cell equal to :func:`helpers.repo.setup_cell`; True if it differed."""
    nb = nbformat.read(path, as_version=4)
    cell = nb.cells[setup_cell_index(nb)]
    wanted = repo.setup_cell()
    if cell.source == wanted and not cell.outputs:
        return False
    if write:
        cell.source = wanted
        cell.outputs = []
        nbformat.validate(nb)
        nbformat.write(nb, path)
    return True


def main(argv: list[str]) -> int:
    check = "--check" in argv
    changed = []
    for path in sorted((ROOT / "notebooks").glob("[0-9]*.ipynb")):
        try:
            if sync(path, write=not check):
                changed.append(path.name)
        except ValueError as exc:
            print(f"{path.name}: {exc}", file=sys.stderr)
            return 2
    for name in changed:
        print(f"{name}: setup cell {'differs' if check else 'rewritten'}")
    if check and changed:
        print("run: python tools/sync_setup_cells.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
