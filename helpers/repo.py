"""Where the series lives online: the one place badges, links and the Colab clone come from.

A fork changes ``OWNER``/``NAME``/``BRANCH`` here, runs ``python tools/sync_setup_cells.py``
(the first code cell of every notebook, which clones the series on Colab) and
``make notebooks``; the tests check that README.md and every notebook use these values.
"""

OWNER = "efficient-convolutions"
NAME = "efficient-convolutions-explained"
BRANCH = "main"
GITHUB = f"https://github.com/{OWNER}/{NAME}"
CLONE_URL = f"{GITHUB}.git"


def colab_url(path: str) -> str:
    """Open-in-Colab address for a notebook path relative to the repo root."""
    return f"https://colab.research.google.com/github/{OWNER}/{NAME}/blob/{BRANCH}/{path}"


def binder_url(path: str = "notebooks") -> str:
    """Binder address that opens JupyterLab on ``path``."""
    return f"https://mybinder.org/v2/gh/{OWNER}/{NAME}/{BRANCH}?urlpath=lab/tree/{path}"


def colab_badge(path: str) -> str:
    """Markdown badge linking to :func:`colab_url`."""
    return f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({colab_url(path)})"


def binder_badge(path: str = "notebooks") -> str:
    """Markdown badge linking to :func:`binder_url`."""
    return f"[![Binder](https://mybinder.org/badge_logo.svg)]({binder_url(path)})"


_SETUP_CELL = """\
# Setup: make `helpers` importable from notebooks/ or the repo root; on Colab, fetch the series first.
import pathlib
import sys

if "google.colab" in sys.modules:  # on Colab only: clone the series (quietly) next to this notebook, once
    import subprocess
    ROOT = pathlib.Path("{name}").resolve()
    if not (ROOT / "helpers").is_dir():
        _git = subprocess.run(["git", "clone", "--quiet", "--depth", "1", "--branch", "{branch}",
                               "{url}",
                               str(ROOT)], capture_output=True, text=True)
        if _git.returncode:
            raise SystemExit(f"Could not fetch the series: {{_git.stderr.strip()}} -- check the runtime's "
                             "internet access, then run this cell again.")
else:
    ROOT = next((p for p in [pathlib.Path.cwd(), *pathlib.Path.cwd().parents] if (p / "helpers").is_dir()),
                pathlib.Path.cwd())
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
import helpers  # noqa: F401 -- imported before NumPy: keeps its BLAS to one thread (see helpers/__init__.py)"""


def setup_cell() -> str:
    """The source of every notebook's first code cell (``tools/sync_setup_cells.py`` writes it).

    Outside Colab it finds the repository from the working directory and prints nothing;
    on Colab it clones :data:`CLONE_URL` at :data:`BRANCH` into the working directory
    (``/content``), with git's output kept off the notebook unless the clone fails.
    """
    return _SETUP_CELL.format(name=NAME, branch=BRANCH, url=CLONE_URL)
