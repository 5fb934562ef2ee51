"""Tie-aware ranks and the Spearman correlation, row by row over a batch of flattened maps."""

from __future__ import annotations

import numpy as np


def average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks of every row of `values` (N, P), ties sharing the mean of their ranks.

    The result depends only on the order of each row's values (and their ties), never on where they
    sit: a strictly increasing transform of a row leaves its ranks unchanged. Ranks are multiples of
    1/2, so sums of ranks are exact in float64.
    """
    v = np.atleast_2d(np.asarray(values, dtype=np.float64))
    n, p = v.shape
    order = np.argsort(v, axis=1, kind="stable")
    sv = np.take_along_axis(v, order, axis=1)
    idx = np.broadcast_to(np.arange(p), (n, p))
    starts = np.ones((n, p), dtype=bool)
    starts[:, 1:] = sv[:, 1:] != sv[:, :-1]
    ends = np.ones((n, p), dtype=bool)
    ends[:, :-1] = starts[:, 1:]
    first = np.maximum.accumulate(np.where(starts, idx, 0), axis=1)
    last = np.minimum.accumulate(np.where(ends, idx, p)[:, ::-1], axis=1)[:, ::-1]
    ranks = np.empty_like(v)
    np.put_along_axis(ranks, order, (first + last) / 2.0 + 1.0, axis=1)
    return ranks


def spearman(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Spearman's rank correlation of each row pair of `a` and `b` (N, P) -> (N,), ties averaged.

    NOTE: a constant row has no ranking at all; its correlation with anything is taken as 0 (no
    monotone association) rather than undefined, so that a map destroyed into a constant counts as
    fully decorrelated.
    """
    ra, rb = average_ranks(a), average_ranks(b)
    da = ra - ra.mean(axis=1, keepdims=True)
    db = rb - rb.mean(axis=1, keepdims=True)
    denom = np.sqrt((da * da).sum(axis=1) * (db * db).sum(axis=1))
    num = (da * db).sum(axis=1)
    out = np.divide(num, denom, out=np.zeros(len(num)), where=denom > 0)
    return np.clip(out, -1.0, 1.0)
