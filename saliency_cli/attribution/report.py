"""The saliency report: vanilla, SmoothGrad and IG on one probe, with masses, top-K and completeness.

`saliency_report` computes everything into a `SaliencyReport`; `report_document` turns it into the
JSON document of `saliency-cli saliency --format json`. Nothing here prints or knows about Click/Rich.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..nn import ops
from . import gradients as G

#: CLI method name -> report/JSON name, in display order.
METHODS: dict[str, str] = {"vanilla": "vanilla", "smoothgrad": "smoothgrad", "ig": "integrated_gradients"}

#: IG's completeness verdict is OK when the relative gap is below this.
GAP_OK = 0.05


@dataclass
class MethodResult:
    """One method's map (C, H, W), its per-channel mass (C,) and the settings that produced it."""

    attribution: np.ndarray
    mass: np.ndarray
    settings: dict = field(default_factory=dict)
    signed: np.ndarray | None = None  # vanilla only: the signed gradient
    blob_share: float | None = None  # share of the |attribution| mass on the probe's true blob, when known


@dataclass
class CompletenessCheck:
    """sum(IG) against score(x) - score(x') for one probe, with a verdict."""

    sum: float
    score_input: float
    score_baseline: float
    delta: float
    gap_abs: float
    gap_rel: float | None
    note: str | None
    pieces: int | None = None  # exact IG: linear pieces along the path

    @property
    def ok(self) -> bool:
        """Relative gap below GAP_OK (or, when delta is 0, no gap at all)."""
        return self.gap_abs == 0.0 if self.gap_rel is None else self.gap_rel < GAP_OK

    def exceeds(self, max_gap: float) -> bool:
        """Whether the relative gap is above `max_gap`; an undefined relative gap counts as infinite
        unless the absolute gap is exactly 0."""
        return self.gap_abs > 0.0 if self.gap_rel is None else self.gap_rel > max_gap

    @property
    def verdict(self) -> str:
        return "OK" if self.ok else "LARGE"


@dataclass
class SaliencyReport:
    model: dict  # path, task, sha256
    input: np.ndarray  # (C, H, W)
    source: str
    label: int | None
    mask: np.ndarray | None  # (C, H, W) ground truth when known
    classes: list[str]
    logits: np.ndarray  # (K,)
    probabilities: np.ndarray  # (K,)
    predicted: int
    target: int
    target_forced: bool
    score: str
    methods: dict[str, MethodResult]  # keyed by METHODS values
    top_k: list[dict]  # of the vanilla map: channel, x, y, value
    completeness: CompletenessCheck | None
    params_before: str
    params_after: str
    convergence: object | None = None  # a convergence.Convergence when asked for

    @property
    def weights_unchanged(self) -> bool:
        return self.params_before == self.params_after


def top_k_pixels(attribution: np.ndarray, k: int) -> list[dict]:
    """The `k` largest values of a (C, H, W) map as {channel, x, y, value}, largest first.

    NOTE: ties keep row-major order (a stable sort), so the listing is deterministic.
    """
    flat = np.asarray(attribution).ravel()
    order = np.argsort(-flat, kind="stable")[: max(int(k), 0)]
    c, y, x = np.unravel_index(order, attribution.shape)
    return [
        {"channel": int(ci), "x": int(xi), "y": int(yi), "value": float(flat[i])}
        for ci, yi, xi, i in zip(c, y, x, order, strict=True)
    ]


def channel_mass(attribution: np.ndarray) -> np.ndarray:
    """Sum of |attribution| per channel: (C, H, W) -> (C,)."""
    return np.abs(attribution).sum(axis=(1, 2))


def blob_share(attribution: np.ndarray, mask: np.ndarray | None) -> float | None:
    """Fraction of sum |attribution| that falls inside the boolean `mask` (None without a mask or mass)."""
    if mask is None:
        return None
    total = float(np.abs(attribution).sum())
    return float(np.abs(attribution)[mask].sum()) / total if total > 0 else None


def _completeness(c: G.Completeness) -> CompletenessCheck:
    rel = float(c.gap_rel)
    undefined = math.isnan(rel)
    return CompletenessCheck(
        sum=float(c.sum),
        score_input=float(c.score_input),
        score_baseline=float(c.score_baseline),
        delta=float(c.delta),
        gap_abs=float(c.gap_abs),
        gap_rel=None if undefined else rel,
        note="score(input) equals score(baseline), so the relative gap is undefined; see gap_abs"
        if undefined
        else None,
        pieces=None if c.pieces is None else int(c.pieces),
    )


def saliency_report(
    net,
    probe,
    *,
    target: int | None = None,
    score: str = "logit",
    methods=tuple(METHODS),
    samples: int = 16,
    noise_frac: float = 0.15,
    sigma: float | None = None,
    seed: int = 0,
    steps: int = 50,
    quadrature: str = "right",
    baseline="zero",
    baseline_label: str | None = None,
    top_k: int = 8,
    batch_size: int | None = None,
    convergence: bool = False,
) -> SaliencyReport:
    """Compute the whole saliency report for one probe.

    Parameters
    ----------
    net : Network
    probe : Probe
        `probe.x` (C, H, W) with optional `label` and `mask`.
    target : int, optional
        Class to explain (default: the predicted class).
    methods : iterable of {"vanilla", "smoothgrad", "ig"}
    baseline : {"zero", "mean"} or ndarray (C, H, W)
    baseline_label : str, optional
        How to name an array baseline in the report (e.g. its file name).
    quadrature : str
        An IG rule of `gradients.QUADRATURES`, or "exact".
    convergence : bool
        Also compare every quadrature at K = 8 .. 512 with exact IG (see `convergence.ig_convergence`).
    Other parameters as in `gradients.saliency`, `smoothgrad` and `integrated_gradients`.

    Returns
    -------
    SaliencyReport
    """
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f"unknown method(s) {', '.join(unknown)}; choose from {', '.join(METHODS)}")
    before = net.params_hash()
    x = np.asarray(probe.x, dtype=np.float64)
    z = G.logits(net, x[None])[0]
    predicted = int(z.argmax())
    tgt = predicted if target is None else int(G.resolve_targets(net, x[None], target)[0])
    common = {"target": tgt, "score": score, "batch_size": batch_size}

    results: dict[str, MethodResult] = {}
    top: list[dict] = []
    check = None
    if "vanilla" in methods:
        signed = G.saliency(net, x, abs=False, **common)
        results["vanilla"] = MethodResult(np.abs(signed), channel_mass(signed), {}, signed=signed)
        top = top_k_pixels(np.abs(signed), top_k)
    if "smoothgrad" in methods:
        sig = float(G.noise_sigma(x, noise_frac)) if sigma is None else float(sigma)
        sg = G.smoothgrad(net, x, samples=samples, sigma=sig, seed=seed, **common)
        settings = {"samples": int(samples), "sigma": sig, "noise_frac": None if sigma is not None else noise_frac}
        results["smoothgrad"] = MethodResult(sg, channel_mass(sg), {**settings, "seed": int(seed)})
    if "ig" in methods:
        ig, comp = G.integrated_gradients(
            net, x, baseline=baseline, steps=steps, quadrature=quadrature, return_completeness=True, **common
        )
        name = baseline if isinstance(baseline, str) else (baseline_label or "array")
        check = _completeness(comp)
        exact = quadrature == "exact"
        settings = {"steps": None if exact else int(steps), "quadrature": quadrature, "baseline": name}
        if exact:
            settings["pieces"] = check.pieces
        results["integrated_gradients"] = MethodResult(ig, channel_mass(ig), settings)
    for result in results.values():
        result.blob_share = blob_share(result.attribution, probe.mask)
    study = None
    if convergence:
        from .convergence import ig_convergence

        study = ig_convergence(net, x, tgt, baseline, batch_size=batch_size)

    return SaliencyReport(
        model={
            "path": getattr(net, "path", None),
            "task": net.task,
            "sha256": getattr(net, "sha256", None),
        },
        input=x,
        source=probe.source,
        label=probe.label,
        mask=probe.mask,
        classes=list(net.classes),
        logits=z,
        probabilities=ops.softmax(z[None])[0],
        predicted=predicted,
        target=tgt,
        target_forced=target is not None,
        score=score,
        methods=results,
        top_k=top,
        completeness=check,
        params_before=before,
        params_after=net.params_hash(),
        convergence=study,
    )


def report_document(report: SaliencyReport) -> dict:
    """The JSON document of `saliency-cli saliency --format json` (numpy arrays left for the encoder)."""
    methods: dict[str, dict] = {}
    for name, result in report.methods.items():
        doc = {"attribution": result.attribution, "mass": result.mass, "blob_share": result.blob_share}
        doc.update(result.settings)
        if name == "vanilla":
            doc.update(signed=result.signed, top_k=report.top_k)
        if name == "integrated_gradients" and report.completeness is not None:
            c = report.completeness
            doc["completeness"] = {
                "sum": c.sum,
                "score_input": c.score_input,
                "score_baseline": c.score_baseline,
                "delta": c.delta,
                "gap_abs": c.gap_abs,
                "gap_rel": c.gap_rel,
                "verdict": c.verdict,
                "threshold": GAP_OK,
                "note": c.note,
            }
        methods[name] = doc
    return {
        "command": "saliency",
        "model": report.model,
        "input": report.input,
        "source": report.source,
        "label": report.label,
        "prediction": {
            "class": report.predicted,
            "scores": report.logits,
            "probabilities": report.probabilities,
        },
        "target": report.target,
        "score": report.score,
        "methods": methods,
        "weights_unchanged": report.weights_unchanged,
        "params_sha256": report.params_after,
        **({"convergence": vars(report.convergence)} if report.convergence is not None else {}),
    }
