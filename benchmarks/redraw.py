"""How long one explorer control change takes in the kernel: compute the view, update the figure, encode the PNG.

For every explorer of the series, from its default and from each of its other states
(``Explorer.states``), every enabled control is moved to each of the values the tests
move it to (its neighbours and both ends of its valid range, as tests/test_explorers.py
enumerates them), and ``Explorer.render`` of the moved setting is timed -- what a
slider move costs in the notebook before the PNG travels to the browser. Before each
timed move the explorer is put back in the state it moves from (not timed), so every
timed render is one real control change.

Reported per explorer: the median and the max of the CPU time (``time.process_time``,
which a machine loaded by other processes barely changes) and of the wall time, in ms.
``--breakdown`` also splits the median into compute (the view), figure update, Agg
draw and PNG encoding.

    python benchmarks/redraw.py                  # every explorer
    python benchmarks/redraw.py separable -b     # one explorer, with the breakdown
    python benchmarks/redraw.py --json out.json  # also write the numbers
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as make test runs the notebooks (see the Makefile)
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGET_CPU_MS = 80.0  # median CPU time per control change, per explorer (issue 11: "well under 100 ms")
NAMES = ["sliding_window", "separable", "depthwise_pointwise", "program", "one_by_one", "residual"]


def moves(ex) -> list[tuple[dict, dict]]:
    """(from, to) settings: every enabled control of every state moved to each alternative value."""
    out = []
    for state in [{}, *ex.states]:
        values, constraints = ex.settle(state)
        for name in ex.controls:
            if constraints.get(name, {}).get("disabled"):
                continue
            options = ex.options(name, constraints)
            if values[name] not in options:
                continue
            i = options.index(values[name])
            for j in sorted({j for j in (0, len(options) - 1, i - 1, i + 1) if 0 <= j < len(options) and j != i}):
                out.append((values, ex.settle({**values, name: options[j]})[0]))
    return out


class _Stages:
    """Wraps an explorer's compute, figure and PNG steps to time each (CPU ms)."""

    def __init__(self, ex) -> None:
        self.ex, self.t = ex, {}
        for attr in ("compute", "figure", "_png"):
            fn = getattr(ex, attr)
            setattr(ex, attr, self._timed(attr, fn))

    def _timed(self, name, fn):
        def run(*args, **kw):
            t0 = time.process_time()
            try:
                return fn(*args, **kw)
            finally:
                self.t[name] = self.t.get(name, 0.0) + (time.process_time() - t0) * 1e3
        return run


def _residual_cached(values: dict) -> bool:
    """Whether both networks of a notebook 04 explorer setting are trained already."""
    import importlib

    residual = importlib.import_module("helpers.explorers.residual")
    block = residual.SHORTCUTS[values["shortcut"]]
    return all(residual._RUNS.cached((values["depth"], b, values["batchnorm"])) for b in ("plain", block))


def measure(name: str, breakdown: bool = False) -> dict:
    from helpers import explorers

    ex = getattr(explorers, name)()
    stages = _Stages(ex) if breakdown else None
    ex.render()  # the first draw builds the figure and lays it out: the notebook does that when the cell runs
    cpu, wall, parts, first = [], [], [], []
    for before, after in moves(ex):
        ex.render(**before)
        if stages:
            stages.t = {}
        new = name == "residual" and not _residual_cached(after)  # a first visit trains two networks
        c0, w0 = time.process_time(), time.perf_counter()
        ex.render(**after)
        cpu.append((time.process_time() - c0) * 1e3)
        wall.append((time.perf_counter() - w0) * 1e3)
        if new:
            first.append(cpu[-1])
        if stages:
            parts.append(dict(stages.t))
    row = {"explorer": name, "moves": len(cpu), "cpu_median_ms": statistics.median(cpu), "cpu_max_ms": max(cpu),
           "wall_median_ms": statistics.median(wall), "wall_max_ms": max(wall)}
    if first:  # reported apart: training, not drawing (the live explorer prefetches these while idle)
        row["first_visits"] = len(first)
        row["first_visit_cpu_median_ms"] = statistics.median(first)
    if parts:
        # the figure step includes nothing of the others; the Agg draw is inside _png
        row["breakdown_median_ms"] = {k: statistics.median(p.get(k, 0.0) for p in parts)
                                      for k in ("compute", "figure", "_png")}
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", default=NAMES, help=f"explorers (default: all of {', '.join(NAMES)})")
    parser.add_argument("-b", "--breakdown", action="store_true", help="split the median into its steps")
    parser.add_argument("--json", type=Path, help="also write the rows to this file")
    args = parser.parse_args(argv)
    rows = []
    print(f"{'explorer':22s} {'moves':>5s} {'CPU median':>10s} {'CPU max':>8s} {'wall median':>11s} "
          f"{'wall max':>8s}  (ms per control change; target: CPU median <= {TARGET_CPU_MS:.0f} ms)")
    for name in args.names:
        row = measure(name, args.breakdown)
        rows.append(row)
        met = "met" if row["cpu_median_ms"] <= TARGET_CPU_MS else "MISSED"
        print(f"{name:22s} {row['moves']:5d} {row['cpu_median_ms']:10.1f} {row['cpu_max_ms']:8.1f} "
              f"{row['wall_median_ms']:11.1f} {row['wall_max_ms']:8.1f}  {met}", flush=True)
        if "first_visits" in row:
            print(f"{'':22s} of which {row['first_visits']} first visits to a setting (training two networks): "
                  f"CPU median {row['first_visit_cpu_median_ms']:.0f} ms")
        if "breakdown_median_ms" in row:
            b = row["breakdown_median_ms"]
            print(f"{'':22s} compute {b['compute']:.1f}, figure update {b['figure']:.1f}, "
                  f"Agg draw + PNG {b['_png']:.1f} (medians, CPU ms)")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    if args.json:
        args.json.write_text(json.dumps({"target_cpu_median_ms": TARGET_CPU_MS, "rows": rows,
                                         "load_average_1min": os.getloadavg()[0]}, indent=2))
    return 0 if all(r["cpu_median_ms"] <= TARGET_CPU_MS for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
