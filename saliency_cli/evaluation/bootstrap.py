"""Seeded percentile bootstrap of a mean over probes."""

from __future__ import annotations

import numpy as np

#: two-sided coverage of the intervals
LEVEL = 0.95


def resample_indices(n: int, resamples: int, seed: int) -> np.ndarray:
    """(resamples, n) indices drawn with replacement; the same for every metric with n values.

    NOTE: seeded by (seed, n) only, so every method is resampled with the same indices (a paired
    bootstrap) and the intervals do not depend on the order in which metrics are summarised.
    """
    return np.random.default_rng([int(seed), 7, int(n)]).integers(0, n, size=(int(resamples), n))


def mean_ci(values: np.ndarray, resamples: int, seed: int) -> tuple[float, tuple[float, float], int]:
    """(mean, (low, high), n) of the finite entries of `values`; NaN entries (n/a) are left out.

    The interval is the 2.5 % and 97.5 % percentiles of the means of `resamples` resamples. With no
    finite value the mean and interval are NaN; with one value (or `resamples` 0) the interval is the
    mean itself.
    """
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    n = len(v)
    if n == 0:
        return float("nan"), (float("nan"), float("nan")), 0
    mean = float(v.mean())
    if n == 1 or resamples < 1:
        return mean, (mean, mean), n
    means = v[resample_indices(n, resamples, seed)].mean(axis=1)
    tail = (1.0 - LEVEL) / 2.0 * 100.0
    low, high = np.percentile(means, [tail, 100.0 - tail])
    return mean, (float(low), float(high)), n
