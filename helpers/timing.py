"""Measuring run time the same way everywhere: the median of repeated calls."""

from __future__ import annotations

import time
from collections.abc import Callable


def time_ms(fn: Callable[[], object], *, repeat: int = 7, warmup: int = 1) -> float:
    """Median wall-clock time of ``fn()`` in milliseconds over ``repeat`` calls."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1e3)
    samples.sort()
    return samples[len(samples) // 2]
