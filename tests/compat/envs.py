"""Build (once) and find the compatibility environments: Colab-like and oldest-supported.

Each environment is a virtual environment under ``.venv-compat/<name>-<key>/``, made with
the Python version its pin file names (``python==3.12`` -- a pyenv build, ``python3.12`` on
PATH, or ``COMPAT_PYTHON_3_12=/path/to/python``) and ``pip install -r`` of the rest of the
file. ``<key>`` is a hash of the pin file and of this builder, so editing a pin rebuilds the
environment and an unchanged file reuses it (a repeated ``make test`` costs nothing here).

    python tests/compat/envs.py colab oldest     # build them ahead of the tests
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
CACHE = ROOT / ".venv-compat"
BUILDER_VERSION = "1"  # bump to force a rebuild of every compat environment


class EnvError(RuntimeError):
    """An environment could not be made; the message says why and what to do."""


def pins(name: str) -> tuple[str, list[str]]:
    """The Python version and the pip requirement lines of ``tests/compat/<name>.txt``."""
    lines = [ln.split("#", 1)[0].strip() for ln in (HERE / f"{name}.txt").read_text().splitlines()]
    lines = [ln for ln in lines if ln]
    python = [ln for ln in lines if re.match(r"python\s*==", ln)]
    if len(python) != 1:
        raise EnvError(f"tests/compat/{name}.txt must name one Python version, as python==3.X")
    return python[0].split("==", 1)[1].strip(), [ln for ln in lines if ln not in python]


def pinned(name: str) -> dict[str, str]:
    """{normalised package name: version} of every ``pkg==version`` line (Python included)."""
    version, reqs = pins(name)
    out = {"python": version}
    for req in reqs:
        pkg, _, ver = req.partition("==")
        out[re.sub(r"[-_.]+", "-", pkg).lower()] = ver
    return out


def find_python(version: str) -> str:
    """An interpreter of ``version`` (e.g. "3.12"): $COMPAT_PYTHON_3_12, pyenv, or python3.12 on PATH."""
    env = os.environ.get("COMPAT_PYTHON_" + version.replace(".", "_"))
    candidates = [env] if env else []
    pyenv_root = os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv"))
    candidates += sorted(glob.glob(f"{pyenv_root}/versions/{version}.*/bin/python{version}"), reverse=True)
    candidates += [shutil.which(f"python{version}") or ""]
    for cand in candidates:
        if cand and Path(cand).exists():
            return cand
    raise EnvError(f"Python {version} not found: install it (e.g. `pyenv install {version}`) "
                   f"or set COMPAT_PYTHON_{version.replace('.', '_')}=/path/to/python{version}")


def env_dir(name: str) -> Path:
    """Where the environment for ``tests/compat/<name>.txt`` lives (keyed by the file's content)."""
    key = hashlib.sha256((HERE / f"{name}.txt").read_bytes() + BUILDER_VERSION.encode()).hexdigest()[:12]
    return CACHE / f"{name}-{key}"


@contextlib.contextmanager
def _lock():
    CACHE.mkdir(exist_ok=True)
    with open(CACHE / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def ensure(name: str, log=print) -> Path:
    """The environment's ``bin/python``, building the environment first if needed."""
    target = env_dir(name)
    python = target / "bin" / "python"
    if (target / ".complete").exists():
        return python
    with _lock():
        if (target / ".complete").exists():
            return python
        version, reqs = pins(name)
        base = find_python(version)
        for stale in CACHE.glob(f"{name}-*"):  # an older pin file's environment, or a half-built one
            shutil.rmtree(stale, ignore_errors=True)
        t0 = time.perf_counter()
        log(f"compat: building {target.relative_to(ROOT)} (Python {version}: {' '.join(reqs)})")
        subprocess.run([base, "-m", "venv", str(target)], check=True)
        cmd = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *reqs]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode:
            shutil.rmtree(target, ignore_errors=True)
            raise EnvError(f"pip could not install tests/compat/{name}.txt:\n{r.stdout[-3000:]}{r.stderr[-3000:]}")
        freeze = subprocess.run([str(python), "-m", "pip", "freeze"], capture_output=True, text=True, check=True)
        (target / "freeze.txt").write_text(freeze.stdout)
        (target / ".complete").write_text(f"built in {time.perf_counter() - t0:.0f} s\n")
        log(f"compat: {name} built in {time.perf_counter() - t0:.0f} s")
    return python


if __name__ == "__main__":
    try:
        for arg in sys.argv[1:] or ["colab", "oldest"]:
            print(ensure(arg))
    except EnvError as exc:
        sys.exit(f"error: {exc}")
