"""Run an evaluation: every method's maps and every metric, per probe, batched, over worker processes.

Probes are processed in fixed blocks of `BLOCK` probes (whatever the number of workers), each block's
probes, perturbation steps and randomised models going through the network as batches chunked by
`batch_size`. Every random draw is keyed by the seed and the probe's index, never by the block or the
worker, so the per-probe values are identical for any `workers`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from ..errors import UserError
from ..methods.gradients import logits
from ..nn import ops
from . import faithfulness as F
from . import localisation as L
from . import sanity as S
from .methods import METHODS, MethodOptions
from .metrics import FAITHFULNESS, METRICS
from .probes import NO_MASKS, ProbeSet
from .substrates import SUBSTRATES

#: probes per block: the unit of batching and of work handed to a worker (results do not depend on it)
BLOCK = 100

_LOCALISATION = {
    "pointing-game": L.pointing_game,
    "mass-accuracy": L.mass_accuracy,
    "rank-accuracy": L.rank_accuracy,
    "auc": L.auc,
}


#: the sanity metrics computed under every randomisation draw (their per-probe value is the mean over draws)
DRAWN = ("mprt", "mprt-signed")


@dataclass(frozen=True)
class Settings:
    methods: tuple[str, ...]
    metrics: tuple[str, ...] = tuple(METRICS)
    steps: int = 16
    substrate: str = "zero"
    mprt_order: str = S.CASCADING
    seed: int = 0
    resamples: int = 1000
    include_wrong: bool = False
    workers: int = 1
    options: MethodOptions = field(default_factory=MethodOptions)
    draws: int = 3
    insertion_substrate: str = "blur"
    mask_level: str = L.PIXEL

    @property
    def mprt(self) -> bool:
        return any(m in self.metrics for m in DRAWN)


@dataclass
class MethodResult:
    """One method's per-probe results: metric -> (N,) values (NaN: n/a), curves, MPRT correlations."""

    values: dict[str, np.ndarray]
    curves: F.Curves | None = None
    mprt: np.ndarray | None = None  # (K, N, L) Spearman of the absolute maps per draw and randomisation step
    mprt_signed: np.ndarray | None = None  # (K, N, L) the same of the signed maps
    no_positive: int = 0  # probes whose (localisation) map has no positive relevance
    lerf: np.ndarray | None = None  # (N,) area under the LeRF curve (decides whether abpc adds to deletion)
    per_draw: dict[str, np.ndarray] = field(default_factory=dict)  # DRAWN metric -> (K, N) value per draw


@dataclass
class Evaluation:
    settings: Settings
    probes: ProbeSet
    targets: np.ndarray  # (N,) explained class per probe
    predicted: np.ndarray  # (N,)
    wrong: np.ndarray  # (N,) bool: label known and not predicted
    methods: dict[str, MethodResult]
    mprt_layers: list[str]
    others: np.ndarray | None = None  # (N,) the class random-logit compares with
    substrate_probability: dict[str, float] = field(default_factory=dict)  # mean p(target) of each substrate


def _needs(settings: Settings, family: str) -> bool:
    return any(METRICS[m].family == family for m in settings.metrics)


def _check_finite(maps: np.ndarray, method: str, index: np.ndarray) -> None:
    bad = ~np.isfinite(maps.reshape(len(maps), -1)).all(axis=1)
    if bad.any():
        raise UserError(f"{method}: the map of probe {int(index[np.argmax(bad)])} has NaN or infinite values")


def _tiebreak(seed: int, index: np.ndarray, positions: int) -> np.ndarray:
    return np.stack([np.random.default_rng([int(seed), 6, int(i)]).random(positions) for i in index])


def _sanity(method, net, x, flat, targets, others, o, index, settings, models, name, values, result) -> None:
    n = len(x)
    if {"random-logit", "random-logit-signed"} & set(settings.metrics):
        other = method.compute(net, x, others, o, index).maps
        _check_finite(other, name, index)
        other = other.reshape(n, -1)
        values["random-logit"] = S.random_logit(flat, other)
        values["random-logit-signed"] = S.random_logit(flat, other, signed=True)
    if settings.mprt:
        layers = len(models[0]) if models else 0
        result.mprt = np.zeros((len(models), n, layers))
        result.mprt_signed = np.zeros((len(models), n, layers))
        for d, draw in enumerate(models):
            for step, (_, model) in enumerate(draw):
                again = method.compute(model, x, targets, o, index).maps.reshape(n, -1)
                _check_finite(again, f"{name} (randomised model)", index)
                result.mprt[d, :, step] = S.spearman_abs(flat, again)
                result.mprt_signed[d, :, step] = S.spearman(flat, again)
        for metric, corr in (("mprt", result.mprt), ("mprt-signed", result.mprt_signed)):
            if layers:
                result.per_draw[metric] = np.stack([S.mprt_summary(c, settings.mprt_order) for c in corr])
            else:
                result.per_draw[metric] = np.full((len(models), n), np.nan)
            values[metric] = result.per_draw[metric].mean(axis=0)


def _block(net, probes: ProbeSet, targets, others, index, settings: Settings, models):
    """Every method's per-probe results for one block of probes (`index`: their global indices)."""
    o = settings.options
    x, n = probes.x, len(probes)
    sub = canvas = ends = None
    if _needs(settings, FAITHFULNESS):
        sub = SUBSTRATES[settings.substrate](x)
        same = settings.insertion_substrate == settings.substrate
        canvas = sub if same else SUBSTRATES[settings.insertion_substrate](x)
        ends = F.endpoint_scores(net, x, sub, targets, o.batch_size, canvas)
    out: dict[str, MethodResult] = {}
    for name in settings.methods:
        method = METHODS[name]
        got = method.compute(net, x, targets, o, index)
        maps = got.maps
        _check_finite(maps, name, index)
        flat = maps.reshape(n, -1)
        values: dict[str, np.ndarray] = {}
        lmaps = flat
        if any(metric in _LOCALISATION for metric in settings.metrics):
            if probes.masks is None:
                raise UserError(NO_MASKS)
            lmaps, lmasks = L.localisation_inputs(maps, probes.masks, settings.mask_level)
            for metric in settings.metrics:
                if metric in _LOCALISATION:
                    values[metric] = _LOCALISATION[metric](lmaps, lmasks)
        result = MethodResult(values, no_positive=int((L.positive_mass(lmaps) <= 0).sum()))
        if sub is not None:
            keys = _tiebreak(settings.seed, index, flat.shape[1])
            result.curves = F.perturbation_curves(
                net, x, sub, maps, targets, settings.steps, keys, ends, o.batch_size, canvas
            )
            scores = F.faithfulness_scores(result.curves)
            result.lerf = scores.pop("lerf")
            values.update(scores)
        _sanity(method, net, x, flat, targets, others, o, index, settings, models, name, values, result)
        if "conservation" in settings.metrics:
            values["conservation"] = S.conservation(maps, got.totals)
        result.values = {m: values[m] for m in settings.metrics if m in values}
        out[name] = result
    return out


def _models(net, settings: Settings) -> list:
    return S.mprt_draws(net, settings.mprt_order, settings.seed, settings.draws) if settings.mprt else []


def _job(net, probes, targets, others, index, settings):
    return _block(net, probes, targets, others, index, settings, _models(net, settings))


def _concat(parts: list[dict[str, MethodResult]], settings: Settings) -> dict[str, MethodResult]:
    out = {}
    for name in settings.methods:
        rs = [p[name] for p in parts]
        values = {m: np.concatenate([r.values[m] for r in rs]) for m in rs[0].values}
        curves = None
        if rs[0].curves is not None:
            curves = F.Curves(
                {k: np.concatenate([r.curves.probability[k] for r in rs]) for k in F.CURVES},
                {k: np.concatenate([r.curves.logit[k] for r in rs]) for k in F.CURVES},
            )
        joined = MethodResult(values, curves, no_positive=sum(r.no_positive for r in rs))
        if rs[0].mprt is not None:
            joined.mprt = np.concatenate([r.mprt for r in rs], axis=1)
            joined.mprt_signed = np.concatenate([r.mprt_signed for r in rs], axis=1)
            joined.per_draw = {m: np.concatenate([r.per_draw[m] for r in rs], axis=1) for m in rs[0].per_draw}
        if rs[0].lerf is not None:
            joined.lerf = np.concatenate([r.lerf for r in rs])
        out[name] = joined
    return out


def substrate_probabilities(net, x: np.ndarray, targets: np.ndarray, batch_size=None) -> dict[str, float]:
    """Each substrate's mean probability of the explained class over the probes: above
    USELESS_PROBABILITY a deletion or insertion curve starting or ending there cannot show anything."""
    out = {}
    for name, make in SUBSTRATES.items():
        p = ops.softmax(logits(net, make(x), batch_size))
        out[name] = float(p[np.arange(len(x)), targets].mean())
    return out


def evaluate(net, probes: ProbeSet, settings: Settings, progress=None, blocks=None) -> Evaluation:
    """Evaluate `settings.methods` on `probes` with `settings.metrics`.

    `progress(units)` is called as work completes; the total is `work_units(probes, settings)`. `blocks` (a
    `sharing.Blocks`) says where the blocks run and keeps them; by default `settings.workers` processes.
    """
    unknown = [m for m in settings.methods if m not in METHODS] + [m for m in settings.metrics if m not in METRICS]
    if unknown:
        raise ValueError(f"unknown method(s) or metric(s): {', '.join(unknown)}")
    o = settings.options
    z = logits(net, probes.x, o.batch_size)
    if not np.isfinite(z).all():
        bad = int(np.argmax(~np.isfinite(z).all(axis=1)))
        raise UserError(f"probe {bad}: the network's output overflows float64")
    predicted = z.argmax(axis=1)
    k = net.num_classes
    if probes.labels is not None:
        bad = (probes.labels < 0) | (probes.labels >= k)
        if bad.any():
            raise UserError(f"label of probe {int(np.argmax(bad))} is out of range: the model has classes 0..{k - 1}")
    targets = predicted if probes.labels is None else probes.labels.astype(np.int64)
    wrong = np.zeros(len(probes), bool) if probes.labels is None else targets != predicted
    offsets = np.random.default_rng([int(settings.seed), 4]).integers(0, max(k - 1, 1), size=len(probes))
    others = S.other_classes(targets, offsets, k)
    blocks_of = [slice(s, min(s + BLOCK, len(probes))) for s in range(0, len(probes), BLOCK)]
    # NOTE: a job is everything that determines its block (a checkpoint keys blocks by it): the worker count is not.
    fixed = replace(settings, workers=1)
    jobs = [(probes.take(b), targets[b], others[b], np.arange(b.start, b.stop), fixed) for b in blocks_of]
    if blocks is None:
        from ..sharing import Blocks
        from ..sharing.executors import Processes, Serial

        blocks = Blocks(Serial() if settings.workers <= 1 or len(jobs) == 1 else Processes(settings.workers))
    methods = len(settings.methods)
    parts = blocks.map(_job, net, jobs, lambda i: progress(methods) if progress else None)
    layers = [label for label, _ in S.mprt_models(net, settings.mprt_order, settings.seed)]
    chances = substrate_probabilities(net, probes.x, targets, o.batch_size) if _needs(settings, FAITHFULNESS) else {}
    results = _concat(parts, settings)
    return Evaluation(settings, probes, targets, predicted, wrong, results, layers, others, chances)


def work_units(probes: ProbeSet, settings: Settings) -> int:
    """How many progress units an evaluation reports: one per method per block."""
    return len(settings.methods) * -(-len(probes) // BLOCK)
