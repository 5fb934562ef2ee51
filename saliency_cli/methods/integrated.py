"""Integrated Gradients: quadrature rules, baselines, the completeness check, exact IG and SmoothGrad over IG.

IG's path points are rows of one batch through `gradients.sum_over_points_many` (chunked by `batch_size`).
With `exact=True` (and a piecewise-linear network and score) the path integral is computed exactly,
piece by piece, by `exact_ig.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .batching import as_batch, compute_model, unbatch
from .gradients import noise_sigma, scores, standard_normal, targets_for
from .pointsums import PointSum, sum_over_points_many
from .scores import Score, as_score

# -- Integrated Gradients -----------------------------------------------------------------------


def _right(k: int):
    """alpha_j = j / K, j = 1..K: the reference's rule; exact for constants, error O(1/K)."""
    return np.arange(1, k + 1) / k, np.full(k, 1.0 / k)


def _left(k: int):
    """alpha_j = (j - 1) / K, j = 1..K."""
    return np.arange(0, k) / k, np.full(k, 1.0 / k)


def _middle(k: int):
    """alpha_j = (j - 1/2) / K: exact for straight lines, error O(1/K^2) on smooth paths."""
    return (np.arange(k) + 0.5) / k, np.full(k, 1.0 / k)


def _trapezoid(k: int):
    """K intervals, K + 1 points j / K (j = 0..K), end weights 1/(2K): weights sum to 1."""
    w = np.full(k + 1, 1.0 / k)
    w[[0, -1]] = 0.5 / k
    return np.arange(k + 1) / k, w


def _gauss_legendre(k: int):
    """K Gauss-Legendre nodes mapped to [0, 1]: exact for polynomials of degree 2K - 1."""
    from numpy.polynomial.legendre import leggauss

    t, w = leggauss(k)
    return (t + 1.0) / 2.0, w / w.sum()  # NOTE: w sums to 2 up to rounding; normalise exactly to 1


MAX_GAUSS_LEGENDRE = 1000

#: quadrature name -> K -> (alphas (P,), weights (P,)) with sum(weights) == 1 for every K >= 1.
QUADRATURES: dict[str, Callable[[int], tuple[np.ndarray, np.ndarray]]] = {
    "right": _right,
    "left": _left,
    "middle": _middle,
    "trapezoid": _trapezoid,
    "gauss-legendre": _gauss_legendre,
}


def quadrature_rule(rule: str, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes alpha in [0, 1] and weights (summing to 1) of a rule with `steps` steps.

    Returns
    -------
    alphas, weights : ndarray, shape (P,)
        P = steps, except P = steps + 1 for the trapezoid rule (steps intervals).
    """
    check_quadrature(rule, steps)
    return QUADRATURES[rule](int(steps))


def check_quadrature(rule: str, steps: int) -> None:
    """Refuse an unknown rule or a step count it cannot take (cheap: callers check before any work)."""
    if rule not in QUADRATURES:
        raise ValueError(f"unknown quadrature {rule!r}; choose from {', '.join(QUADRATURES)}")
    if int(steps) < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    if rule == "gauss-legendre" and int(steps) > MAX_GAUSS_LEGENDRE:
        from ..errors import UserError

        # NOTE: the nodes come from an eigenvalue problem of size K (O(K^3)); past 1000 nodes it takes
        # seconds to minutes, and such K gain nothing on a piecewise-linear path: use "exact".
        raise UserError(f"gauss-legendre takes at most {MAX_GAUSS_LEGENDRE} steps (got {steps}); use exact or right")


def _zero_baseline(x: np.ndarray) -> np.ndarray:
    return np.zeros_like(x)


def _mean_baseline(x: np.ndarray) -> np.ndarray:
    """Each channel of each example filled with that channel's mean: the input with its structure removed."""
    return np.broadcast_to(x.mean(axis=(2, 3), keepdims=True), x.shape).copy()


#: baseline name -> f(x (N, C, H, W)) -> baseline (N, C, H, W).
BASELINES: dict[str, Callable[[np.ndarray], np.ndarray]] = {"zero": _zero_baseline, "mean": _mean_baseline}


def make_baseline(x: np.ndarray, baseline=None) -> np.ndarray:
    """The baseline batch for `x` (N, C, H, W): None/'zero', 'mean', or an array broadcastable to x."""
    if baseline is None:
        return _zero_baseline(x)
    if isinstance(baseline, str):
        if baseline not in BASELINES:
            raise ValueError(f"unknown baseline {baseline!r}; choose from {', '.join(BASELINES)} or pass an array")
        return BASELINES[baseline](x)
    b = np.asarray(baseline, dtype=np.float64)
    try:
        return np.broadcast_to(b, x.shape).copy()
    except ValueError:
        raise ValueError(f"baseline of shape {b.shape} does not fit inputs {x.shape}") from None


@dataclass(frozen=True)
class Completeness:
    """The completeness check of IG, one value per example (0-d arrays for a single input).

    sum(IG) should equal delta = score(x) - score(x'); gap_rel is NaN where delta is 0.
    """

    sum: np.ndarray
    score_input: np.ndarray
    score_baseline: np.ndarray
    delta: np.ndarray
    gap_abs: np.ndarray
    gap_rel: np.ndarray
    pieces: np.ndarray | None = None  # exact IG only: linear pieces along each path (all copies for smooth IG)
    score_clean: np.ndarray | None = None  # smooth IG only: score(x) of the clean input


def integrated_gradients(
    model,
    inputs,
    target=None,
    baseline=None,
    steps: int = 50,
    quadrature: str = "right",
    score: str | Score = "logit",
    batch_size: int | None = None,
    return_completeness: bool = False,
    exact: bool = False,
    dtype: str | None = None,
    max_pieces: int | None = None,
):
    """Integrated Gradients: (x - x') * sum_k w_k * grad(x' + alpha_k (x - x')).

    With `exact=True` (or `quadrature="exact"`) the path integral is computed exactly instead, on
    networks that are piecewise linear up to the logits: the path is split where any unit changes
    its linear piece and the (constant) gradient of each piece is integrated (see `exact_ig`).

    Parameters
    ----------
    model : Network
    inputs : ndarray, shape (C, H, W) or (N, C, H, W)
    target : int or sequence of int, optional
        Class to explain per example (default: the predicted class of the input).
    baseline : {"zero", "mean"} or ndarray, optional
        x': zeros (default), each channel's mean, or an array broadcastable to `inputs`.
    steps : int
        K >= 1; see `quadrature` for how many gradient evaluations that means.
    quadrature : {"right", "left", "middle", "trapezoid", "gauss-legendre", "exact"}
        How alpha_k and w_k are placed on [0, 1]; the weights always sum to 1. "exact" = `exact=True`.
    score : "logit", "probability" or a `scores.Score`
    batch_size : int, optional
        Rows (example x path point) per pass.
    return_completeness : bool
        Also return a `Completeness` with the figures per example.
    exact : bool
        Integrate exactly (`steps` is then unused); needs a linear score (not "probability") and
        a piecewise-linear network up to the score's layer, else raises UserError naming the problem.
    dtype : {None, "float64", "float32"}
        Compute dtype of the network's passes (see `gradients.saliency`); the completeness figures are
        those of the float32 network then. Exact IG computes in float64 only (its breakpoints need it).
    max_pieces : int, optional
        Exact IG only: most linear pieces per path (default `exact_ig.MAX_PIECES`); more raise
        `exact_ig.TooManyPieces` after at most that many steps of the walk.

    Returns
    -------
    ndarray shaped like `inputs`, or (attributions, Completeness) with `return_completeness`
    """
    exact = exact or quadrature == "exact"
    model = compute_model(model, dtype)
    if exact and model.dtype != np.float64:
        raise ValueError("exact Integrated Gradients computes in float64 only; use a quadrature for float32")
    if not exact:
        alphas, weights = quadrature_rule(quadrature, steps)
    x, single = as_batch(model, inputs)
    base = make_baseline(x, baseline)
    targets = targets_for(model, x, target, score, batch_size)
    if exact:
        attributions, pieces = _exact_ig(model, x, base, targets, score, batch_size, max_pieces)
        return _finish_ig(model, x, base, targets, attributions, score, batch_size, return_completeness, single, pieces)

    avg_grad = sum_over_points_many(model, [path_points(x, base, alphas, weights)], targets, score, batch_size)[0][0]
    attributions = (x - base) * avg_grad
    return _finish_ig(model, x, base, targets, attributions, score, batch_size, return_completeness, single)


def path_points(x: np.ndarray, base: np.ndarray, alphas: np.ndarray, weights: np.ndarray) -> PointSum:
    """IG's rows: the path points (1 - a_k) x' + a_k x weighed by w_k; (x - x') times the sum is IG."""

    # NOTE: the path is (1 - a) x' + a x rather than x' + a (x - x') so that a = 1 is exactly x and
    # a = 0 exactly x' in floating point (one right-rule step is then exactly grad(x) * (x - x')).
    def points(ex, k):
        a = alphas[k][:, None, None, None]
        return (1.0 - a) * base[ex] + a * x[ex]

    def weigh(g, k):  # g: gradients at the input, or at a later layer's (see PointSum.weights)
        return weights[k].reshape(-1, *(1,) * (g.ndim - 1)) * g

    def every():
        a = alphas[None, :, None, None, None]
        return ((1.0 - a) * base[:, None] + a * x[:, None]).reshape(-1, *x.shape[1:])

    return PointSum(points, weigh, len(alphas), every, weights=weights, ends=(alphas, base, x))


def exact_ig_available(model, score: str | Score = "logit") -> str | None:
    """None when exact IG applies to `model` and `score`; otherwise the reason it does not.

    Exact IG needs a score linear in its layer's output (a logit, a logit difference, a unit) and
    piecewise-linear layers up to that layer.
    """
    from ..errors import UserError
    from .exact_ig import check_exact

    fn = as_score(score)
    if not fn.linear:
        return (
            f"exact Integrated Gradients needs a piecewise-linear score, but the {fn.name} score passes "
            "through a softmax, which is not piecewise linear; explain the logit (--score logit)"
        )
    try:
        check_exact(model, fn.stop(model))
    except UserError as exc:
        return str(exc)
    return None


def score_vector(model, score: str | Score, target: int) -> np.ndarray:
    """The constant seed v of a linear score: score(x) = <v, output of layer score.stop(model)>."""
    fn = as_score(score)
    out = np.zeros((1, *model.shapes[fn.stop(model)]))
    return fn(out, np.array([target], dtype=np.int64))[1][0]


def _exact_ig(model, x, base, targets, score, batch_size, max_pieces=None):
    """Exact IG of every example: the paths are walked side by side and all per-piece gradients batched."""
    from ..errors import UserError
    from .exact_ig import MAX_PIECES, exact_integrated_gradients_many

    if (reason := exact_ig_available(model, score)) is not None:
        raise UserError(reason)
    stop = as_score(score).stop(model)
    # NOTE: each path has its own breakpoints: the walk steps segments of every unfinished path in each pass;
    # only the per-piece gradients are plain rows.
    # NOTE: a set, not np.unique, which imports numpy.ma (~8 ms of start-up)
    vectors = {c: score_vector(model, score, c) for c in set(targets.tolist())}
    v = np.stack([vectors[int(t)] for t in targets]) if len(targets) else np.zeros((0, *model.shapes[stop]))
    cap = MAX_PIECES if max_pieces is None else int(max_pieces)
    return exact_integrated_gradients_many(model, x, base, v, stop, batch_size=batch_size, max_pieces=cap)


def _finish_ig(model, x, base, targets, attributions, score, batch_size, return_completeness, single, pieces=None):
    if not return_completeness:
        return unbatch(attributions, single)
    both = scores(model, np.concatenate([x, base]), np.concatenate([targets, targets]), score, batch_size)
    check = completeness(attributions, both[: len(x)], both[len(x) :], pieces)
    return unbatch(attributions, single), Completeness(
        *(None if f is None else unbatch(f, single) for f in vars(check).values())
    )


def completeness(attributions: np.ndarray, s_in: np.ndarray, s_base: np.ndarray, pieces=None) -> Completeness:
    """IG's completeness figures of a batch of maps (N, C, H, W) given score(x) and score(x') (N,)."""
    total = attributions.reshape(len(attributions), -1).sum(axis=1)
    delta = s_in - s_base
    gap = np.abs(total - delta)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(delta != 0, gap / np.abs(delta), np.nan)
    return Completeness(total, s_in, s_base, delta, gap, rel, pieces)


# -- SmoothGrad over Integrated Gradients -------------------------------------------------------


def smooth_integrated_gradients(
    model,
    inputs,
    target=None,
    smooth: int = 16,
    noise_frac: float = 0.15,
    sigma=None,
    seed: int = 0,
    baseline=None,
    steps: int = 50,
    quadrature: str = "right",
    score: str | Score = "logit",
    batch_size: int | None = None,
    return_completeness: bool = False,
    exact: bool = False,
    dtype: str | None = None,
    max_pieces: int | None = None,
):
    """SmoothGrad over IG: the mean of the IG maps of `smooth` noisy copies x + eta (baseline fixed).

    The noise is SmoothGrad's (see `smoothgrad`: the same seeded standard-normal draws for every
    example, scaled by its sigma), the target and the baseline come from the clean input, and all
    copies x their path points go through as rows of one chunked batch.

    Parameters
    ----------
    smooth : int
        Noisy copies per example (>= 1).
    noise_frac, sigma, seed
        As in `smoothgrad`.
    Other parameters as in `integrated_gradients`.

    Returns
    -------
    ndarray shaped like `inputs`, or (attributions, Completeness) with `return_completeness`.

    Notes
    -----
    Each copy's IG is complete for its own input: sum IG_k = score(x_k) - score(x'). So the mean map
    sums to mean_k score(x_k) - score(x'), *not* to score(x) - score(x'): the Completeness returned
    has `score_input` = mean_k score(x_k) (the clean score is `score_clean`), and its gap is the mean
    of the per-copy signed gaps, i.e. the integration error alone. With sigma 0 this is exactly IG.
    """
    if int(smooth) < 1:
        raise ValueError(f"smooth must be at least 1, got {smooth}")
    model = compute_model(model, dtype)
    k = int(smooth)
    x, single = as_batch(model, inputs)
    sig = noise_sigma(x, noise_frac) if sigma is None else np.broadcast_to(np.asarray(sigma, float), (len(x),))
    if (sig < 0).any() or not np.isfinite(sig).all():
        raise ValueError(f"sigma must be finite and >= 0, got {sigma}")
    targets = targets_for(model, x, target, score, batch_size)
    base = make_baseline(x, baseline)
    eta = standard_normal(seed, (k, *x.shape[1:]))
    copies = (x[:, None] + sig[:, None, None, None, None] * eta[None]).reshape(-1, *x.shape[1:])
    ig, c = integrated_gradients(
        model,
        copies,
        np.repeat(targets, k),
        baseline=np.repeat(base, k, axis=0),
        steps=steps,
        quadrature=quadrature,
        score=score,
        batch_size=batch_size,
        return_completeness=True,
        exact=exact,
        max_pieces=max_pieces,
    )
    attributions = ig.reshape(len(x), k, *x.shape[1:]).mean(axis=1)
    if not return_completeness:
        return unbatch(attributions, single)

    def per_example(a):
        return a.reshape(len(x), k).mean(axis=1)

    s_in, s_base = per_example(c.score_input), c.score_baseline[::k]
    total = attributions.reshape(len(x), -1).sum(axis=1)
    delta = s_in - s_base
    gap = np.abs(total - delta)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(delta != 0, gap / np.abs(delta), np.nan)
    pieces = None if c.pieces is None else c.pieces.reshape(len(x), k).sum(axis=1)
    clean = scores(model, x, targets, score, batch_size)
    figures = [total, s_in, s_base, delta, gap, rel, pieces, clean]
    return unbatch(attributions, single), Completeness(*(None if f is None else unbatch(f, single) for f in figures))
