"""Run the notebooks in a compatibility environment and drive every explorer control in the kernel.

    python tests/compat/run_compat.py colab            # all five notebooks, Colab-like
    python tests/compat/run_compat.py oldest 03        # notebook 03 with the oldest versions

``colab``: the kernel is the Colab-like environment's Python (``tests/compat/colab.txt``),
started with a stand-in ``google.colab`` module imported, as on Colab. Each notebook starts
in a fresh, empty working directory (Colab's ``/content``) and its setup cell takes the
Colab branch: it clones ``helpers.repo.CLONE_URL`` at ``helpers.repo.BRANCH``, which git is
told (``url.<snapshot>.insteadOf``) to fetch from a snapshot of this working tree instead.

``oldest``: the kernel is the oldest-versions environment (``tests/compat/oldest.txt``) and
each notebook runs in the snapshot's ``notebooks/`` folder, as JupyterLab runs it.

Then, in the same kernel, every :class:`helpers.widgets.Explorer` the notebook made is
built with ``Explorer.widget()`` and each of its controls is set to other values (every
option of a dropdown or toggle, both ends of a slider, both states of a checkbox, and
back): each change must bring a new image and, where the explorer prints them, counts.

Before anything runs, each code cell is put through the environment's IPython input
transformer and compiled, so a line that IPython there cannot parse (``x = !cmd`` under
IPython 7 on Python 3.12) is reported as such, by notebook and cell.

The notebooks are executed with the main environment's nbclient through
``tools/run_notebooks.make_client`` (so no cell can wait on nbclient's Output-widget stall).
Exit status 0 only if every notebook ran and every control responded.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

import envs  # noqa: E402

from helpers import repo  # noqa: E402

_spec = importlib.util.spec_from_file_location("run_notebooks", ROOT / "tools" / "run_notebooks.py")
run_notebooks = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(run_notebooks)

import nbformat  # noqa: E402
from nbclient.exceptions import CellExecutionError  # noqa: E402

CELL_TIMEOUT = 180

COLAB_STUB = '''"""Stand-in for Colab's google.colab package: on Colab it is imported before any cell runs."""
'''
COLAB_KERNEL = '''"""An IPython kernel started as Colab starts it: with google.colab already imported."""
import google.colab  # noqa: F401
from ipykernel import kernelapp

kernelapp.launch_new_instance()
'''

PARSE_CHECK = r'''
import json, sys
import IPython
from IPython.core.inputtransformer2 import TransformerManager
tm = TransformerManager()
problems = []
for path in sys.argv[1:]:
    nb = json.load(open(path))
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        src = "".join(cell["source"])
        try:
            compile(tm.transform_cell(src), "cell", "exec")
        except SyntaxError as exc:
            line = src.splitlines()[exc.lineno - 1] if exc.lineno and exc.lineno <= len(src.splitlines()) else ""
            problems.append(f"{path.rsplit('/', 1)[-1]} cell {i}: IPython {IPython.__version__} on Python "
                            f"{sys.version.split()[0]} cannot parse {line.strip()!r} ({exc.msg})")
print(json.dumps(problems))
'''

# Runs inside the notebook's kernel after its last cell; prints one JSON line.
DRIVER = r'''
def _compat_drive():
    import json
    import sys

    import ipywidgets as w
    from IPython import get_ipython
    from IPython.utils.capture import capture_output

    from helpers.widgets import Explorer

    ip = get_ipython()
    kinds = (w.IntSlider, w.FloatSlider, w.SelectionSlider, w.Dropdown, w.ToggleButtons, w.Checkbox)
    seen, explorers = set(), []
    for name, value in list(ip.user_ns.items()):
        if isinstance(value, Explorer) and not name.startswith("_") and id(value) not in seen:
            seen.add(id(value))
            explorers.append((name, value))
    errors = []
    shown = ip.showtraceback
    ip.showtraceback = lambda exc_tuple=None, *a, **k: errors.append(
        repr((exc_tuple or sys.exc_info())[1]))

    def frame(cap):
        # the explorer shows its PNG as image/png or inside an <img src="data:image/png..."> (text/html)
        images = [o.data.get("image/png") or o.data["text/html"] for o in cap.outputs
                  if "image/png" in o.data or "data:image/png" in o.data.get("text/html", "")]
        return (images[-1] if images else None), cap.stdout.strip()

    def leaves(widget):
        kids = getattr(widget, "children", ())
        return [leaf for kid in kids for leaf in leaves(kid)] if kids else [widget]

    def targets(c):
        if isinstance(c, w.Checkbox):
            return [("value", not c.value), ("value", c.value)]
        if isinstance(c, (w.Dropdown, w.ToggleButtons, w.SelectionSlider)):
            return [("index", i) for i in range(len(c.options)) if i != c.index] + [("index", c.index)]
        ends = [v for v in dict.fromkeys([c.max, c.min]) if v != c.value]
        return [("value", v) for v in ends] + [("value", c.value)]

    report = []
    try:
        for name, ex in explorers:
            problems, changes, disabled = [], 0, []
            with capture_output() as cap:
                box = ex.widget()
            prev = frame(cap)
            has_text = bool(prev[1])
            if prev[0] is None:
                problems.append("no image when the explorer opened")
            controls = [c for c in leaves(box) if isinstance(c, kinds)]
            if len(controls) != len(ex.controls):
                problems.append(f"{len(controls)} controls on screen for {len(ex.controls)} declared")
            for c in controls:
                if c.disabled:  # the explorer's rules say why (tests/test_explorers checks that)
                    disabled.append(c.description)
                    continue
                for attr, target in targets(c):
                    if c.disabled or getattr(c, attr) == target:
                        continue  # an earlier change of this control disabled it or moved it already
                    with capture_output() as cap:
                        setattr(c, attr, target)
                    now = frame(cap)
                    changes += 1
                    what = f"{c.description} -> {c.value!r}"
                    if now[0] is None:
                        problems.append(f"{what}: no new image")
                    elif has_text and not now[1]:
                        problems.append(f"{what}: no counts")
                    elif now == prev:
                        problems.append(f"{what}: image and counts unchanged (a control that changes "
                                        "nothing should be disabled, saying why)")
                    prev = now
            report.append({"explorer": name, "controls": len(controls), "changes": changes,
                           "disabled": disabled, "problems": problems})
    finally:
        ip.showtraceback = shown
    print("COMPAT-RESULT " + json.dumps({"explorers": report, "errors": errors}))


_compat_drive()
del _compat_drive
'''


def snapshot(dest: Path) -> Path:
    """A git repository at ``dest`` holding this working tree (committed or not) on ``repo.BRANCH``."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT,
                            capture_output=True, text=True)
    if listed.returncode == 0:
        files = [f for f in listed.stdout.split("\0") if f and (ROOT / f).is_file()]
    else:  # not a git checkout (an unpacked archive): everything but the build products
        skip = {".git", ".venv", ".venv-compat", "test-output", "__pycache__", ".pytest_cache", ".ruff_cache"}
        files = [str(p.relative_to(ROOT)) for p in ROOT.rglob("*")
                 if p.is_file() and not skip & set(p.relative_to(ROOT).parts)]
    for rel in files:
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, dest / rel)
    git = ["git", "-c", "user.name=compat", "-c", "user.email=compat@localhost", "-c", "commit.gpgsign=false"]
    subprocess.run(["git", "init", "-q", "-b", repo.BRANCH], cwd=dest, check=True)
    subprocess.run([*git, "add", "-A"], cwd=dest, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "snapshot of the working tree"], cwd=dest, check=True)
    return dest


def parse_problems(python: Path, notebooks: list[Path]) -> list[str]:
    """Code cells the environment's IPython cannot turn into Python (one line each)."""
    r = subprocess.run([str(python), "-c", PARSE_CHECK, *map(str, notebooks)], capture_output=True, text=True)
    if r.returncode:
        return [f"the IPython parse check itself failed: {r.stderr.strip()[-500:]}"]
    return json.loads(r.stdout)


def kernel_spec(where: Path, python: Path, colab: bool, origin: Path) -> str:
    """Write a kernel spec for the environment under ``where``; return its name."""
    argv = [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    env = {"OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS", "1"),
           "PYDEVD_DISABLE_FILE_VALIDATION": "1"}  # debugpy on Python 3.12 warns about frozen modules
    if colab:
        stub = where / "colab-stub"
        (stub / "google" / "colab").mkdir(parents=True)
        (stub / "google" / "__init__.py").write_text("")
        (stub / "google" / "colab" / "__init__.py").write_text(COLAB_STUB)
        (stub / "colab_kernel.py").write_text(COLAB_KERNEL)
        argv = [str(python), str(stub / "colab_kernel.py"), "-f", "{connection_file}"]
        # the setup cell's `git clone <repo.CLONE_URL>` fetches the snapshot instead
        env.update(GIT_CONFIG_COUNT="1", GIT_CONFIG_KEY_0=f"url.file://{origin}.insteadOf",
                   GIT_CONFIG_VALUE_0=repo.CLONE_URL, GIT_TERMINAL_PROMPT="0")
    spec = where / "jupyter" / "kernels" / "compat"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": "compat", "language": "python",
                                                  "env": env}))
    os.environ["JUPYTER_PATH"] = str(where / "jupyter")
    return "compat"


def run_one(path: Path, cwd: Path, kernel: str) -> tuple[list[str], dict, float]:
    """Execute ``path`` in ``cwd`` and drive its explorers; return (problems, driver report, seconds)."""
    nb = nbformat.read(path, as_version=4)
    client = run_notebooks.make_client(nb, cwd, timeout=CELL_TIMEOUT, kernel_name=kernel)
    t0 = time.perf_counter()
    problems: list[str] = []
    report: dict = {}
    with client.setup_kernel():
        try:
            for index, cell in enumerate(nb.cells):
                if cell.cell_type == "code":
                    client.execute_cell(cell, index)
        except CellExecutionError as exc:
            last = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip().splitlines()[-1]  # no terminal colours
            problems.append(f"cell {index} failed: {last[:400]}")
            return problems, report, time.perf_counter() - t0
        driver = nbformat.v4.new_code_cell(DRIVER)
        nb.cells.append(driver)
        client.execute_cell(driver, len(nb.cells) - 1)
    text = "".join(o.get("text", "") for o in driver.outputs if o.output_type == "stream")
    line = next((ln for ln in text.splitlines() if ln.startswith("COMPAT-RESULT ")), None)
    if line is None:
        problems.append(f"the control driver reported nothing: {text[-400:]!r}")
    else:
        report = json.loads(line.split(" ", 1)[1])
        problems += [f"explorer raised {e}" for e in report["errors"]]
        problems += [f"{x['explorer']}: {p}" for x in report["explorers"] for p in x["problems"]]
        if not report["explorers"]:
            problems.append("no Explorer found in the notebook's namespace")
    setup = nb.cells[_setup_index(nb)]
    if setup.outputs:
        problems.append(f"the setup cell printed {[o.get('text', o.get('ename')) for o in setup.outputs]}")
    return problems, report, time.perf_counter() - t0


def _setup_index(nb: nbformat.NotebookNode) -> int:
    return next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("colab", "oldest"):
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    name, prefixes = argv[0], argv[1:]
    colab = name == "colab"
    t0 = time.perf_counter()
    try:
        python = envs.ensure(name)
    except envs.EnvError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    built = time.perf_counter() - t0
    versions = subprocess.run([str(python), "-c", "import sys, IPython, ipykernel, ipywidgets, numpy, matplotlib;"
                               "print(f'Python {sys.version.split()[0]}, IPython {IPython.__version__}, "
                               "ipykernel {ipykernel.__version__}, ipywidgets {ipywidgets.__version__}, "
                               "numpy {numpy.__version__}, matplotlib {matplotlib.__version__}')"],
                              capture_output=True, text=True, check=True).stdout.strip()
    print(f"{name}: {versions} (environment ready in {built:.0f} s)", flush=True)
    work = Path(tempfile.mkdtemp(prefix=f"compat-{name}-"))
    failed = 0
    try:
        origin = snapshot(work / "origin")
        kernel = kernel_spec(work, python, colab, origin)
        paths = sorted((origin / "notebooks").glob("[0-9]*.ipynb"))
        if prefixes:
            paths = [p for p in paths if any(p.name.startswith(a) for a in prefixes)]
        for problem in parse_problems(python, paths):
            print(f"{name}: PARSE {problem}", flush=True)
            failed += 1
        for path in paths:
            if colab:
                cwd = work / f"content-{path.name[:2]}"  # a fresh, empty /content for each notebook
                cwd.mkdir()
            else:
                cwd = path.parent
            problems, report, seconds = run_one(path, cwd, kernel)
            if colab and not problems:
                clone = cwd / repo.NAME
                heads = [subprocess.run(["git", "rev-parse", "HEAD"], cwd=d, capture_output=True, text=True).stdout
                         for d in (clone, origin)]
                if not (clone / "helpers").is_dir() or heads[0] != heads[1]:
                    problems.append(f"the setup cell did not clone the series into {clone}")
            drove = ", ".join(f"{x['explorer']}: {x['changes']} changes of {x['controls']} controls"
                              + (f", {len(x['disabled'])} disabled" if x["disabled"] else "")
                              for x in report.get("explorers", []))
            status = "ok" if not problems else "FAILED"
            print(f"{name}: {path.name} {status} in {seconds:.1f} s ({drove or 'no explorer driven'})", flush=True)
            for p in problems:
                print(f"    {p}", flush=True)
            failed += bool(problems)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{name}: {'all passed' if not failed else f'{failed} problem(s)'} in {time.perf_counter() - t0:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
