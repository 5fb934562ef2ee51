"""What each panel of the explorer shows, computed from the reports: a map, its check and its blob mass.

Every function here is pure (no Textual, no printing) and returns small result objects that the app
caches; `PIECES` lists the map panels in display order with what their result depends on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..methods.lrp.composites import COMPOSITES
from ..reports.saliency import blob_share

#: Below this, a gap or remainder is float64 round-off and is shown as "<1e-12" (the digits of round-off
#: change with the order of summation; the ledger tab and the commands give them).
ROUND_OFF = 1e-12


def small(value: float) -> str:
    """A check's number: '<1e-12' at round-off level, else two significant digits."""
    return f"<{ROUND_OFF:.0e}" if abs(value) < ROUND_OFF else f"{value:.1e}"


@dataclass
class MapResult:
    """One panel: a map (C, H, W), whether it is signed, its check line and its share of mass on the blob."""

    title: str
    values: np.ndarray
    signed: bool
    check: str | None = None  # e.g. "IG gap 1.2e-16"
    check_ok: bool | None = None
    blob: float | None = None  # share of sum |map| on the ground-truth blob
    extra: dict = field(default_factory=dict)  # what other tabs need (the LRP report for the ledger)


@dataclass(frozen=True)
class Piece:
    """A map panel: its name, a function (net, probe, selection) -> MapResult, the key fields it uses, and
    its label where other panels name it (the map that sets the shared scale)."""

    name: str
    compute: Callable
    uses: tuple[str, ...]  # Selection fields the result depends on (besides index and target)
    applies: Callable = lambda net: True
    label: str = ""

    def key(self, selection) -> tuple:
        parts = [getattr(selection, f) if f != "ig" else selection.ig_key() for f in self.uses]
        return (self.name, selection.index, selection.target, *parts)


def prediction(net, probe) -> dict:
    """Logits, probabilities and the predicted class of one probe."""
    from ..nn import ops

    logits = net.predict_logits(np.asarray(probe.x, dtype=np.float64)[None])[0]
    probs = ops.softmax(logits[None])[0]
    return {"logits": logits, "probabilities": probs, "predicted": int(np.argmax(logits))}


def _saliency(method: str):
    def compute(net, probe, sel) -> MapResult:
        from ..reports.saliency import saliency_report

        quadrature = sel.quadrature
        report = saliency_report(
            net, probe, target=sel.target, methods=(method,), quadrature=quadrature, steps=sel.steps
        )
        (result,) = report.methods.values()
        if method == "vanilla":
            return MapResult("vanilla |grad|", result.attribution, False, blob=result.blob_share)
        if method == "smoothgrad":
            title = f"SmoothGrad ({result.settings['samples']})"
            return MapResult(title, result.attribution, False, blob=result.blob_share)
        c = report.completeness
        title = "IG exact" if quadrature == "exact" else f"IG right {sel.steps}"
        return MapResult(
            title, result.attribution, True, f"IG gap {small(c.gap_abs)} {c.verdict}", c.ok, result.blob_share
        )

    return compute


def _lrp(net, probe, sel) -> MapResult:
    from ..reports.lrp import lrp_report

    if sel.lrp in COMPOSITES:
        report = lrp_report(net, probe, composite=sel.lrp, target=sel.target)
    else:
        report = lrp_report(net, probe, rules=(sel.lrp,), target=sel.target)
    (run,) = report.runs.values()
    title = f"LRP {sel.lrp}"
    if run.relevance is None:
        empty = np.zeros(probe.x.shape)
        return MapResult(title, empty, True, "stopped: no map", False, None, {"report": report})
    unexplained = run.max_unexplained
    return MapResult(
        title,
        run.relevance,
        True,
        f"unexplained {small(unexplained)}",
        bool(unexplained <= 1e-9),
        blob_share(run.relevance, probe.mask),
        {"report": report},
    )


def _has_conv(net) -> bool:
    return any(layer.type in ("conv2d", "Conv") for layer in net.layers)


def _cam(method: str, title: str):
    def compute(net, probe, sel) -> MapResult:
        from ..reports.cam import cam_report

        report = cam_report(net, probe, method=method, target=sel.target)
        values = report.upsampled["bilinear"][None]
        mask = None if probe.mask is None else probe.mask.any(axis=0, keepdims=True)
        peak = report.peak_input
        if peak is None:
            check, ok = "peak: none (map is 0)", False
        elif mask is None:
            check, ok = f"peak ({peak.x},{peak.y})", None
        else:
            ok = bool(mask[0, peak.y, peak.x])
            check = f"peak ({peak.x},{peak.y})" + (" on blob" if ok else " OFF blob")
        return MapResult(f"{title} {report.maps_layer['name']}", values, False, check, ok, blob_share(values, mask))

    return compute


#: The map panels after the input, in display order.
PIECES: tuple[Piece, ...] = (
    Piece("vanilla", _saliency("vanilla"), (), label="vanilla"),
    Piece("smoothgrad", _saliency("smoothgrad"), (), label="SmoothGrad"),
    Piece("ig", _saliency("ig"), ("ig",), label="IG"),
    Piece("lrp", _lrp, ("lrp",), label="LRP"),
    Piece("gradcam", _cam("gradcam", "Grad-CAM"), (), _has_conv, label="Grad-CAM"),
    Piece("gradcam++", _cam("gradcam++", "Grad-CAM++"), (), _has_conv, label="Grad-CAM++"),
)


def feature_layers(net, probe) -> list:
    """`features.FeatureMaps` of every layer with a spatial (K, h, w) output, in network order."""
    from ..methods.features import feature_maps, spatial_layers

    return [feature_maps(net, probe.x, name) for name in spatial_layers(net)]


def cost_report(net, probe, sel, repeats: int = 3):
    """The `cost` command's measurement on this probe, for the selection's target and IG (exact, or right
    with its steps)."""
    from ..reports.cost import measure_costs
    from ..reports.probe import model_info

    about = {**model_info(net), "scaled": False, "random_weights": False}
    return measure_costs(
        net, probe.x, target=sel.target, steps=sel.steps, repeats=repeats, about=about, ig=sel.quadrature
    )


def evaluation_summary(net, samples, seed: int = 0):
    """The `evaluate` command's summary (default settings) over the explorer's whole set: without the
    localisation metrics when no probe has a ground-truth mask (a data task's held-out images, a user's input
    without --labels; the report says why).

    Raises ValueError when some probes have a mask and others not.
    """
    from ..evaluation.methods import MethodOptions, default_methods
    from ..evaluation.metrics import LOCALISATION, METRICS
    from ..evaluation.probes import ProbeSet
    from ..evaluation.run import Settings, evaluate
    from ..evaluation.summary import summarise

    masks = [p.mask for p in samples.probes]
    labels = [p.label for p in samples.probes]
    unmasked = all(m is None for m in masks)
    if any(m is None for m in masks) and not unmasked:
        raise ValueError("evaluate needs a ground-truth mask for every probe, or for none")
    probes = ProbeSet(
        x=np.stack([p.x for p in samples.probes]),
        masks=None if unmasked else np.stack(masks).astype(bool),
        labels=None if None in labels else np.asarray(labels, dtype=np.int64),
        noise=None if None in samples.noise else np.asarray(samples.noise, dtype=np.float64),
        source=samples.origin,
    )
    options = MethodOptions()
    metrics = tuple(m for m in METRICS if not (unmasked and METRICS[m].family == LOCALISATION))
    settings = Settings(tuple(default_methods(net, options)), metrics, seed=seed, options=options)
    return summarise(evaluate(net, probes, settings))
