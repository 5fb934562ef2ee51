"""The rows of the gradient methods as one batch: `PointSum` and the sums over its points.

A method's rows are points (per example, `n_points` of them: the example itself, SmoothGrad's noisy copies,
IG's path points); its result sums a weighed gradient over each example's points. The rows of several
methods go through the network together, chunked by `batch_size` (one forward and one backward pass per
chunk), and when the score reads the logits the examples' own rows also give their logits and predicted
targets (`sum_over_points_with_logits`).

The backward pass stops at the first nonlinear layer when a method's weighing is linear (IG's, the signed
gradient's): the gradient through the linear layers before it (a first convolution, say) is one linear map,
so those rows are summed first and only the sums go through it, not every row. The forward pass starts
there too when a method's rows are affine combinations of two ends (IG's path points): through linear layers
they stay the same combinations, so only the ends go through those layers. (`_cut` says when this pays.)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .batching import default_rows, row_chunks
from .scores import as_score as _score_fn


@dataclass(frozen=True)
class PointSum:
    """One method's rows: per example `ex` and point `k` the row `points(ex, k)`; the method sums
    `weigh(gradient, k)` over its points per example. `points` takes index arrays (R,) and builds only
    the rows asked for, so that a chunk never materialises more than `batch_size` rows."""

    points: Callable[[np.ndarray, np.ndarray], np.ndarray]
    weigh: Callable[[np.ndarray, np.ndarray], np.ndarray]
    n_points: int
    #: optional: every row at once, example by example (the same values as `points` of all of them, built by
    #: broadcasting instead of indexing); used when one chunk holds them all
    every: Callable[[], np.ndarray] | None = None
    #: optional (P,): each point's weight when `weigh(g, k)` is the gradient times it (IG's quadrature weights, ones
    #: for the signed gradient), linear in the gradient: the rows' gradients may then be summed before the
    #: network's first linear layers (see the module's docstring)
    weights: np.ndarray | None = None
    #: optional (a (P,), lo (N, ...), hi (N, ...)): the rows are (1 - a_k) lo_e + a_k hi_e, so that they can be
    #: formed after the network's first linear layers from lo and hi taken through them
    ends: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def weighed_sums(self, g: np.ndarray, k: np.ndarray, first: np.ndarray | None = None) -> np.ndarray:
        """`weigh(g, k)` summed over each run of rows: runs starting at the indices `first` (in row order), or
        with `first` None every example's `n_points` rows (with `weights`: one product weights @ rows per example,
        in g's dtype)."""
        if first is None and self.weights is not None and self.n_points > 1:
            rows = g.reshape(-1, self.n_points, math.prod(g.shape[1:]))
            return np.matmul(self.weights.astype(g.dtype, copy=False), rows).reshape(-1, *g.shape[1:])
        weighed = self.weigh(g, k)
        if self.n_points == 1:
            return weighed
        if first is None:
            # NOTE: a sum over an axis: reduceat along the first axis walks each value's column on its own,
            # ~8x slower on a (50, 8, 8, 8) block
            return weighed.reshape(-1, self.n_points, *g.shape[1:]).sum(axis=1)
        return np.add.reduceat(weighed, first, axis=0)


def sum_over_points_many(model, sums: list[PointSum], targets, score, batch_size):
    """Every PointSum's totals at once: the rows of all of them go through the network as one batch.

    Parameters
    ----------
    sums : list of PointSum
    targets : array of int, shape (N,)
        One class per example, shared by every PointSum.

    Returns
    -------
    totals : list of ndarray (N, C, H, W), one per PointSum
    values : list of ndarray (N, n_points), the score at every row of each PointSum
    """
    targets = np.asarray(targets, dtype=np.int64)
    totals, values, _ = _sum_over_points(model, sums, len(targets), targets, score, batch_size, None)
    return totals, values


def sum_over_points_with_logits(model, sums: list[PointSum], n: int, targets, score, batch_size):
    """`sum_over_points_many` that also returns each example's logits, and predicts its target when `targets`
    is None, from the same batch: no separate logits pass.

    `sums[0]` must be the N examples themselves (`gradient_points(x)`) and the score must read the logits
    (`score.stop(model) == model.logit_index`). Example e's row there gives its logits; with `targets` None
    its predicted class (their argmax, as `resolve_targets`) is the target of all of e's rows. Those N rows
    come first in the batch, so every target is known (and checked by the score) before the seed of any
    other row is built.

    Returns
    -------
    totals, values : as `sum_over_points_many`
    targets : int64 (N,), the given or predicted classes
    logits : ndarray (N, K), float64 (the compute dtype's values)
    """
    fn = _score_fn(score)
    if fn.stop(model) != model.logit_index:
        raise ValueError(f"the {fn.name} score does not read the logits: compute them with `logits`")
    if not sums or sums[0].n_points != 1:
        raise ValueError("sums[0] must be the examples themselves (gradient_points)")
    z = np.empty((int(n), model.num_classes))
    predict = targets is None
    targets = np.zeros(int(n), dtype=np.int64) if predict else np.asarray(targets, dtype=np.int64)
    if targets.shape != (n,):
        raise ValueError(f"need one target per example: {targets.shape} targets for {n} examples")

    def resolve(out, ex, done):
        z[ex] = out
        if predict:
            targets[ex] = out.argmax(axis=1)
            if done:
                fn.check(model, targets if fn.uses_target else None)

    totals, values, _ = _sum_over_points(model, sums, int(n), targets, score, batch_size, resolve)
    return totals, values, targets, z


def _sum_over_points(model, sums, n, targets, score, batch_size, resolve):
    """The batch of `sum_over_points_many`; `resolve(out, ex, done)`, when given, sees the score layer's output
    of sums[0]'s rows of examples `ex` in each chunk (`done`: all of sums[0]'s rows are in) before the seeds are
    built from `targets`, which it may fill in."""
    fn = _score_fn(score)
    stop = fn.stop(model)
    cut = _cut(model, sums, stop)
    sizes = [n * p.n_points for p in sums]
    step = default_rows(model) if batch_size is None else int(batch_size)
    if 0 < sum(sizes) <= step and all(p.every for p in sums):
        return _sum_over_points_at_once(model, sums, n, targets, fn, stop, cut, resolve)
    totals = [np.zeros((n, *model.input_shape)) for _ in sums]
    values = [np.empty((n, p.n_points)) for p in sums]
    starts = [sum(sizes[:i]) for i in range(len(sums))]
    for s in row_chunks(sum(sizes), batch_size, model):
        pieces = []  # (which sum, example indices, point indices, whether the chunk holds all of its rows)
        for i, p in enumerate(sums):
            lo, hi = max(s.start - starts[i], 0), min(s.stop - starts[i], sizes[i])
            if lo < hi:
                ex, k = np.divmod(np.arange(lo, hi), p.n_points)
                pieces.append((i, ex, k, hi - lo == sizes[i]))
        rows, start = _rows(model, sums, pieces, cut)
        out = model.forward(rows, stop=stop, start=start, lean=True)
        if resolve is not None and pieces[0][0] == 0:
            resolve(out[: len(pieces[0][1])], pieces[0][1], s.stop >= n)
        t = targets[pieces[0][1]] if len(pieces) == 1 else np.concatenate([targets[piece[1]] for piece in pieces])
        v, seed = fn(out, t)
        g = model.backward(seed, param_grads=False, stop=cut)
        at, runs, staged = 0, [], []
        for i, ex, k, whole in pieces:
            part = slice(at, at + len(ex))
            at = part.stop
            first = None
            if whole:  # NOTE: the same sums as below, without the index arithmetic
                values[i].reshape(-1)[:] = v[part]
            else:
                values[i][ex, k] = v[part]
                # NOTE: rows come example by example, so each example's rows are one run: summed with reduceat
                # (np.add.at is several times slower); runs are added in row order, as np.add.at would.
                # A run starts where k is 0 (and at the chunk's first row).
                first = np.flatnonzero(k == 0)
                if k[0] != 0:
                    first = np.concatenate(([0], first))
            runs.append(first)
            staged.append(_staged(sums[i], g[part], k, first, cut))
        for (i, ex, k, whole), first, done in zip(pieces, runs, _through(model, staged, cut), strict=True):
            if not _early(sums[i], cut):
                done = sums[i].weighed_sums(done, k, first)
            if whole:
                totals[i] += done
            else:
                totals[i][ex[first]] += done
    return totals, values, targets


def _cut(model, sums, stop: int) -> int:
    """The layer at whose input the backward pass stops: after the network's linear first layers (not past the
    score's layer `stop`) when a method with several points weighs linearly, else 0 (the input).

    NOTE: only when a convolution is among those layers and does not run fused with the activation after it:
    through dense layers alone the step costs more than it saves (blobs6x6's report took 8 us longer, of 170), and
    so does stopping a fused pair in the middle (IG-50 on a 1x64x64 conv net, 3 ms longer of 85).
    """
    if not any(p.weights is not None and p.n_points > 1 for p in sums):
        return 0
    cut = min(model.linear_prefix, stop + 1)
    if not cut or model.fused(cut - 1) or not any(layer.type == "conv2d" for layer in model.layers[:cut]):
        return 0
    return cut


def _staged(p: PointSum, g: np.ndarray, k: np.ndarray, first, cut: int) -> np.ndarray:
    """A method's gradients (in the compute dtype) as they go through the linear first layers: summed at the cut
    when it is early, else each row's; in float64 whatever the compute dtype, as `score_gradient` returns them."""
    return np.asarray(p.weighed_sums(g, k, first) if _early(p, cut) else g, dtype=np.float64)


def _start(model, sums, pieces, cut: int) -> int:
    """Where a chunk's forward pass starts: at the cut (see `_cut`) when it has affine rows (`PointSum.ends`), on
    average at least two an example (so that the pass through the linear layers holds no more rows than the
    chunk); else at the input (0)."""
    if not cut:
        return 0
    affine = [ex for i, ex, _, _ in pieces if sums[i].ends is not None]
    return cut if affine and sum(2 * (ex[-1] - ex[0] + 1) for ex in affine) <= sum(map(len, affine)) else 0


def _rows(model, sums, pieces, cut: int) -> tuple[np.ndarray, int]:
    """A chunk's rows (`pieces` as in `_sum_over_points`) and the layer at whose input they are (`_start`): for 0
    the rows themselves; else every method's rows taken through the linear layers before it in one pass, the
    affine ones (`PointSum.ends`) formed there from their examples' two ends."""
    start = _start(model, sums, pieces, cut)
    firsts = []
    for i, ex, k, whole in pieces:
        p = sums[i]
        if start and p.ends is not None:
            examples = slice(ex[0], ex[-1] + 1)  # rows come example by example
            firsts += [p.ends[1][examples], p.ends[2][examples]]
        else:
            firsts.append(p.every() if whole and p.every else p.points(ex, k))
    rows = firsts[0] if len(firsts) == 1 else np.concatenate(firsts)
    if not start:
        return rows, 0
    done, rows, at = model.forward(rows, stop=start - 1), [], 0
    for i, ex, k, whole in pieces:
        p = sums[i]
        if p.ends is None:
            rows.append(done[at : at + len(ex)])
            at += len(ex)
            continue
        m = ex[-1] - ex[0] + 1
        ends = np.stack([done[at : at + m], done[at + m : at + 2 * m]], axis=1).reshape(m, 2, -1)  # (m, lo|hi, F)
        at += 2 * m
        if whole:  # every example's points in order: one product (P, 2) @ (2, F) per example
            formed = np.matmul(np.stack([1.0 - p.ends[0], p.ends[0]], axis=1), ends)
        else:
            a, j = p.ends[0][k][:, None], ex - ex[0]
            formed = (1.0 - a) * ends[j, 0] + a * ends[j, 1]
        rows.append(formed.reshape(-1, *done.shape[1:]))  # (1 - a) lo + a hi, as the points
    return (rows[0] if len(rows) == 1 else np.concatenate(rows)), start


def _early(p: PointSum, cut: int) -> bool:
    """Whether `p`'s rows are weighed and summed at the cut, before the linear layers (else at the input)."""
    return cut > 0 and p.weights is not None


def _through(model, staged: list[np.ndarray], cut: int) -> list[np.ndarray]:
    """Each array of gradients at the input of layer `cut` taken through the linear layers before it to the
    input, all of them in one pass."""
    if cut == 0:
        return staged
    done = model.input_grad(np.concatenate(staged) if len(staged) > 1 else staged[0], cut)
    ends = np.cumsum([len(s) for s in staged]).tolist()
    return [done[end - len(s) : end] for s, end in zip(staged, ends, strict=True)]


def _sum_over_points_at_once(model, sums, n, targets, fn, stop, cut, resolve):
    """`_sum_over_points` when one pass holds every row: the same rows, seeds and sums, with fewer steps."""
    if cut:
        whole = [(i, *np.divmod(np.arange(n * p.n_points), p.n_points), True) for i, p in enumerate(sums)]
        rows, start = _rows(model, sums, whole, cut)
    else:
        rows, start = (np.concatenate([p.every() for p in sums]) if len(sums) > 1 else sums[0].every()), 0
    out = model.forward(rows, stop=stop, start=start, lean=True)
    if resolve is not None:
        resolve(out[:n], np.arange(n), True)
    points = np.array([p.n_points for p in sums])
    # row order: method, example, point; each row explains its example's target
    v, seed = fn(out, targets[np.arange(len(sums) * n) % n].repeat(points.repeat(n)))
    # NOTE: values in float64 whatever the compute dtype, as `score_gradient` returns them (gradients: `_staged`)
    v = np.asarray(v, dtype=np.float64)
    g = model.backward(seed, param_grads=False, stop=cut)
    values, ks, staged, at = [], [], [], 0
    for p in sums:
        size = n * p.n_points
        part = slice(at, at + size)
        at = part.stop
        values.append(v[part].reshape(n, p.n_points))
        ks.append(np.zeros(size, dtype=np.intp) if p.n_points == 1 else np.arange(size) % p.n_points)
        staged.append(_staged(p, g[part], ks[-1], None, cut))
    totals = []
    for p, k, done in zip(sums, ks, _through(model, staged, cut), strict=True):
        summed = done if _early(p, cut) else p.weighed_sums(done, k)
        # each example's rows summed as `_sum_over_points` sums a chunk that holds them all, and added to 0.0 as there
        totals.append(np.add(summed, 0.0))
    return totals, values, targets


def gradient_points(x: np.ndarray) -> PointSum:
    """The rows x themselves, weighed 1: the sum is the gradient (vanilla saliency, signed)."""
    return PointSum(lambda ex, _k: x[ex], lambda g, _k: g, 1, lambda: x, weights=np.ones(1))
