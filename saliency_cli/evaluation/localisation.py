"""Localisation metrics: how well a map (N, P) points at the ground-truth mask (N, P), per probe.

Every function takes flattened maps and boolean masks of the same shape (N, P) and returns one value
per probe (N,). Masks are non-empty (checked where probes are made). The rank-based metrics are
invariant to any strictly increasing transform of a map and need no normalisation; `mass_accuracy`
uses each probe's own map only, never a scale shared by a batch.
"""

from __future__ import annotations

import numpy as np

from .ranks import average_ranks

#: --mask-level: localisation at pixels (the map summed over channels, the mask any channel's) or per channel
PIXEL, CHANNEL = "pixel", "channel"
MASK_LEVELS = (PIXEL, CHANNEL)


def _inputs(maps, masks) -> tuple[np.ndarray, np.ndarray]:
    v = np.atleast_2d(np.asarray(maps, dtype=np.float64))
    m = np.atleast_2d(np.asarray(masks, dtype=bool))
    if v.shape != m.shape:
        raise ValueError(f"maps {v.shape} and masks {m.shape} differ in shape")
    return v, m


def pointing_game(maps, masks) -> np.ndarray:
    """Share of the map's maxima that lie in the mask: 1 for a unique maximum inside, 0 outside.

    NOTE: ties count fractionally (the expected hit under random tie-breaking), so a constant map
    scores the mask's share of positions, not 1.
    """
    v, m = _inputs(maps, masks)
    top = v == v.max(axis=1, keepdims=True)
    return (top & m).sum(axis=1) / top.sum(axis=1)


def positive_mass(maps) -> np.ndarray:
    """Sum of the positive part of each map (N,)."""
    return np.maximum(np.atleast_2d(np.asarray(maps, dtype=np.float64)), 0.0).sum(axis=1)


def mass_accuracy(maps, masks) -> np.ndarray:
    """Positive relevance inside the mask over all positive relevance (0 for a map with none)."""
    v, m = _inputs(maps, masks)
    pos = np.maximum(v, 0.0)
    total = pos.sum(axis=1)
    inside = np.where(m, pos, 0.0).sum(axis=1)
    return np.divide(inside, total, out=np.zeros(len(total)), where=total > 0)


def rank_accuracy(maps, masks) -> np.ndarray:
    """Of the K = |mask| highest-ranked positions, the share inside the mask.

    NOTE: the positions tied with the K-th largest value share the remaining places fractionally
    (each in proportion to how many of them lie in the mask), so no sort order decides the result.
    """
    v, m = _inputs(maps, masks)
    k = m.sum(axis=1)
    desc = -np.sort(-v, axis=1)
    threshold = np.take_along_axis(desc, (k - 1)[:, None], axis=1)
    above = v > threshold
    tied = v == threshold
    n_above = above.sum(axis=1)
    tied_in = (tied & m).sum(axis=1)
    share = (above & m).sum(axis=1) + (k - n_above) * tied_in / tied.sum(axis=1)
    return share / k


def auc(maps, masks) -> np.ndarray:
    """ROC AUC of the map as a detector of mask positions (Mann-Whitney U, ties count 1/2).

    NaN where it is undefined: a mask that covers every position has no negatives.
    """
    v, m = _inputs(maps, masks)
    ranks = average_ranks(v)
    n_pos = m.sum(axis=1).astype(np.float64)
    n_neg = m.shape[1] - n_pos
    u = np.where(m, ranks, 0.0).sum(axis=1) - n_pos * (n_pos + 1) / 2.0
    pairs = n_pos * n_neg
    return np.divide(u, pairs, out=np.full(len(u), np.nan), where=pairs > 0)


def localisation_inputs(maps: np.ndarray, masks: np.ndarray, level: str) -> tuple[np.ndarray, np.ndarray]:
    """The flattened maps and masks (N, P) localisation scores: at `PIXEL` level the map summed over its
    channels (signed) against the mask of any channel; at `CHANNEL` level every (c, y, x) against its own
    channel's mask (a spatial (N, 1, H, W) map against any channel's mask at either level)."""
    n = len(maps)
    if level == PIXEL or maps.shape[1] == 1:
        return maps.sum(axis=1).reshape(n, -1), masks.any(axis=1).reshape(n, -1)
    return maps.reshape(n, -1), masks.reshape(n, -1)
