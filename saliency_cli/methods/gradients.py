"""Gradient attributions: the gradient primitive, vanilla saliency and SmoothGrad.

Every gradient method is a batch over one primitive, `score_gradient`: one forward pass to the logits
and one backward pass of d score / d logits. SmoothGrad's noisy copies (and IG's path points, see
`integrated.py`) are evaluated as rows of one batch (chunked by `batch_size` to bound memory, see
`pointsums.py`), never as a loop of single passes.

Every public method takes `(model, inputs, target=None, **options)` where `inputs` is (C, H, W) or
a batch (N, C, H, W) and `target` is None (the predicted class), an int, or one int per example;
the result is an array shaped like `inputs`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache

import numpy as np

from .batching import (  # noqa: F401  (DEFAULT_ROWS, default_rows re-exported)
    DEFAULT_ROWS,
    as_batch,
    check_targets,
    compute_model,
    default_rows,
    row_chunks,
    unbatch,
)
from .pointsums import (  # noqa: F401  (re-exported: the batch machinery of every gradient method)
    PointSum,
    gradient_points,
    sum_over_points_many,
    sum_over_points_with_logits,
)
from .scores import SCORES, Score, as_score  # noqa: F401  (SCORES re-exported)

# -- scores: what is explained (see `scores`) ------------------------------------------------------

_score_fn = as_score


# -- the primitive ------------------------------------------------------------------------------


def logits(model, x: np.ndarray, batch_size: int | None = None) -> np.ndarray:
    """Pre-softmax scores of a batch.

    Parameters
    ----------
    model : Network
    x : ndarray, shape (N, C, H, W)
    batch_size : int, optional
        Rows per forward pass (default: `DEFAULT_ROWS`).

    Returns
    -------
    ndarray, shape (N, K)
    """
    x = np.asarray(x, dtype=np.float64)
    out = [model.predict_logits(x[s]) for s in row_chunks(len(x), batch_size, model)]
    return np.concatenate(out) if out else np.zeros((0, model.num_classes))


def scores(model, x: np.ndarray, targets, score: str | Score = "logit", batch_size: int | None = None) -> np.ndarray:
    """The explained score of each example, shape (N,), for `x` (N, C, H, W) and `targets` (N,)."""
    fn = _score_fn(score)
    x = np.asarray(x, dtype=np.float64)
    targets = np.asarray(targets, dtype=np.int64)
    stop = fn.stop(model)
    out = [fn(model.forward(x[s], stop=stop), targets[s])[0] for s in row_chunks(len(x), batch_size, model)]
    return np.concatenate(out) if out else np.zeros(0)


def score_gradient(
    model, x: np.ndarray, targets, score: str | Score = "logit", batch_size: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """d score / d x for every row of a batch: one forward (to the score's layer) and one backward per chunk.

    Parameters
    ----------
    model : Network
    x : ndarray, shape (N, C, H, W)
    targets : array of int, shape (N,)
        The class whose score is differentiated, per row.
    score : "logit", "probability" or a `scores.Score`
        The pre-softmax score z_c (default), the softmax probability p_c, or any Score object
        (a logit difference, a unit of an inner layer): it names its layer and its seed.
    batch_size : int, optional
        Rows per pass (default: `DEFAULT_ROWS`). Results do not depend on it beyond round-off.

    Returns
    -------
    gradients : ndarray, shape (N, C, H, W)
    scores : ndarray, shape (N,)
        score_c(x) of each row.

    Notes
    -----
    Only input gradients are computed (`param_grads=False`): the model's parameters and their
    gradients are never touched.
    """
    fn = _score_fn(score)
    x = np.asarray(x, dtype=np.float64)
    targets = np.asarray(targets, dtype=np.int64)
    if targets.shape != (len(x),):
        raise ValueError(f"need one target per row: {targets.shape} targets for {len(x)} rows")
    stop = fn.stop(model)
    grads = np.empty_like(x)
    values = np.empty(len(x))
    for s in row_chunks(len(x), batch_size, model):
        out = model.forward(x[s], stop=stop, lean=True)
        values[s], seed = fn(out, targets[s])
        grads[s] = model.backward(seed, param_grads=False)
    return grads, values


# -- inputs and targets -------------------------------------------------------------------------


def resolve_targets(model, x: np.ndarray, target=None, batch_size: int | None = None) -> np.ndarray:
    """One class per row of `x` (N, C, H, W): the predicted class when `target` is None.

    `target` may be an int (for every row) or a sequence of N ints. Returns int64 (N,).
    """
    if target is None:
        return logits(model, x, batch_size).argmax(axis=1)
    return check_targets(model, target, len(x))


def targets_for(model, x, target, score, batch_size) -> np.ndarray:
    """`resolve_targets`, then the score's own checks (e.g. logit-diff's target != against)."""
    targets = resolve_targets(model, x, target, batch_size)
    _score_fn(score).check(model, targets if _score_fn(score).uses_target else None)
    return targets


# -- channel reduction --------------------------------------------------------------------------


def _reduce_none(a: np.ndarray) -> np.ndarray:
    return a


def _reduce_max(a: np.ndarray) -> np.ndarray:
    """max_c |a_c| per pixel: Xplique's Saliency (the infinity norm over channels)."""
    return np.abs(a).max(axis=-3, keepdims=True)


def _reduce_mean(a: np.ndarray) -> np.ndarray:
    """mean_c |a_c| per pixel."""
    return np.abs(a).mean(axis=-3, keepdims=True)


#: reduction name -> f(maps (..., C, H, W)) -> (..., 1, H, W) (unchanged for "none").
#: NOTE: reductions are of magnitudes, so a reduced map is unsigned even for signed IG; the channel
#: axis is kept (length 1) so that every map stays (C', H, W).
REDUCTIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "none": _reduce_none,
    "max": _reduce_max,
    "mean": _reduce_mean,
}


def reduce_channels(maps: np.ndarray, how: str = "none") -> np.ndarray:
    """Reduce (C, H, W) or (N, C, H, W) maps over channels: "none", "max" or "mean" of |maps|."""
    if how not in REDUCTIONS:
        raise ValueError(f"unknown reduction {how!r}; choose from {', '.join(REDUCTIONS)}")
    return REDUCTIONS[how](np.asarray(maps))


# -- vanilla ------------------------------------------------------------------------------------


def saliency(
    model,
    inputs,
    target=None,
    abs: bool = True,
    score: str | Score = "logit",
    batch_size: int | None = None,
    dtype: str | None = None,
) -> np.ndarray:
    """Vanilla gradient saliency |d score_c / d x| (or the signed gradient with `abs=False`).

    Parameters
    ----------
    model : Network
    inputs : ndarray, shape (C, H, W) or (N, C, H, W)
    target : int or sequence of int, optional
        Class to explain per example (default: the predicted class).
    abs : bool
        Return the magnitude of the gradient, as Captum's `Saliency`.
    score : "logit", "probability" or a `scores.Score`
    batch_size : int, optional
    dtype : {None, "float64", "float32"}
        Compute dtype of the network's passes (default float64; float32 is faster, ~1e-6 relative).

    Returns
    -------
    ndarray shaped like `inputs`
    """
    model = compute_model(model, dtype)
    x, single = as_batch(model, inputs)
    targets = targets_for(model, x, target, score, batch_size)
    g, _ = score_gradient(model, x, targets, score, batch_size)
    return unbatch(np.abs(g) if abs else g, single)


# -- SmoothGrad ---------------------------------------------------------------------------------


def noise_sigma(inputs, noise_frac: float) -> np.ndarray:
    """SmoothGrad's sigma per example: noise_frac * (max(x) - min(x)).

    `inputs` (C, H, W) gives a 0-d array; a batch (N, C, H, W) gives shape (N,).
    """
    x = np.asarray(inputs, dtype=np.float64)
    if noise_frac < 0:
        raise ValueError(f"noise_frac must be >= 0, got {noise_frac}")
    axes = tuple(range(x.ndim - 3, x.ndim))
    return noise_frac * (np.maximum.reduce(x, axis=axes) - np.minimum.reduce(x, axis=axes))


def smoothgrad(
    model,
    inputs,
    target=None,
    samples: int = 16,
    noise_frac: float = 0.15,
    sigma=None,
    seed: int = 0,
    abs: bool = True,
    score: str | Score = "logit",
    batch_size: int | None = None,
    dtype: str | None = None,
) -> np.ndarray:
    """SmoothGrad: the mean of |d score_c / d x| over `samples` noisy copies x + eta, eta ~ N(0, sigma^2).

    Parameters
    ----------
    model : Network
    inputs : ndarray, shape (C, H, W) or (N, C, H, W)
    target : int or sequence of int, optional
        Class to explain per example, fixed from the clean input (default: its predicted class).
    samples : int
        Noisy copies per example (>= 1).
    noise_frac : float
        sigma = noise_frac * (max(x) - min(x)) per example, unless `sigma` is given.
    sigma : float or array of shape (N,), optional
        Absolute noise level (as Captum's `stdevs`).
    seed : int
        Seeds the noise. The same standard-normal draws (samples, C, H, W) are shared by every
        example (scaled by its sigma), so a batch gives exactly what each example gives alone.
    abs : bool
        Average |gradient| (default) or the signed gradient.
    score : "logit", "probability" or a `scores.Score`
    batch_size : int, optional
        Rows (example x sample) per pass.
    dtype : {None, "float64", "float32"}
        Compute dtype of the network's passes (see `saliency`).

    Returns
    -------
    ndarray shaped like `inputs`
    """
    if int(samples) < 1:
        raise ValueError(f"samples must be at least 1, got {samples}")
    model = compute_model(model, dtype)
    x, single = as_batch(model, inputs)
    sig = noise_sigma(x, noise_frac) if sigma is None else np.broadcast_to(np.asarray(sigma, float), (len(x),))
    if (sig < 0).any() or not np.isfinite(sig).all():
        raise ValueError(f"sigma must be finite and >= 0, got {sigma}")
    targets = targets_for(model, x, target, score, batch_size)
    rows = smoothgrad_points(x, sig, samples, seed, abs)
    total = sum_over_points_many(model, [rows], targets, score, batch_size)[0][0]
    return unbatch(total / int(samples), single)


def smoothgrad_points(x: np.ndarray, sigma: np.ndarray, samples: int, seed: int, abs: bool = True) -> PointSum:
    """SmoothGrad's rows: x + sigma * eta_k for the seeded draws eta_k (shared by every example), weighed
    by |gradient| (or the gradient); the sum divided by `samples` is SmoothGrad."""
    eta = standard_normal(seed, (int(samples), *x.shape[1:]))

    # NOTE: with sigma 0 the rows are x + 0 * eta == x exactly, so the result is the gradient.
    def points(ex, k):
        return x[ex] + sigma[ex, None, None, None] * eta[k]

    def weigh(g, _k):
        return np.abs(g) if abs else g

    def every():
        return (x[:, None] + sigma[:, None, None, None, None] * eta[None]).reshape(-1, *x.shape[1:])

    return PointSum(points, weigh, int(samples), every, weights=None if abs else np.ones(int(samples)))


@lru_cache(maxsize=8)
def _draws(seed: int, shape: tuple[int, ...]) -> np.ndarray:
    eta = np.random.default_rng(seed).standard_normal(shape)
    eta.flags.writeable = False
    return eta


def standard_normal(seed: int, shape: tuple[int, ...]) -> np.ndarray:
    """The seeded standard-normal draws (read-only; the same seed and shape give the same array, kept for reuse:
    a report's SmoothGrad and the next report's draw them once)."""
    if math.prod(shape) > 1 << 20:
        return np.random.default_rng(seed).standard_normal(shape)
    return _draws(int(seed), tuple(int(s) for s in shape))
