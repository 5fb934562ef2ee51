"""What each attribution method costs, measured: time per probe, ratio to one forward pass, peak memory.

The reference notebook estimates these (a backward pass ~ 2 forward passes, so a gradient costs ~3
forward-equivalents, SmoothGrad N times that, IG S times that). Here every method is run on the
model: time is the best of a few repeats (`time.perf_counter`), memory is the peak of Python and
NumPy allocations above what was allocated before the call (`tracemalloc`, in a separate run so
that tracing does not slow the timed runs). Nothing here prints.
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..nn.layers import LAYER_TYPES
from ..nn.network import Network
from .probe import MODEL_KEYS

#: A backward pass costs about two forward passes (one product for d/dx, one for d/dW; here only
#: d/dx is computed, so the rule of thumb is an upper bound on this engine).
BACKWARD = 2.0


@dataclass(frozen=True)
class CostMethod:
    title: str
    #: (model, x (C, H, W), target, steps, samples) -> forward-equivalents in theory, and how that count is made
    theory: Callable[..., tuple[float, str]]
    #: (model, x (C, H, W), target, steps, samples) -> a zero-argument call that runs the method
    make: Callable[..., Callable[[], object]]
    #: model -> None when the method applies, else why it does not
    applies: Callable[[Network], str | None] = lambda model: None


def _gradient_methods():
    from ..methods.gradients import saliency, smoothgrad
    from ..methods.integrated import integrated_gradients

    return saliency, smoothgrad, integrated_gradients


def _vanilla(model, x, target, steps, samples):
    saliency = _gradient_methods()[0]
    return lambda: saliency(model, x, target=target)


def _smoothgrad(model, x, target, steps, samples):
    smoothgrad = _gradient_methods()[1]
    return lambda: smoothgrad(model, x, target=target, samples=samples)


def _ig(model, x, target, steps, samples):
    integrated_gradients = _gradient_methods()[2]
    return lambda: integrated_gradients(model, x, target=target, steps=steps)


def _exact_ig(model, x, target, steps, samples):
    integrated_gradients = _gradient_methods()[2]
    return lambda: integrated_gradients(model, x, target=target, exact=True)


def _exact_ig_theory(model, x, target, steps, samples) -> tuple[float, str]:
    """A gradient (forward + backward) per linear piece of the path, the pieces counted by walking it."""
    from ..methods.exact_ig import breakpoints
    from ..methods.integrated import make_baseline
    from ..methods.scores import as_score

    base = make_baseline(x[None], None)[0]
    pieces = len(breakpoints(model, x, base, as_score("logit").stop(model))) - 1
    what = f"{pieces} linear piece" + ("" if pieces == 1 else "s")
    return (1 + BACKWARD) * pieces, f"{what} x (forward + backward), plus the walk finding them"


def _exact_ig_applies(model) -> str | None:
    from ..methods.integrated import exact_ig_available

    return exact_ig_available(model)


def _cam_method(name):
    def make(model, x, target, steps, samples):
        from ..methods.cam import class_maps

        return lambda: class_maps(model, x, target, name)

    return make


def _cam_applies(model) -> str | None:
    from ..methods.cam import CamError, cam_head

    try:
        cam_head(model)
    except CamError as exc:
        return str(exc).split(";")[0]
    return None


def _gradcam_applies(model) -> str | None:
    from ..methods.cam import CamError, default_layer

    try:
        default_layer(model)
    except CamError as exc:
        return str(exc).split(";")[0]
    return None


def _lrp(model, x, target, steps, samples):
    from ..methods.lrp.walk import lrp

    return lambda: lrp(model, x, target=target)


def _lrp_applies(model) -> str | None:
    """Runs LRP once: None when its walk reaches the input, else where it stops."""
    from ..methods.lrp.walk import lrp

    x = np.zeros((1, *model.input_shape))
    relevance, ledger = lrp(model, x, target=0)
    if relevance is not None:
        return None
    stopped = [entry for entry in ledger.entries if entry.status == "stopped"]
    where = f" at {stopped[0].name} ({stopped[0].type})" if stopped else ""
    return f"the LRP walk stops{where}: no rule crosses it"


def _fixed(value: float, how: str):
    return lambda model, x, target, steps, samples: (value, how)


#: method key -> how to run it and what it should cost. One forward pass is the unit.
COST_METHODS: dict[str, CostMethod] = {
    "vanilla": CostMethod("vanilla gradient", _fixed(1 + BACKWARD, "1 forward + 1 backward"), _vanilla),
    "smoothgrad": CostMethod(
        "SmoothGrad",
        lambda model, x, target, steps, samples: (
            (1 + BACKWARD) * samples,
            f"{samples} x (forward + backward), one batch",
        ),
        _smoothgrad,
    ),
    "ig": CostMethod(
        "Integrated Gradients",
        lambda model, x, target, steps, samples: ((1 + BACKWARD) * steps, f"{steps} x (forward + backward), one batch"),
        _ig,
    ),
    "gradcam": CostMethod(
        "Grad-CAM",
        _fixed(1 + BACKWARD, "1 forward + 1 backward (to the input: the engine has no early stop)"),
        _cam_method("gradcam"),
        _gradcam_applies,
    ),
    "gradcam++": CostMethod(
        "Grad-CAM++",
        _fixed(1 + BACKWARD, "as Grad-CAM, plus per-position weights"),
        _cam_method("gradcam++"),
        _gradcam_applies,
    ),
    "cam": CostMethod("CAM", _fixed(1.0, "1 forward, no backward"), _cam_method("cam"), _cam_applies),
    "lrp": CostMethod("LRP (epsilon)", _fixed(1 + BACKWARD, "1 forward + 1 relevance pass"), _lrp, _lrp_applies),
}

#: The "ig" row when IG is integrated exactly (`measure_costs(..., ig="exact")`, as the explorer's default).
EXACT_IG = CostMethod("Integrated Gradients (exact)", _exact_ig_theory, _exact_ig, _exact_ig_applies)


@dataclass
class CostRow:
    key: str
    title: str
    theory: float
    theory_note: str
    seconds: float | None  # best time per probe
    ratio: float | None  # seconds / forward seconds
    peak_bytes: int | None  # extra peak memory during one call
    skipped: str | None = None  # why the method was not run


@dataclass
class CostReport:
    model: dict  # path, task, sha256, scaled, random_weights
    input_shape: tuple[int, ...]
    parameters: int
    repeats: int
    steps: int
    samples: int
    target: int
    forward_seconds: float
    forward_peak_bytes: int
    rows: list[CostRow]
    params_before: str
    params_after: str

    @property
    def weights_unchanged(self) -> bool:
        return self.params_before == self.params_after


def best_time(call: Callable[[], object], repeats: int) -> float:
    """The fastest of `repeats` calls, in seconds (the least disturbed by other work on the machine)."""
    best = float("inf")
    for _ in range(max(1, int(repeats))):
        start = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - start)
    return best


def peak_memory(call: Callable[[], object]) -> int:
    """Peak bytes allocated by one call above what was allocated when it started (tracemalloc)."""
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        call()
        return max(0, tracemalloc.get_traced_memory()[1] - base)
    finally:
        if not was_tracing:
            tracemalloc.stop()


def scaled_network(model: Network, size: int, seed: int = 0) -> Network:
    """`model`'s architecture on an input of (C, size, size), He-normal weights, zero biases, seeded.

    Convolutions and pooling adapt by themselves; a dense layer right after `flatten` gets the new
    flattened width. Raises ValueError when the architecture cannot take that size.
    """
    from ..nn.layers import ShapeError

    shape = (model.input_shape[0], int(size), int(size))
    rng = np.random.default_rng(seed)
    layers = []
    for i, old in enumerate(model.layers):
        cfg = dict(old.config(), name=old.name)
        if cfg["type"] == "dense" and layers and layers[-1].type == "flatten":
            cfg["in_features"] = int(np.prod(shape))
        layer = LAYER_TYPES[cfg["type"]].from_config(cfg)
        try:
            shape = layer.output_shape(shape)
        except ShapeError as exc:
            raise ValueError(f"the network cannot take a {size}x{size} input: layer {i} ({old.name}): {exc}") from None
        for key, value in layer.params.items():
            if key == "weight":
                layer.params[key] = rng.normal(0.0, np.sqrt(2.0 / int(np.prod(value.shape[1:]))), size=value.shape)
        layers.append(layer)
    return Network(layers, (model.input_shape[0], int(size), int(size)), task=model.task, classes=list(model.classes))


def measure_costs(
    model: Network,
    x: np.ndarray,
    *,
    target: int | None = None,
    methods=tuple(COST_METHODS),
    steps: int = 50,
    samples: int = 16,
    repeats: int = 3,
    about: dict | None = None,
    progress: Callable[[int, int], None] | None = None,
    ig: str = "right",
) -> CostReport:
    """Time and peak memory of each method on one input `x` (C, H, W), against one forward pass.

    `ig` is how the "ig" row integrates: "right" (a K-step right-Riemann sum, K = `steps`) or "exact".

    `progress(done, total)`, when given, is called after each run of a method (its warm-up, each timed
    repeat and its memory run), counting the runs of all methods.
    """
    before = model.params_hash()
    total = len(methods) * (int(repeats) + 2)
    done = [0]
    if progress is not None:
        progress(0, total)

    def counted(call):
        def run():
            out = call()
            done[0] += 1
            if progress is not None:
                progress(done[0], total)
            return out

        return run

    x = np.asarray(x, dtype=np.float64)
    tgt = int(model.predict_logits(x[None])[0].argmax()) if target is None else int(target)

    def forward():
        return model.predict_logits(x[None])

    forward()  # warm-up
    fwd_seconds = best_time(forward, max(repeats, 5))
    fwd_peak = peak_memory(forward)
    rows = []
    for key in methods:
        spec = EXACT_IG if key == "ig" and ig == "exact" else COST_METHODS[key]
        why = spec.applies(model)
        # NOTE: exact IG's count walks the path, which it can only where exact IG applies
        skip_count = why is not None and spec is EXACT_IG
        theory, how = (0.0, "not counted") if skip_count else spec.theory(model, x, tgt, steps, samples)
        if why is not None:
            rows.append(CostRow(key, spec.title, theory, how, None, None, None, skipped=why))
            done[0] += int(repeats) + 2
            if progress is not None:
                progress(done[0], total)
            continue
        # NOTE: the count is taken outside the timed call's own work; its cost is a counter and a call.
        call = counted(spec.make(model, x, tgt, steps, samples))
        call()  # warm-up: first-call imports and allocations are not the method's cost
        seconds = best_time(call, repeats)
        rows.append(CostRow(key, spec.title, theory, how, seconds, seconds / fwd_seconds, peak_memory(call)))
    return CostReport(
        model=dict(about or {}),
        input_shape=tuple(model.input_shape),
        parameters=model.num_parameters(),
        repeats=int(repeats),
        steps=int(steps),
        samples=int(samples),
        target=tgt,
        forward_seconds=fwd_seconds,
        forward_peak_bytes=fwd_peak,
        rows=rows,
        params_before=before,
        params_after=model.params_hash(),
    )


def cost_document(report: CostReport) -> dict:
    """The JSON document of `saliency-cli cost --format json`."""
    return {
        "command": "cost",
        "model": {key: report.model.get(key) for key in MODEL_KEYS},
        "scaling": {key: value for key, value in report.model.items() if key not in MODEL_KEYS},
        "input_shape": list(report.input_shape),
        "parameters": report.parameters,
        "target": report.target,
        "settings": {"steps": report.steps, "samples": report.samples, "repeats": report.repeats},
        "forward": {"seconds": report.forward_seconds, "peak_bytes": report.forward_peak_bytes},
        "methods": [
            {
                "method": row.key,
                "title": row.title,
                "forward_equivalents_theory": row.theory,
                "theory": row.theory_note,
                "seconds": row.seconds,
                "ratio_to_forward": row.ratio,
                "peak_bytes": row.peak_bytes,
                "skipped": row.skipped,
            }
            for row in report.rows
        ],
        "weights_unchanged": report.weights_unchanged,
        "params_sha256": report.params_after,
    }
