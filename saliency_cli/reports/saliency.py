"""The saliency report: vanilla, SmoothGrad and IG on one probe, with masses, top-K and completeness.

`saliency_report` computes everything into a `SaliencyReport`; `report_document` turns it into the
JSON document of `saliency-cli saliency --format json`. Nothing here prints or knows about Click/Rich.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from ..methods import gradients as G
from ..methods import integrated as IG
from .completeness import SMOOTH_COMPLETENESS, CompletenessCheck, completeness_check
from .probe import ProbeReport, probe_document, probe_fields, top_k_pixels

#: CLI method name -> report/JSON name, in display order.
METHODS: dict[str, str] = {"vanilla": "vanilla", "smoothgrad": "smoothgrad", "ig": "integrated_gradients"}


@dataclass
class MethodResult:
    """One method's map (C, H, W), its per-channel mass (C,) and the settings that produced it."""

    attribution: np.ndarray
    mass: np.ndarray
    settings: dict = field(default_factory=dict)
    signed: np.ndarray | None = None  # vanilla only: the signed gradient
    blob_share: float | None = None  # share of the |attribution| mass on the probe's true blob, when known


@dataclass
class SaliencyReport(ProbeReport):
    """A probe's report with its maps (vanilla, SmoothGrad, IG), their top pixels and IG's completeness."""

    mask: np.ndarray | None  # (C, H, W) ground truth when known
    score: str
    methods: dict[str, MethodResult]  # keyed by METHODS values
    top_k: list[dict]  # of the vanilla map: channel, x, y, value
    completeness: CompletenessCheck | None
    convergence: object | None = None  # a convergence.Convergence when asked for
    explained: dict = field(default_factory=dict)  # what is explained: score name and its parameters
    score_value: float | None = None  # the explained score at the input
    reduce: str = "none"  # channel reduction of every map ("none", "max", "mean")
    dtype: str = "float64"  # compute dtype of the network's passes (exact IG's is in its settings)


def blob_share(attribution: np.ndarray, mask: np.ndarray | None) -> float | None:
    """Fraction of sum |attribution| that falls inside the boolean `mask` (None without a mask or mass)."""
    if mask is None:
        return None
    total = float(np.abs(attribution).sum())
    return float(np.abs(attribution)[mask].sum()) / total if total > 0 else None


@dataclass(frozen=True)
class ReportOptions:
    """How the maps of a report are computed (the options of `saliency_report`)."""

    score: object = "logit"  # a name of `gradients.SCORES` without parameters, or a `scores.Score`
    methods: tuple[str, ...] = tuple(METHODS)
    samples: int = 16
    noise_frac: float = 0.15
    sigma: float | None = None
    seed: int = 0
    steps: int = 50
    quadrature: str = "right"
    baseline: object = "zero"
    baseline_label: str | None = None
    top_k: int = 8
    batch_size: int | None = None
    reduce: str = "none"
    smooth: int = 0  # SmoothGrad over IG: noisy copies per probe (0: plain IG)
    max_gap: float | None = None  # the completeness verdict's threshold (default completeness.GAP_OK)
    dtype: str = "float64"  # compute dtype of the network's passes ("float32": faster; exact IG stays float64)
    max_pieces: int | None = None  # exact IG: most linear pieces per path (default exact_ig.MAX_PIECES)

    def __post_init__(self):
        object.__setattr__(self, "methods", tuple(self.methods))  # NOTE: any iterable of names, kept hashable


def _method_arrays(net, x: np.ndarray, targets: np.ndarray | None, o: ReportOptions) -> dict:
    """Every asked-for method on a batch x (N, C, H, W), batched across the probes and the methods.

    The rows of vanilla (x itself, which also gives score(x)), SmoothGrad's noisy copies, IG's path
    points and the baseline (for IG's completeness) go through the network as one batch: one forward
    and one backward per `batch_size` rows. Exact IG walks its paths and SmoothGrad over IG has its own
    batch; both are run on their own.

    With a score of the logits, the vanilla rows also give each probe's logits (`out["logits"]`) and, with
    `targets` None, its predicted class (`out["targets"]`): no separate logits pass. Other scores need the
    targets given.
    """
    score = G.as_score(o.score)
    model = net.astype(o.dtype)
    if targets is not None:
        score.check(net, targets if score.uses_target else None)
    sig = G.noise_sigma(x, o.noise_frac) if o.sigma is None else np.full(len(x), float(o.sigma))
    if (sig < 0).any() or not np.isfinite(sig).all():
        raise ValueError(f"sigma must be finite and >= 0, got {o.sigma}")
    out: dict = {"sigma": sig}
    joint_ig = "ig" in o.methods and not o.smooth and o.quadrature != "exact"
    sums = {"vanilla": G.gradient_points(x)}
    if "smoothgrad" in o.methods:
        sums["smoothgrad"] = G.smoothgrad_points(x, sig, o.samples, o.seed)
    if joint_ig:
        alphas, weights = IG.quadrature_rule(o.quadrature, o.steps)
        base = IG.make_baseline(x, o.baseline)
        sums["ig"], sums["baseline"] = IG.path_points(x, base, alphas, weights), G.gradient_points(base)
    if score.stop(model) == model.logit_index:
        totals, values, targets, out["logits"] = G.sum_over_points_with_logits(
            model, list(sums.values()), len(x), targets, score, o.batch_size
        )
    else:
        totals, values = G.sum_over_points_many(model, list(sums.values()), targets, score, o.batch_size)
    out["targets"] = targets
    totals, values = dict(zip(sums, totals, strict=True)), dict(zip(sums, values, strict=True))
    out["values"] = values["vanilla"][:, 0]
    if "vanilla" in o.methods:
        out["vanilla"] = totals["vanilla"]
    if "smoothgrad" in o.methods:
        out["smoothgrad"] = totals["smoothgrad"] / int(o.samples)
    if joint_ig:
        attributions = (x - base) * totals["ig"]
        out["ig"] = attributions, IG.completeness(attributions, out["values"], values["baseline"][:, 0])
    elif "ig" in o.methods:
        common = {"target": targets, "score": score, "batch_size": o.batch_size}
        ig_options = {"baseline": o.baseline, "steps": o.steps, "quadrature": o.quadrature, **common}
        # NOTE: exact IG computes in float64 whatever the dtype (its breakpoints need it)
        ig_net = net if o.quadrature == "exact" else model
        if o.quadrature == "exact":
            ig_options["max_pieces"] = o.max_pieces
        if o.smooth:
            out["ig"] = IG.smooth_integrated_gradients(
                ig_net, x, smooth=o.smooth, sigma=sig, seed=o.seed, return_completeness=True, **ig_options
            )
        else:
            out["ig"] = IG.integrated_gradients(ig_net, x, return_completeness=True, **ig_options)
    return out


def _ig_settings(o: ReportOptions, check: CompletenessCheck, sigma: float) -> dict:
    name = o.baseline if isinstance(o.baseline, str) else (o.baseline_label or "array")
    exact = o.quadrature == "exact"
    settings = {"steps": None if exact else int(o.steps), "quadrature": o.quadrature, "baseline": name}
    settings["dtype"] = "float64" if exact else _dtype_name(o.dtype)
    if exact:
        settings["pieces"] = check.pieces
    if o.smooth:
        settings["smooth"] = {"copies": int(o.smooth), "sigma": sigma, "seed": int(o.seed)}
    return settings


#: Probes per block of `saliency_reports`: a block's probes go through the network together.
BLOCK = 100


def saliency_reports(
    net, probes, target=None, options: ReportOptions | None = None, block: int = BLOCK, progress=None
) -> list[SaliencyReport]:
    """Reports for many probes, computed in blocks of `block` probes batched across the probes.

    Parameters
    ----------
    net : Network
    probes : sequence of Probe
        Each `probe.x` is (C, H, W).
    target : None, int or sequence of int
        Class to explain: the predicted class (None), one class for all, or one per probe.
    options : ReportOptions
    block : int
        Probes per block (default `BLOCK`); results do not depend on it beyond round-off (SmoothGrad's noise is
        shared by all probes; BLAS rounds a batch by its shape).
    progress : callable, optional
        progress(done, total): called with the numbers of probes done and in all, after each block.

    Returns
    -------
    list of SaliencyReport, one per probe (without a convergence study)
    """
    o = options or ReportOptions()
    unknown = [m for m in o.methods if m not in METHODS]
    if unknown:
        raise ValueError(f"unknown method(s) {', '.join(unknown)}; choose from {', '.join(METHODS)}")
    if o.reduce not in G.REDUCTIONS:
        raise ValueError(f"unknown reduction {o.reduce!r}; choose from {', '.join(G.REDUCTIONS)}")
    score = G.as_score(o.score)
    explained = score.describe(net)
    before = net.params_hash()
    targets_all = None if target is None or np.ndim(target) == 0 else np.asarray(target)
    reports: list[SaliencyReport] = []
    for start in range(0, len(probes), max(int(block), 1)):
        chunk = probes[start : start + block]
        x = np.stack([np.asarray(p.x, dtype=np.float64) for p in chunk])
        tgt = target if targets_all is None else targets_all[start : start + len(chunk)]
        targets = None if tgt is None else G.resolve_targets(net, x, tgt, o.batch_size)
        z = None
        if score.stop(net) != net.logit_index:  # NOTE: else the batch's own rows give the logits (and targets)
            z = G.logits(net.astype(o.dtype), x, o.batch_size)
            targets = z.argmax(axis=1) if targets is None else targets
        arrays = _method_arrays(net, x, targets, o)
        z, targets, values = arrays.get("logits", z), arrays["targets"], arrays["values"]
        hashes = (before, net.params_hash())
        for i, probe in enumerate(chunk):
            forced = target is not None
            reports.append(_one_report(net, probe, x[i], z[i], targets[i], forced, values[i], arrays, i, o, explained))
            reports[-1].params_before, reports[-1].params_after = hashes
        if progress is not None:
            progress(len(reports), len(probes))
    return reports


def _one_report(net, probe, x, z, target, forced, value, arrays, i, o, explained) -> SaliencyReport:
    """Probe i's report from the block's arrays; maps reduced over channels as `o.reduce` asks."""
    score = G.as_score(o.score)
    mask = probe.mask
    if mask is not None and o.reduce != "none":
        mask = mask.any(axis=0, keepdims=True)

    def reduced(a):
        return G.reduce_channels(a, o.reduce)

    def result(attribution, settings, signed=None):
        # the per-channel mass (sum |attribution|, (C,)) and `blob_share`, from one |attribution| (vanilla's
        # map is one already)
        magnitude = attribution if signed is not None else np.abs(attribution)
        share = None
        if mask is not None:
            total = float(magnitude.sum())
            share = float(magnitude[mask].sum()) / total if total > 0 else None
        return MethodResult(attribution, magnitude.sum(axis=(1, 2)), settings, signed, share)

    results: dict[str, MethodResult] = {}
    top: list[dict] = []
    check = None
    sigma = float(arrays["sigma"][i])
    if "vanilla" in arrays:
        signed = arrays["vanilla"][i]
        magnitude = reduced(np.abs(signed))
        results["vanilla"] = result(magnitude, {}, signed=signed)
        top = top_k_pixels(magnitude, o.top_k)
    if "smoothgrad" in arrays:
        frac = None if o.sigma is not None else o.noise_frac
        settings = {"samples": int(o.samples), "sigma": sigma, "noise_frac": frac, "seed": int(o.seed)}
        results["smoothgrad"] = result(reduced(arrays["smoothgrad"][i]), settings)
    if "ig" in arrays:
        ig, comp = arrays["ig"]
        check = completeness_check(
            IG.Completeness(*(None if f is None else f[i] for f in vars(comp).values())), o.max_gap
        )
        results["integrated_gradients"] = result(reduced(ig[i]), _ig_settings(o, check, sigma))
    if o.reduce != "none":
        for p in top:
            p["channel"] = None  # NOTE: a reduced map has no channel of its own
    return SaliencyReport(
        **probe_fields(net, x, probe.source, probe.label, z, int(target) if score.uses_target else None, forced),
        mask=probe.mask,
        score=score.name,
        methods=results,
        top_k=top,
        completeness=check,
        params_before="",
        params_after="",
        explained=explained,
        score_value=float(value),
        reduce=o.reduce,
        dtype=_dtype_name(o.dtype),
    )


@lru_cache(maxsize=16)
def _dtype_name(dtype) -> str:
    return str(np.dtype(dtype))


def saliency_report(net, probe, *, target: int | None = None, convergence: bool = False, **options) -> SaliencyReport:
    """Compute the whole saliency report for one probe.

    Parameters
    ----------
    net : Network
    probe : Probe
        `probe.x` (C, H, W) with optional `label` and `mask`.
    target : int, optional
        Class to explain (default: the predicted class).
    convergence : bool
        Also compare every quadrature at K = 8 .. 512 with exact IG (see `convergence.ig_convergence`).
    **options
        The fields of `ReportOptions` (score, methods, samples, noise_frac, sigma, seed, steps, quadrature,
        baseline, baseline_label, top_k, batch_size, reduce, smooth, max_gap, dtype, max_pieces), with its
        defaults; an unknown name raises TypeError.

    Returns
    -------
    SaliencyReport
    """
    options = ReportOptions(**options)
    report = saliency_reports(net, [probe], target, options)[0]
    if convergence:
        from .convergence import ig_convergence

        tgt = report.predicted if report.target is None else report.target
        o = options
        report.convergence = ig_convergence(net, report.input, tgt, o.baseline, score=o.score, batch_size=o.batch_size)
    return report


#: Every top-level key a saliency document can have (for `--fields`), in document order.
FIELDS = (
    "command", "model", "input", "source", "label", "prediction", "target", "score", "explained", "reduce", "dtype",
    "methods",
    "weights_unchanged", "params_sha256", "convergence",
)  # fmt: skip


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
                "threshold": c.threshold,
                "threshold_source": "--max-gap" if c.user_threshold else "default",
                "note": c.note,
            }
            if c.score_clean is not None:
                doc["completeness"]["score_clean"] = c.score_clean
                doc["completeness"]["definition"] = SMOOTH_COMPLETENESS
        methods[name] = doc
    return {
        "command": "saliency",
        **probe_document(report),
        "score": report.score,
        "explained": {**report.explained, "value": report.score_value},
        "reduce": report.reduce,
        "dtype": report.dtype,
        "methods": methods,
        "weights_unchanged": report.weights_unchanged,
        "params_sha256": report.params_after,
        **({"convergence": vars(report.convergence)} if report.convergence is not None else {}),
    }
