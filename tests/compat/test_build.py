"""pyproject.toml builds, without deprecation warnings, with both ends of its setuptools range.

Binder and ``make lab`` install the project with pip, which builds it with the newest
setuptools the ``[build-system]`` range allows; setuptools refuses the old
``license = {text = ...}`` table after 2027-02-18. Here the project (copied to a
temporary folder, so no build products land in the checkout) is built once with the
lowest and once with the highest allowed setuptools release, and the wheel's metadata
must carry the SPDX licence expression and the licence file.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[2]
RANGE = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]["requires"]


def _ends() -> list[str]:
    (spec,) = [r for r in RANGE if r.startswith("setuptools")]
    low = re.search(r">=\s*([0-9.]+)", spec)
    high = re.search(r"<\s*([0-9]+)", spec)
    assert low and high, f"{spec!r}: give setuptools a lower and an upper bound (>=X,<Y)"
    return [low[1], f"{int(high[1]) - 1}.*"]


@pytest.mark.compat
@pytest.mark.parametrize("setuptools", _ends())
def test_project_builds_with_the_ends_of_the_setuptools_range(setuptools, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, src / name)
    shutil.copytree(ROOT / "helpers", src / "helpers", ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "build-constraints.txt").write_text(f"setuptools=={setuptools}\n")
    env = {**os.environ, "PIP_CONSTRAINT": str(tmp_path / "build-constraints.txt"),
           "PIP_BUILD_CONSTRAINT": str(tmp_path / "build-constraints.txt")}
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-v", "-w", str(tmp_path / "dist"),
                        str(src)], capture_output=True, text=True, env=env)
    log = r.stdout + r.stderr
    assert r.returncode == 0, log[-4000:]
    used = re.search(r"Successfully installed .*setuptools-([0-9.]+)", log)
    assert used and re.fullmatch(setuptools.replace(".*", r"\.[0-9.]+"), used[1]), log[-2000:]
    assert "deprecat" not in log.lower(), [ln for ln in log.splitlines() if "deprecat" in ln.lower()]
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    with zipfile.ZipFile(wheel) as zf:
        meta = zf.read(next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))).decode()
    assert "License-Expression: MIT" in meta and "License-File: LICENSE" in meta
