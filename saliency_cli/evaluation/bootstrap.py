"""Seeded percentile bootstrap of a mean over probes, and over randomisation draws and probes."""

from __future__ import annotations

import numpy as np

#: two-sided coverage of the intervals
LEVEL = 0.95

#: at most this many resampled values exist at a time in a two-level bootstrap
CHUNK = 1 << 22


def resample_indices(n: int, resamples: int, seed: int) -> np.ndarray:
    """(resamples, n) indices drawn with replacement; the same for every metric with n values.

    NOTE: seeded by (seed, n) only, so every method is resampled with the same indices (a paired
    bootstrap) and the intervals do not depend on the order in which metrics are summarised.
    """
    return np.random.default_rng([int(seed), 7, int(n)]).integers(0, n, size=(int(resamples), n))


def draw_indices(k: int, resamples: int, seed: int) -> np.ndarray:
    """(resamples, k) randomisation draws picked with replacement, seeded by (seed, k) alone (as above)."""
    return np.random.default_rng([int(seed), 8, int(k)]).integers(0, k, size=(int(resamples), k))


def _resampled_means(v: np.ndarray, resamples: int, seed: int) -> np.ndarray:
    """The mean of each resample of `v` (K, n): draws and probes both drawn with replacement."""
    k, n = v.shape
    probes = resample_indices(n, resamples, seed)
    if k == 1:
        return v[0][probes].mean(axis=1)
    draws = draw_indices(k, resamples, seed)
    step = max(1, CHUNK // (k * n))
    out = np.empty(len(probes))
    for s in range(0, len(probes), step):
        d, p = draws[s : s + step], probes[s : s + step]
        out[s : s + step] = v[d[:, :, None], p[:, None, :]].mean(axis=(1, 2))
    return out


def mean_ci(values: np.ndarray, resamples: int, seed: int) -> tuple[float, tuple[float, float], int]:
    """(mean, (low, high), n) of the finite entries of `values`; NaN entries (n/a) are left out.

    `values` is (n,) per probe, or (K, n) per randomisation draw and probe: then a probe counts only
    where every draw has a value, and each resample draws K draws and n probes with replacement (a
    two-level bootstrap), so the interval covers the draw-to-draw variation as well as the probes'.
    The interval is the 2.5 % and 97.5 % percentiles of the means of `resamples` resamples. With no
    finite value the mean and interval are NaN; with one value (or `resamples` 0) the interval is the
    mean itself.

    NOTE: a percentile interval need not contain the sample mean (a skewed sample of few values); it is
    widened to reach the mean, so that a mean is never shown outside its own interval.
    """
    v = np.asarray(values, dtype=np.float64)
    v = v[None] if v.ndim == 1 else v
    v = v[:, np.isfinite(v).all(axis=0)]
    n = v.shape[1]
    if n == 0:
        return float("nan"), (float("nan"), float("nan")), 0
    if v.min() == v.max():  # one value, or all alike: nothing to resample (and no round-off in the mean)
        return float(v.flat[0]), (float(v.flat[0]), float(v.flat[0])), n
    mean = float(v.mean())
    if resamples < 1:
        return mean, (mean, mean), n
    means = _resampled_means(v, resamples, seed)
    tail = (1.0 - LEVEL) / 2.0 * 100.0
    low, high = np.percentile(means, [tail, 100.0 - tail])
    return mean, (float(min(low, mean)), float(max(high, mean))), n
