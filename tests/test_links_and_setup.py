"""Binder/Colab readiness: links and badges resolve, the setup cell is quiet, notebooks run from the root."""

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from helpers import repo

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))
LINK = re.compile(r"\]\(([^)\s]+)\)")
EXTERNAL_OK = ("https://colab.research.google.com/assets/colab-badge.svg", "https://mybinder.org/badge_logo.svg")


def _markdown(path: Path) -> str:
    if path.suffix == ".ipynb":
        nb = nbformat.read(path, as_version=4)
        return "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    return path.read_text()


def _check_link(doc: Path, target: str) -> str | None:
    """None if ``target`` (a link in ``doc``) points at something that exists, else the problem."""
    if target.startswith("#") or target in EXTERNAL_OK:
        return None
    colab = f"https://colab.research.google.com/github/{repo.OWNER}/{repo.NAME}/blob/{repo.BRANCH}/"
    binder = f"https://mybinder.org/v2/gh/{repo.OWNER}/{repo.NAME}/{repo.BRANCH}?urlpath=lab/tree/"
    if target.startswith(colab):
        rel = target[len(colab):]
    elif target.startswith(binder):
        rel = target[len(binder):]
    elif target.startswith(repo.GITHUB):
        rel = target[len(repo.GITHUB):].lstrip("/")
        rel = rel.split("/", 2)[2] if rel.startswith(("blob/", "tree/")) else rel.removesuffix(".git")
        if not rel:
            return None
    elif re.match(r"https?://", target):
        if "colab.research.google.com" in target or "mybinder.org" in target or "github.com" in target:
            return f"{target}: not built from helpers/repo.py ({repo.OWNER}/{repo.NAME}@{repo.BRANCH})"
        return None  # papers and other outside references
    else:
        rel = str((doc.parent / target).resolve().relative_to(ROOT))
    return None if (ROOT / rel).exists() else f"{target}: {rel} does not exist in the repository"


@pytest.mark.parametrize("doc", [ROOT / "README.md", ROOT / "images" / "README.md", *NOTEBOOKS],
                         ids=lambda p: p.name)
def test_every_link_resolves(doc):
    problems = [p for t in LINK.findall(_markdown(doc)) if (p := _check_link(doc, t))]
    assert not problems, problems


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_has_its_own_badges(nb_path):
    first = nbformat.read(nb_path, as_version=4).cells[0].source
    rel = f"notebooks/{nb_path.name}"
    assert repo.colab_badge(rel) in first and repo.binder_badge(rel) in first
    assert repo.colab_badge(rel) in (ROOT / "README.md").read_text()


def test_readme_has_binder_badge_and_tested_versions():
    readme = (ROOT / "README.md").read_text()
    assert repo.binder_badge() in readme
    pins = dict(line.split("==") for line in (ROOT / "constraints.txt").read_text().splitlines()
                if "==" in line and not line.startswith("#"))
    for package in ("numpy", "matplotlib", "ipywidgets", "jupyterlab"):
        assert f"{package} {pins[package]}" in readme, f"README should say which {package} was tested"


def _setup_cell(nb_path: Path) -> str:
    nb = nbformat.read(nb_path, as_version=4)
    return next(c.source for c in nb.cells if c.cell_type == "code")


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=lambda p: p.name)
def test_setup_cell_is_the_one_from_helpers_repo(nb_path):
    """Clone URL and branch come from helpers/repo.py; the cell is tools/sync_setup_cells.py's template."""
    cell = _setup_cell(nb_path)
    assert cell == repo.setup_cell(), f"{nb_path.name}: setup cell differs; run python tools/sync_setup_cells.py"
    assert f'"{repo.CLONE_URL}"' in cell and f'"--branch", "{repo.BRANCH}"' in cell
    assert '"--quiet"' in cell and "capture_output=True" in cell  # git prints nothing unless the clone fails


def test_sync_setup_cells_check_agrees():
    r = subprocess.run([sys.executable, "tools/sync_setup_cells.py", "--check"], cwd=ROOT, capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def _tree() -> set[str]:
    return {str(p.relative_to(ROOT)) for p in ROOT.rglob("*")
            if ".venv" not in p.parts and ".git" not in p.parts and "__pycache__" not in p.parts
            and ".pytest_cache" not in p.parts and "test-output" not in p.parts}


@pytest.mark.parametrize("cwd", ["notebooks", "."])
def test_setup_cell_is_quiet_and_finds_helpers(cwd):
    before = _tree()
    for nb_path in NOTEBOOKS:
        code = _setup_cell(nb_path) + "\nimport helpers, pathlib\nprint(pathlib.Path(helpers.__file__).parent.parent)"
        r = subprocess.run([sys.executable, "-c", code], cwd=ROOT / cwd, capture_output=True, text=True,
                           env={"PATH": "/usr/bin:/bin", "HOME": str(ROOT / cwd)})
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == str(ROOT), f"{nb_path.name}: setup printed {r.stdout!r}"
        assert r.stderr == ""
        assert "google.colab" in _setup_cell(nb_path) and "git" in _setup_cell(nb_path)
    assert _tree() == before, "the setup cell changed files outside Colab"


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_from_the_repository_root(nb_path):
    """nbval runs them from notebooks/; here the working directory is the repository root."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("run_notebooks", ROOT / "tools" / "run_notebooks.py")
    run_notebooks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run_notebooks)
    nb = nbformat.read(nb_path, as_version=4)
    run_notebooks.make_client(nb, ROOT, timeout=300).execute()  # immune to nbclient's Output-widget stall
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors


# Core widgets that exist in ipywidgets 7 (Colab) and 8 alike; the explorers use nothing else.
IPYWIDGETS_7_CORE = {"IntSlider", "FloatSlider", "Dropdown", "ToggleButtons", "Checkbox", "VBox", "HBox",
                     "Output", "interactive_output", "Label", "HTML", "Button", "Layout", "Play", "SelectionSlider",
                     "jslink"}


def test_widgets_use_only_core_ipywidgets_7_api():
    tree = ast.parse((ROOT / "helpers" / "widgets.py").read_text())
    used = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)
            and isinstance(n.value, ast.Name) and n.value.id == "w"}
    assert used and used <= IPYWIDGETS_7_CORE, used - IPYWIDGETS_7_CORE


def test_nbval_tags_on_interactive_cells():
    for nb_path in NOTEBOOKS:
        nb = json.loads(nb_path.read_text())
        for cell in nb["cells"]:
            if cell["cell_type"] == "code" and ".widget()" in "".join(cell["source"]):
                assert "nbval-ignore-output" in cell["metadata"].get("tags", []), nb_path.name


def _colab_setup(tmp_path: Path, origin: str) -> subprocess.CompletedProcess:
    """Run the setup cell as on Colab (google.colab imported) in an empty folder, git pointed at ``origin``."""
    code = ("import sys, types; sys.modules['google.colab'] = types.ModuleType('google.colab')\n"
            + _setup_cell(NOTEBOOKS[0])
            + "\nimport helpers, pathlib\nprint(pathlib.Path(helpers.__file__).parent.parent)")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "GIT_CONFIG_COUNT": "1",
           "GIT_CONFIG_KEY_0": f"url.{origin}.insteadOf", "GIT_CONFIG_VALUE_0": repo.CLONE_URL,
           "GIT_TERMINAL_PROMPT": "0"}
    content = tmp_path / "content"
    content.mkdir(parents=True, exist_ok=True)
    return subprocess.run([sys.executable, "-c", code], cwd=content, capture_output=True, text=True, env=env)


def test_setup_cell_on_colab_clones_quietly_and_says_so_when_it_cannot(tmp_path):
    """The Colab branch: a quiet clone of CLONE_URL at BRANCH into the working folder, or one clear line."""
    sys.path.insert(0, str(ROOT / "tests" / "compat"))
    from run_compat import snapshot

    origin = snapshot(tmp_path / "origin")
    r = _colab_setup(tmp_path, f"file://{origin}")
    assert r.returncode == 0 and r.stderr == "", r.stderr
    clone = tmp_path / "content" / repo.NAME
    assert r.stdout.strip() == str(clone)
    branch = subprocess.run(["git", "branch", "--show-current"], cwd=clone, capture_output=True, text=True)
    assert branch.stdout.strip() == repo.BRANCH
    again = _colab_setup(tmp_path, "file:///nonexistent")  # second run: the clone is there, no git
    assert again.returncode == 0 and again.stdout.strip() == str(clone) and again.stderr == ""

    failed = _colab_setup(tmp_path / "offline", "file:///nonexistent")
    assert failed.returncode == 1
    assert failed.stderr.startswith("Could not fetch the series:") and "Traceback" not in failed.stderr
