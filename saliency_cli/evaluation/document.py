"""The JSON document of `saliency-cli evaluate --format json` (numpy values left for the encoder)."""

from __future__ import annotations

from dataclasses import asdict

from ..reports.probe import model_info
from .faithfulness import CURVES
from .metrics import AXIOMS, METRICS
from .run import DRAWN
from .summary import Summary, curve_fractions


def _cell(summary: Summary, method: str, metric: str) -> dict:
    c = summary.table.cell(method, metric)
    doc = {"mean": c.mean, "ci": list(c.ci), "n": c.n}
    if metric == "mass-accuracy":
        doc["no_positive"] = summary.evaluation.methods[method].no_positive
    if metric in DRAWN and method in summary.per_draw:
        doc["draws"] = summary.evaluation.settings.draws
        doc["per_draw"] = summary.per_draw[method][metric]
    return doc


def _method(summary: Summary, name: str) -> dict:
    doc = {metric: _cell(summary, name, metric) for metric in summary.metrics}
    if name in summary.curves:
        doc["curves"] = {
            "fractions": curve_fractions(summary),
            **summary.curves[name],
            "logit": summary.logit_curves[name],
        }
    if name in summary.mprt:
        # NOTE: the per-layer curve (averaged over draws and probes) shares the mprt key with the cell.
        doc["mprt"] = {
            **doc.get("mprt", {}),
            "layers": summary.evaluation.mprt_layers,
            "spearman": summary.mprt[name],
            "spearman_signed": summary.mprt_signed[name],
        }
    return doc


def _metric(summary: Summary, name: str) -> dict:
    m = METRICS[name]
    return {
        "direction": m.direction,
        "family": m.family,
        "definition": m.definition,
        "judged": m.judged,
        "saturated": summary.saturated[name],
        "excluded": summary.excluded.get(name),
        "best": summary.best[name],
    }


def _axiom(summary: Summary, metric: str) -> dict:
    """method -> its residual's mean, interval and n, or None where the method claims no such property."""
    out = {}
    for name in summary.methods:
        c = summary.table.cell(name, metric)
        out[name] = None if c.empty else {"mean": c.mean, "ci": list(c.ci), "n": c.n}
    return out


def _per_probe(summary: Summary) -> dict:
    ev = summary.evaluation
    s = ev.settings
    out = {}
    for name in s.methods:
        r = ev.methods[name]
        doc = {m: r.values[m] for m in s.metrics}
        if r.curves:
            doc["curves"] = {k: r.curves.probability[k] for k in CURVES}
        if r.mprt is not None:
            doc["mprt_layers"] = r.mprt.mean(axis=0)
            doc["mprt_per_draw"] = r.per_draw.get("mprt")
        out[name] = doc
    return out


def _probes_detail(summary: Summary) -> list[dict]:
    ev = summary.evaluation
    labels, noise = ev.probes.labels, ev.probes.noise
    return [
        {
            "index": i,
            "label": None if labels is None else int(labels[i]),
            "target": int(ev.targets[i]),
            "other": None if ev.others is None else int(ev.others[i]),
            "predicted": int(ev.predicted[i]),
            "wrong": bool(ev.wrong[i]),
            "noise": None if noise is None else float(noise[i]),
        }
        for i in range(len(ev.probes))
    ]


def _settings(settings, net, probes) -> dict:
    """What was asked for (never the worker count: it changes no number); `probes` is the evaluation's ProbeSet."""
    o = settings.options
    rule = o.ig_quadrature(net)
    return {
        "source": probes.source,
        "ground_truth_masks": probes.masks is not None,
        "noise": None if probes.noise is None else sorted(set(probes.noise.tolist())),
        "methods": list(settings.methods),
        "metrics": list(settings.metrics),
        "steps": settings.steps,
        "substrate": settings.substrate,
        "insertion_substrate": settings.insertion_substrate,
        "mask_level": settings.mask_level,
        "mprt_order": settings.mprt_order,
        "draws": settings.draws,
        "resamples": settings.resamples,
        "include_wrong": settings.include_wrong,
        "batch_size": o.batch_size,
        "smoothgrad": {"samples": o.samples, "noise_frac": o.noise_frac, "seed": o.seed},
        "ig": {"quadrature": rule, "steps": None if rule == "exact" else o.ig_steps, "baseline": o.baseline},
        "lrp": {"eps": o.eps, "gamma": o.gamma, "alpha": o.alpha, "beta": o.alpha - 1.0, "pool": o.pool},
        "cam_layer": o.cam_layer,
    }


def evaluation_document(summary: Summary, net, per_probe: bool = False) -> dict:
    """The whole document: what was asked for, the recommendation, every metric of every method, the verdicts."""
    ev = summary.evaluation
    s = ev.settings
    rec = summary.recommendation
    doc = {
        "command": "evaluate",
        "model": model_info(net),
        "task": net.task,
        "probes": len(ev.probes),
        "wrong": int(ev.wrong.sum()),
        "seed": s.seed,
        "settings": {**_settings(s, net, ev.probes), "substrate_probability": ev.substrate_probability},
        "recommendation": {
            "method": rec.method,
            "ties": rec.ties,
            "reasons": rec.reasons,
            "reason": rec.reason or None,
            "mean_rank": rec.mean_rank,
            "passes_sanity": rec.passes_sanity,
        },
        "warnings": summary.warnings,
        "metrics": {m: _metric(summary, m) for m in s.metrics},
        "methods": {name: _method(summary, name) for name in s.methods},
        "controls": summary.controls,
        "verdicts": [asdict(v) for v in summary.verdicts],
        "axioms": {m: _axiom(summary, m) for m in s.metrics if METRICS[m].family == AXIOMS},
    }
    if per_probe:
        doc["per_probe"] = _per_probe(summary)
        doc["probes_detail"] = _probes_detail(summary)
    return doc
