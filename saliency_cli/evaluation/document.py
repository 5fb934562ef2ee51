"""The JSON document of `saliency-cli evaluate --format json` (numpy values left for the encoder)."""

from __future__ import annotations

from dataclasses import asdict

from ..reports.probe import model_info
from .faithfulness import CURVES
from .metrics import METRICS
from .summary import Summary, curve_fractions


def _cell(summary: Summary, method: str, metric: str) -> dict:
    c = summary.cells[method][metric]
    doc = {"mean": c.mean, "ci": list(c.ci), "n": c.n}
    if metric == "mass-accuracy":
        doc["no_positive"] = summary.evaluation.methods[method].no_positive
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
        # NOTE: the issue asks for both the mprt metric cell and "mprt": {"layers", "spearman"} under the
        # method: they share the one key, the per-layer curve beside the summary's mean, ci and n.
        doc["mprt"] = {**doc.get("mprt", {}), "layers": summary.evaluation.mprt_layers, "spearman": summary.mprt[name]}
    return doc


def evaluation_document(summary: Summary, net, settings_doc: dict, per_probe: bool = False) -> dict:
    """The whole document; `settings_doc` is what the command was asked to do (never the worker count)."""
    ev = summary.evaluation
    s = ev.settings
    doc = {
        "command": "evaluate",
        "model": model_info(net),
        "task": net.task,
        "probes": len(ev.probes),
        "wrong": int(ev.wrong.sum()),
        "seed": s.seed,
        "settings": settings_doc,
        "metrics": {
            m: {"direction": METRICS[m].direction, "family": METRICS[m].family, "definition": METRICS[m].definition}
            for m in s.metrics
        },
        "methods": {name: _method(summary, name) for name in s.methods},
        "controls": summary.controls,
        "verdicts": [asdict(v) for v in summary.verdicts],
    }
    if per_probe:
        doc["per_probe"] = {
            name: {
                **{m: ev.methods[name].values[m] for m in s.metrics},
                **(
                    {"curves": {k: ev.methods[name].curves.probability[k] for k in CURVES}}
                    if ev.methods[name].curves
                    else {}
                ),
                **({"mprt_layers": ev.methods[name].mprt} if ev.methods[name].mprt is not None else {}),
            }
            for name in s.methods
        }
        labels, noise = ev.probes.labels, ev.probes.noise
        doc["probes_detail"] = [
            {
                "index": i,
                "label": None if labels is None else int(labels[i]),
                "target": int(ev.targets[i]),
                "predicted": int(ev.predicted[i]),
                "wrong": bool(ev.wrong[i]),
                "noise": None if noise is None else float(noise[i]),
            }
            for i in range(len(ev.probes))
        ]
    return doc
