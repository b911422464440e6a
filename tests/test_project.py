"""Project-level checks: packaging agrees with environment.yml, docstrings give shapes, ruff is clean."""

import ast
import re
import subprocess
import sys
from pathlib import Path

import tomllib
import yaml

ROOT = Path(__file__).resolve().parent.parent


def _name(req: str) -> str:
    return re.split(r"[<>=!~ \[]", req.strip(), maxsplit=1)[0].lower()


def test_environment_yml_matches_pyproject():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    deps = env["dependencies"]
    conda = {_name(d) for d in deps if isinstance(d, str)} - {"python", "pip"}
    pip_section = next(d["pip"] for d in deps if isinstance(d, dict))
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert conda == {_name(d) for d in project["dependencies"]}
    assert "-e ." in pip_section
    assert env["channels"] == ["conda-forge"]


def test_constraints_pin_every_dependency():
    pins = {_name(line) for line in (ROOT / "constraints.txt").read_text().splitlines()
            if line and not line.startswith("#")}
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = project["dependencies"] + project["optional-dependencies"]["test"]
    assert {_name(d).replace("_", "-") for d in wanted} <= {p.replace("_", "-") for p in pins}


def test_public_functions_have_docstrings_and_hints():
    missing = []
    for path in sorted((ROOT / "helpers").rglob("*.py")):  # the explorers/ package too
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
                if not ast.get_docstring(node):
                    missing.append(f"{path.relative_to(ROOT)}:{node.name} has no docstring")
                if node.returns is None:
                    missing.append(f"{path.relative_to(ROOT)}:{node.name} has no return annotation")
    assert not missing, missing


def test_helpers_import_without_widgets():
    """The CLI and the maths need only numpy and matplotlib (ipywidgets is imported lazily)."""
    code = ("import sys; sys.modules['ipywidgets'] = None; "
            "import helpers.conv, helpers.costs, helpers.kernels, helpers.images, helpers.cli, helpers.plotting")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_ruff_clean():
    # the whole project, notebooks included (ruff reads .ipynb cells)
    r = subprocess.run([sys.executable, "-m", "ruff", "check", "."], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout


def _sanitizers() -> dict[str, tuple[str, str]]:
    import configparser

    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "notebooks" / "nbval_sanitize.cfg")
    return {name: (cfg[name]["regex"], cfg[name]["replace"]) for name in cfg.sections()}


def test_nbval_sanitizers_hide_only_what_legitimately_varies():
    """Round-off, timings and temp paths may differ between machines; results may not."""
    subs = _sanitizers()

    def clean(text: str) -> str:
        for regex, replace in subs.values():
            text = re.sub(regex, replace, text)
        return text

    assert clean("max |separable - full| = 4.4e-16") == "max |separable - full| = <round-off>"
    assert clean("largest relative gradient error 5.7e-08") == "largest relative gradient error <round-off>"
    assert clean("time: 12.5 ms") == "time: <T> ms"
    # values the notebooks compute exactly stay compared
    for kept in ("1.02e-02", "2.22e-07", "3.90e-16", "569 M MACs", "4.21 M params", "(256, 256, 3)", "1.0e-03"):
        assert clean(kept) == kept
