"""Sanity checks: model-parameter randomisation (MPRT), random-logit and conservation.

MPRT follows Adebayo et al. (2018) with the fixes of Hedström et al. (2023): layers are re-initialised
from the output down, each with weights (and biases) drawn at the same scale as the trained ones,
seeded per layer so that cascading and independent randomisation draw the same weights; the score is
a rank correlation, and the original map's similarity to itself is never part of an average.
"""

from __future__ import annotations

import copy

import numpy as np

from .ranks import spearman

CASCADING, INDEPENDENT = "cascading", "independent"
MPRT_ORDERS = (CASCADING, INDEPENDENT)


def learned(layer) -> tuple[str, ...]:
    """The parameters MPRT re-draws: every one of a layer of the tool's own; of an imported graph's node, the
    learned ones (Conv/Gemm/MatMul weights and biases, BatchNorm's scale and shift; not its running statistics,
    not the constants of input normalisation)."""
    keys = getattr(layer, "learned", None)
    return tuple(sorted(layer.params)) if keys is None else tuple(sorted(k for k in keys if k in layer.params))


def parameter_layers(net) -> list[int]:
    """Indices of the layers with parameters, from the output layer down to the input (on an imported graph:
    reverse topological order)."""
    return [i for i, layer in reversed(list(enumerate(net.layers))) if learned(layer)]


def random_parameters(net, index: int, seed: int, draw: int = 0) -> dict[str, np.ndarray]:
    """Fresh parameters for layer `index` in draw `draw`: normal, with each tensor's own trained standard
    deviation; seeded by (seed, draw, layer) alone. Parameters that are not learned are kept."""
    rng = np.random.default_rng([int(seed), 3, int(draw), int(index)])
    out = dict(net.layers[index].params)
    for key in learned(net.layers[index]):
        value = net.layers[index].params[key]
        out[key] = rng.normal(0.0, float(np.std(value)), size=value.shape)
    return out


def randomised(net, indices, seed: int, draw: int = 0):
    """A copy of `net` with the layers in `indices` re-initialised (the original is not touched)."""
    fresh = copy.copy(net)
    fresh.layers = [copy.copy(layer) for layer in net.layers]
    fresh.inputs, fresh.outputs, fresh.output_grads = [], [], {}
    fresh.__dict__.pop("_copies", None)
    for i in indices:
        fresh.layers[i].params = random_parameters(net, i, seed, draw)
        fresh.layers[i].grads = {}
        if hasattr(fresh.layers[i], "learned"):
            fresh.layers[i].check()  # NOTE: a graph node derives state from its parameters (Gemm's B')
    return fresh


def mprt_models(net, order: str = CASCADING, seed: int = 0, draw: int = 0) -> list[tuple[str, object]]:
    """(label, randomised copy) per step of draw `draw`: cascading re-initialises the top k layers at
    step k, independent one layer at a time; labelled by the layer re-initialised last."""
    layers = parameter_layers(net)
    if order not in MPRT_ORDERS:
        raise ValueError(f"unknown MPRT order {order!r}; choose from {', '.join(MPRT_ORDERS)}")
    steps = [layers[: k + 1] if order == CASCADING else [i] for k, i in enumerate(layers)]
    return [(net.layers[s[-1]].name, randomised(net, s, seed, draw)) for s in steps]


def mprt_draws(net, order: str, seed: int, draws: int) -> list[list[tuple[str, object]]]:
    """`mprt_models` for draws 0 .. draws - 1."""
    return [mprt_models(net, order, seed, d) for d in range(draws)]


def spearman_abs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Spearman correlation (N,) of the absolute maps |a| and |b| (N, P): the judged sanity score."""
    return spearman(np.abs(a), np.abs(b))


def mprt_summary(correlations: np.ndarray, order: str) -> np.ndarray:
    """Per-probe MPRT score from the per-step correlations (N, L): after the last cascading step, or
    the mean over the independent steps (never including the original map's self-similarity)."""
    return correlations[:, -1] if order == CASCADING else correlations.mean(axis=1)


def random_logit(maps: np.ndarray, other_maps: np.ndarray, signed: bool = False) -> np.ndarray:
    """Spearman correlation (N,) of each absolute map (N, P) with the absolute map of another class
    (`signed`: of the maps themselves)."""
    return spearman(maps, other_maps) if signed else spearman_abs(maps, other_maps)


def other_classes(targets: np.ndarray, offsets: np.ndarray, classes: int) -> np.ndarray:
    """A class other than each target: target + 1 + offset (mod K), offsets uniform in [0, K - 2]."""
    return (targets + 1 + offsets % max(classes - 1, 1)) % classes


def conservation(maps: np.ndarray, totals: np.ndarray | None) -> np.ndarray:
    """|sum(map) - claimed total| / |claimed total| per probe; NaN (n/a) without a claim or a zero total."""
    n = len(maps)
    if totals is None:
        return np.full(n, np.nan)
    sums = maps.reshape(n, -1).sum(axis=1)
    totals = np.asarray(totals, dtype=np.float64)
    return np.divide(np.abs(sums - totals), np.abs(totals), out=np.full(n, np.nan), where=totals != 0)
