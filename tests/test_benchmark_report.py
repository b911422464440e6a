"""The committed benchmark results: README, results.md and results.json tell the same story."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"

# benchmarks/run.py pins BLAS threads and may import PyTorch: load it in its own process.
_RENDER = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("bench_run", sys.argv[1])
run = importlib.util.module_from_spec(spec)
spec.loader.exec_module(run)
report = json.loads(open(sys.argv[2]).read())
print(json.dumps({"markdown": run.markdown(report), "targets": run.evaluate(report),
                  "start": run.README_START, "end": run.README_END}))
"""


@pytest.fixture(scope="module")
def rendered():
    out = subprocess.run([sys.executable, "-c", _RENDER, str(ROOT / "benchmarks" / "run.py"),
                          str(RESULTS / "results.json")], capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(out.stdout)


@pytest.fixture(scope="module")
def report():
    return json.loads((RESULTS / "results.json").read_text())


def test_results_md_is_the_json_rendered(rendered):
    assert (RESULTS / "results.md").read_text() == rendered["markdown"]


def test_readme_shows_the_committed_results(rendered):
    readme = (ROOT / "README.md").read_text()
    section = readme.split(rendered["start"], 1)[1].split(rendered["end"], 1)[0]
    assert section.strip() == (RESULTS / "results.md").read_text().strip()


def test_targets_in_the_json_follow_from_its_measurements(rendered, report):
    recomputed = rendered["targets"]
    assert [(t["target"], t["met"]) for t in recomputed] == [(t["target"], t["met"]) for t in report["targets"]]
    # every target the issue sets has a row, and a miss would say why
    assert len([t for t in recomputed if t["met"] is not None]) >= 10
    assert all(t.get("why") for t in recomputed if t["met"] is False)


def test_the_report_describes_the_machine(report):
    m = report["machine"]
    for key in ("date", "cpu", "cores", "python", "numpy", "blas", "pytorch", "allocator"):
        assert m.get(key), key
