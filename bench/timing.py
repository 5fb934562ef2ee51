"""The one timer the benchmarks share."""

from __future__ import annotations

import time


def best_of(fn, repeats: int = 7) -> float:
    """The fastest of `repeats` runs of `fn()`, in seconds: the least noisy estimate on a shared machine."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)
