"""The methods an evaluation compares, adapted to one signature over a batch of probes.

Each entry calls the same `saliency_cli.methods` functions with the same defaults as the single-method
commands (`saliency`, `lrp`, `cam`), so that a map here equals that command's map for the same input.
`compute(net, x, targets, options, index)` returns the maps (N, C, H, W) — spatial methods (CAM) give
(N, 1, H, W) at input resolution — and the total each map claims to conserve (or None).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..methods import cam as C
from ..methods import gradients as G
from ..methods import integrated as IG
from ..methods.lrp.composites import COMPOSITES, kind_of
from ..methods.lrp.walk import lrp

GRADIENT, LRP, CAM, CONTROL = "gradient", "lrp", "cam", "control"

#: the LRP rules evaluate knows (lrp:zplus only when asked for by name, see `default_methods`)
ALL_RULES = ("epsilon", "gamma", "alpha-beta", "zplus")


@dataclass(frozen=True)
class MethodOptions:
    """The methods' settings; the defaults are those of the `saliency`, `lrp` and `cam` commands."""

    samples: int = 16
    noise_frac: float = 0.15
    seed: int = 0  # SmoothGrad's noise and the random control
    quadrature: str = "auto"  # see `ig_quadrature`
    ig_steps: int = 16
    fallback: str = "gauss-legendre"
    baseline: str = "zero"
    eps: float = 1e-2
    gamma: float = 0.25
    alpha: float = 2.0
    pool: str = "winner"
    bias: bool = True
    cam_layer: str | None = None
    batch_size: int | None = None

    def ig_quadrature(self, net) -> str:
        """The IG rule used: `auto` is exact IG where the network allows it and has at most EXACT_UNITS
        switching units (its paths then have tens of pieces), else `fallback` with `ig_steps` points."""
        if self.quadrature != "auto":
            return self.quadrature
        if IG.exact_ig_available(net, "logit") is None and switching_units(net) <= EXACT_UNITS:
            return "exact"
        return self.fallback


#: `--quadrature auto` integrates IG exactly on networks with at most this many switching units.
#: NOTE: exact IG costs a gradient row per linear piece of the path, and its walk about two forward-mode rows
#: per piece; on blobs8x8 (656 units) paths have ~60 pieces, on blobs8x8-gap (3,584 units) ~950.
EXACT_UNITS = 2048


def _switches(layer) -> bool:
    """relu, leaky_relu, max pooling: the tool's own layer types, or an imported graph's Relu, LeakyRelu, MaxPool."""
    return layer.type in ("relu", "leaky_relu", "maxpool2d") or getattr(layer, "kind", None) in ("kink", "maxpool")


def switching_units(net) -> int:
    """Units that can change their linear piece along a path: relu / leaky_relu outputs and max-pool windows."""
    return int(sum(np.prod(shape) for layer, shape in zip(net.layers, net.shapes, strict=True) if _switches(layer)))


@dataclass
class Maps:
    maps: np.ndarray  # (N, C, H, W), or (N, 1, H, W) for spatial methods
    totals: np.ndarray | None = None  # what sum(map) claims to equal, per probe


@dataclass(frozen=True)
class EvalMethod:
    name: str
    family: str
    description: str
    compute: Callable[..., Maps]
    applies: Callable[[object, MethodOptions], str | None] = lambda net, o: None
    spatial: bool = False

    @property
    def control(self) -> bool:
        return self.family == CONTROL


def _vanilla(net, x, targets, o, index):
    return Maps(G.saliency(net, x, targets, abs=True, batch_size=o.batch_size))


def _smoothgrad(net, x, targets, o, index):
    sigma = G.noise_sigma(x, o.noise_frac)
    return Maps(G.smoothgrad(net, x, targets, samples=o.samples, sigma=sigma, seed=o.seed, batch_size=o.batch_size))


def _ig(net, x, targets, o, index):
    maps, check = IG.integrated_gradients(
        net,
        x,
        targets,
        baseline=o.baseline,
        steps=o.ig_steps,
        quadrature=o.ig_quadrature(net),
        batch_size=o.batch_size,
        return_completeness=True,
    )
    return Maps(maps, np.asarray(check.delta))


def _lrp(rule: str | None, composite: str | None):
    def compute(net, x, targets, o, index):
        options = {"eps": o.eps, "gamma": o.gamma, "alpha": o.alpha, "bias": o.bias, "pool": o.pool}
        relevance, ledger = lrp(net, x, targets, rule=rule or "epsilon", composite=composite, **options)
        if relevance is None:
            raise ValueError(f"LRP stopped at layer {ledger.stopped.name}: {ledger.reason}")
        return Maps(relevance, ledger.logits[np.arange(len(x)), ledger.target])

    return compute


def _lrp_applies(net, o):
    relevance, ledger = lrp(net, np.zeros((1, *net.input_shape)), 0)
    return None if relevance is not None else f"LRP stops at layer {ledger.stopped.name}: {ledger.reason}"


def _composite_applies(net, o):
    if not any(kind_of(layer) == "conv2d" for layer in net.layers):  # a graph's Conv nodes too
        return "composites differ from single rules only on conv2d layers; the model has none"
    return _lrp_applies(net, o)


def _cam(method: str):
    def compute(net, x, targets, o, index):
        maps = C.class_maps(net, x, targets, method, o.cam_layer).map
        return Maps(C.upsample_bilinear(maps, tuple(net.input_shape[1:]))[:, None])

    return compute


def _cam_applies(method: str):
    def applies(net, o):
        try:
            if method == "cam":
                C.cam_head(net)
            C.resolve_layer(net, o.cam_layer)
        except C.CamError as exc:
            # NOTE: the CAM functions name `cam`'s options, --layer and --method; evaluate's are --cam-layer, --methods.
            message = str(exc).replace("; use --method ", "; use --methods ")
            return "--cam-layer" + message.removeprefix("--layer") if message.startswith("--layer ") else message
        return None

    return applies


def random_map(shape, seed: int, index: int) -> np.ndarray:
    """The `random` control of probe `index`: uniform in [0, 1), seeded by (seed, index) alone."""
    return np.random.default_rng([int(seed), 5, int(index)]).random(shape)


def _random(net, x, targets, o, index):
    # NOTE: independent of the model, the class and the block a probe falls in.
    return Maps(np.stack([random_map(x.shape[1:], o.seed, i) for i in index]))


def _input(net, x, targets, o, index):
    return Maps(np.abs(x))


def _registry() -> dict[str, EvalMethod]:
    entries = [
        EvalMethod("vanilla", GRADIENT, "|d logit / d x| (as `saliency`)", _vanilla),
        EvalMethod("smoothgrad", GRADIENT, "mean |gradient| over --samples noisy copies", _smoothgrad),
        EvalMethod("ig", GRADIENT, "Integrated Gradients (exact where the network allows it)", _ig),
    ]
    for rule in ALL_RULES:
        entries.append(
            EvalMethod(f"lrp:{rule}", LRP, f"LRP, the {rule} rule on every layer", _lrp(rule, None), _lrp_applies)
        )
    for name, preset in COMPOSITES.items():
        entries.append(
            EvalMethod(f"lrp:{name}", LRP, f"LRP composite: {preset.summary}", _lrp(None, name), _composite_applies)
        )
    for method in C.CAM_METHODS:
        entries.append(
            EvalMethod(method, CAM, C.CAM_METHODS[method].description, _cam(method), _cam_applies(method), spatial=True)
        )
    entries.append(EvalMethod("random", CONTROL, "control: a seeded uniform map", _random))
    entries.append(EvalMethod("input", CONTROL, "control: |x|, an edge-detector-like map", _input))
    return {m.name: m for m in entries}


#: method name -> EvalMethod, in display order (controls last)
METHODS: dict[str, EvalMethod] = _registry()


def default_methods(net, options: MethodOptions) -> list[str]:
    """Every method that applies to the model (lrp:zplus only when asked for), controls last."""
    return [name for name, m in METHODS.items() if name != "lrp:zplus" and m.applies(net, options) is None]


def chosen_methods(net, names: tuple[str, ...] | None, options: MethodOptions) -> tuple[str, ...]:
    """The methods an evaluation scores: `names` (None: `default_methods`), each refused where it does not apply
    to `net`, then the controls."""
    from ..errors import UserError

    if names is None:
        return tuple(default_methods(net, options))
    for name in names:
        reason = METHODS[name].applies(net, options)
        if reason is not None:
            raise UserError(f"--methods {name} does not apply to this model: {reason}")
    # NOTE: the controls are always scored, so that every number can be read against chance.
    chosen = [name for name in names if not METHODS[name].control]
    return (*chosen, *(name for name, m in METHODS.items() if m.control))


def ig_rule_note(net, options: MethodOptions, steps_given: bool) -> str | None:
    """Check IG's settings on `net`: `exact` where exact IG cannot apply, and --ig-steps where `auto` chose exact
    IG, are refused. Returns the note saying why `auto` chose a quadrature rule instead of exact IG, else None."""
    from ..errors import UserError

    reason = IG.exact_ig_available(net, "logit")
    if options.quadrature == "exact" and reason is not None:
        raise UserError(reason)
    used = options.ig_quadrature(net)
    if options.quadrature == "auto" and used == "exact" and steps_given:
        raise UserError("--ig-steps sets a quadrature rule's steps, and IG is exact on this model: add --quadrature")
    if options.quadrature != "auto" or used == "exact":
        return None
    why = (
        reason or f"the model has {switching_units(net)} relu/pooling units (> {EXACT_UNITS}): its exact paths are long"
    )
    return f"note: {why}; IG uses --quadrature {used} --ig-steps {options.ig_steps} (--quadrature exact forces it)"
