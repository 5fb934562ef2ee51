"""Faithfulness: deletion, insertion and LeRF curves of the explained class's probability, and their areas.

A map ranks the positions of its probe (every (c, y, x) of a (C, H, W) map; every pixel, all channels
together, of a spatial (1, H, W) map). Step j of `steps` replaces the k_j = floor(j P / steps) highest-
ranked positions by the deletion substrate (deletion, most relevant first), the lowest-ranked ones
(LeRF), or restores the highest-ranked ones into the insertion canvas (insertion; a blur by default, as
in Petsiuk et al. 2018). Every step of every probe is a row of
one batch, built chunk by chunk so that at most `batch_size` rows exist at a time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..methods.batching import default_rows
from ..methods.gradients import logits
from ..nn import ops

#: curve name -> what a step does, for the curves this module draws
CURVES = ("deletion", "insertion", "lerf")


def step_counts(positions: int, steps: int) -> np.ndarray:
    """Positions changed at steps 0 .. steps: floor(j * P / steps), from 0 to P."""
    return (np.arange(steps + 1, dtype=np.int64) * positions) // steps


def fractions(steps: int) -> np.ndarray:
    """The x axis of every curve: j / steps for j = 0 .. steps."""
    return np.arange(steps + 1) / steps


def relevance_ranks(maps: np.ndarray, tiebreak: np.ndarray) -> np.ndarray:
    """Each position's place (0 = most relevant) in most-relevant-first order, (N, P).

    NOTE: ties are broken by `tiebreak` (a seeded random key per position), not by position order:
    with a stable sort a map with many ties (a ReLU-ed CAM, a constant map) would always delete the
    top-left corner first, which is where one class's blob is.
    """
    order = np.lexsort((tiebreak, -maps), axis=-1)
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(maps.shape[1]), axis=1)
    return ranks


def area(curve: np.ndarray) -> np.ndarray:
    """Trapezoid area under curves (N, S + 1) sampled at x = j / S on [0, 1]: it does not grow with S."""
    s = curve.shape[1] - 1
    return (curve[:, 1:] + curve[:, :-1]).sum(axis=1) / (2.0 * s)


@dataclass
class Curves:
    """Per-probe curves: probability and logit of the explained class at every step, (N, S + 1) each."""

    probability: dict[str, np.ndarray]
    logit: dict[str, np.ndarray]


def endpoint_scores(net, x: np.ndarray, substrate: np.ndarray, targets: np.ndarray, batch_size=None, canvas=None):
    """(probability, logit) of the explained class at the input, at the substrate and (when given and not
    the substrate itself) at insertion's canvas: four or six (N,) arrays."""
    parts = [x, substrate] + ([] if canvas is None or canvas is substrate else [canvas])
    z = logits(net, np.concatenate(parts), batch_size)
    p = ops.softmax(z)
    n = len(x)
    out = []
    for i in range(len(parts)):
        rows = i * n + np.arange(n)
        out += [p[rows, targets], z[rows, targets]]
    return tuple(out)


def perturbation_curves(
    net, x, substrate, maps, targets, steps: int, tiebreak, endpoints, batch_size: int | None = None, canvas=None
) -> Curves:
    """Deletion, insertion and LeRF curves for one method's maps.

    Parameters
    ----------
    x, substrate : (N, C, H, W); `substrate` replaces positions in deletion and LeRF
    canvas : (N, C, H, W) that insertion restores positions into (None: `substrate`)
    maps : (N, C, H, W) or spatial (N, 1, H, W)
    targets : (N,) explained classes
    steps : S >= 1
    tiebreak : (N, P) random keys, P the number of positions of `maps`
    endpoints : `endpoint_scores(...)` of x and substrate, or of x, substrate and canvas (six arrays)
    """
    canvas = substrate if canvas is None else canvas
    n, c, h, w = x.shape
    spatial = maps.shape[1] == 1 and c > 1
    flat = maps.reshape(n, -1)
    p = flat.shape[1]
    ranks = relevance_ranks(flat, tiebreak)
    k = step_counts(p, steps)
    shape = (-1, 1, h, w) if spatial else (-1, c, h, w)
    prob = {name: np.empty((n, steps + 1)) for name in CURVES}
    logit = {name: np.empty((n, steps + 1)) for name in CURVES}
    p_x, z_x, p_s, z_s, *rest = endpoints
    p_c, z_c = rest or (p_s, z_s)
    for name, start, stop in (("deletion", 0, 1), ("insertion", 2, 0), ("lerf", 0, 1)):
        ends = ((p_x, z_x), (p_s, z_s), (p_c, z_c))
        prob[name][:, 0], logit[name][:, 0] = ends[start]
        prob[name][:, -1], logit[name][:, -1] = ends[stop]
    # NOTE: LeRF step j keeps the top P - k_j positions of x, which is insertion step S - j whenever
    # k_j + k_(S-j) = P (always when S divides P) and insertion's canvas is the deletion substrate:
    # those LeRF points are copied, not recomputed.
    inner = np.arange(1, steps)
    shared = (k[inner] + k[steps - inner] == p) & (canvas is substrate)
    which = np.concatenate([np.zeros(len(inner), int), np.ones(len(inner), int), np.full((~shared).sum(), 2)])
    step = np.concatenate([inner, inner, inner[~shared]])
    total = n * len(step)
    chunk = default_rows(net) if batch_size is None else int(batch_size)  # as every other pass
    for begin in range(0, total, chunk):
        m, ex = np.divmod(np.arange(begin, min(begin + chunk, total)), n)
        curve, j = which[m], step[m]
        r, kk = ranks[ex], k[j][:, None]
        # NOTE: deletion and insertion take the same top-k set; LeRF takes the bottom-k set.
        top = np.where(curve[:, None] == 2, r >= p - kk, r < kk).reshape(shape)
        from_substrate = np.where((curve == 1)[:, None, None, None], ~top, top)
        fill = np.where((curve == 1)[:, None, None, None], canvas[ex], substrate[ex])
        rows = np.where(from_substrate, fill, x[ex])
        z = logits(net, rows, batch_size)
        pr = ops.softmax(z)
        sel = np.arange(len(ex)), targets[ex]
        for ci, name in enumerate(CURVES):
            here = curve == ci
            prob[name][ex[here], j[here]] = pr[sel][here]
            logit[name][ex[here], j[here]] = z[sel][here]
    copied = inner[shared]
    for table in (prob, logit):
        table["lerf"][:, copied] = table["insertion"][:, steps - copied]
    return Curves(prob, logit)


def faithfulness_scores(curves: Curves) -> dict[str, np.ndarray]:
    """deletion, insertion and abpc per probe from the probability curves (and lerf, the LeRF area that
    abpc subtracts deletion from: not a metric, but what decides whether abpc adds anything to deletion)."""
    deletion = area(curves.probability["deletion"])
    lerf = area(curves.probability["lerf"])
    insertion = area(curves.probability["insertion"])
    return {"deletion": deletion, "insertion": insertion, "abpc": lerf - deletion, "lerf": lerf}
