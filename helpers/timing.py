"""Measuring run time the same way everywhere: the median of repeated calls."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping


def _median(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[len(ordered) // 2]


def time_ms(fn: Callable[[], object], *, repeat: int = 7, warmup: int = 1) -> float:
    """Median wall-clock time of ``fn()`` in milliseconds over ``repeat`` calls."""
    return compare_ms({"fn": fn}, repeat=repeat, warmup=warmup)["fn"]


def compare_ms(fns: Mapping[str, Callable[[], object]], *, repeat: int = 7, warmup: int = 1) -> dict[str, float]:
    """Median wall-clock milliseconds of several functions, timed *alternately*.

    Each of ``repeat`` rounds calls every function in turn, so a slow moment of a
    shared machine (another process, a frequency change) hits all of them alike and
    their ratios stay meaningful; timing one function after the other would not.

    Every timed call comes right after an untimed call of the *same* function, so it
    measures that function in its own steady state, as a loop over images would.
    Without this, each call would also pay for what the function before it left
    behind -- caches full of other data, memory handed back to the operating system
    that now has to be faulted in again -- and in a fixed order that bill always goes
    to the same function (measured: a 2.9 ms convolution took 4.9 ms right after a
    function that allocates and frees 24 MB). The round also starts one function later
    each time.

    Returns ``{name: median ms}`` in the order given.
    """
    if repeat < 1:
        raise ValueError(f"repeat must be at least 1, got {repeat}")
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    samples: dict[str, list[float]] = {name: [] for name in fns}
    items = list(fns.items())
    for r in range(repeat):
        for name, fn in items[r % len(items) :] + items[: r % len(items)]:
            if len(items) > 1:
                fn()  # prime: the timed call follows itself, not another function
            t0 = time.perf_counter()
            fn()
            samples[name].append((time.perf_counter() - t0) * 1e3)
    return {name: _median(v) for name, v in samples.items()}
