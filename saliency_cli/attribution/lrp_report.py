"""The LRP report: one or several rules on one probe, with ledgers, top-K and the weights check.

`lrp_report` computes everything into an `LRPReport`; `lrp_document` turns it into the JSON
document of `saliency-cli lrp --format json`. Nothing here prints or knows about Click or Rich.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..nn import ops
from .lrp_rules import RULES, Rule, make_rule
from .lrp_walk import LRPLedger, lrp

#: the rules `--compare` runs, in display order
COMPARE = ("epsilon", "gamma", "alpha-beta")


@dataclass
class RuleRun:
    """One rule's result on the probe: relevance (C, H, W) or None when the walk stopped."""

    rule: Rule
    relevance: np.ndarray | None
    ledger: LRPLedger
    top_k: list[dict]

    @property
    def max_unexplained(self) -> float:
        return self.ledger.max_unexplained


@dataclass
class LRPReport:
    model: dict  # path, task, sha256
    input: np.ndarray  # (C, H, W)
    source: str
    label: int | None
    classes: list[str]
    logits: np.ndarray  # (K,)
    probabilities: np.ndarray  # (K,)
    predicted: int
    target: int
    target_forced: bool
    params: dict  # eps, gamma, alpha, beta, bias
    runs: dict[str, RuleRun]  # rule name -> result, in display order
    compare: bool
    params_before: str
    params_after: str

    @property
    def weights_unchanged(self) -> bool:
        return self.params_before == self.params_after and all(r.ledger.weights_unchanged for r in self.runs.values())

    @property
    def max_unexplained(self) -> float:
        """Largest |unexplained| over every rule run, every layer reached."""
        return max(run.max_unexplained for run in self.runs.values())

    @property
    def complete(self) -> bool:
        """Every rule carried relevance all the way to the input."""
        return all(run.ledger.complete for run in self.runs.values())


def top_k_abs(relevance: np.ndarray, k: int) -> list[dict]:
    """The `k` positions of a (C, H, W) map with the largest |R|, as {channel, x, y, value} (signed).

    NOTE: ties keep row-major order (a stable sort), so the listing is deterministic.
    """
    flat = np.asarray(relevance).ravel()
    order = np.argsort(-np.abs(flat), kind="stable")[: max(int(k), 0)]
    c, y, x = np.unravel_index(order, relevance.shape)
    return [
        {"channel": int(ci), "x": int(xi), "y": int(yi), "value": float(flat[i])}
        for ci, yi, xi, i in zip(c, y, x, order, strict=True)
    ]


def lrp_report(
    net,
    probe,
    *,
    rules=("epsilon",),
    target: int | None = None,
    eps: float = 1e-2,
    gamma: float = 0.25,
    alpha: float = 2.0,
    bias: bool = True,
    top_k: int = 8,
    compare: bool = False,
) -> LRPReport:
    """Run LRP with each rule in `rules` on `probe.x` (C, H, W) and gather the report.

    Parameters
    ----------
    net : Network
    probe : Probe (x (C, H, W), source, label)
    rules : names in `RULES`, run in this order on the same probe
    target : class to explain (default: the predicted class)
    eps, gamma, alpha, bias : as in `lrp`
    top_k : positions listed per rule
    compare : whether the report is a side-by-side comparison (changes only the presentation)
    """
    unknown = [r for r in rules if r not in RULES]
    if unknown:
        raise ValueError(f"unknown rule(s) {', '.join(unknown)}; choose from {', '.join(sorted(RULES))}")
    before = net.params_hash()
    x = np.asarray(probe.x, dtype=np.float64)
    runs: dict[str, RuleRun] = {}
    for name in rules:
        rule = make_rule(name, eps=eps, gamma=gamma, alpha=alpha, bias=bias)
        relevance, ledger = lrp(net, x, target=target, rule=rule)
        top = top_k_abs(relevance, top_k) if relevance is not None else []
        runs[name] = RuleRun(rule, relevance, ledger, top)
    ledger = next(iter(runs.values())).ledger
    logits = ledger.logits[0]
    return LRPReport(
        model={"path": getattr(net, "path", None), "task": net.task, "sha256": getattr(net, "sha256", None)},
        input=x,
        source=probe.source,
        label=probe.label,
        classes=list(net.classes),
        logits=logits,
        probabilities=ops.softmax(logits[None])[0],
        predicted=int(logits.argmax()),
        target=int(ledger.target[0]),
        target_forced=target is not None,
        params={
            "eps": float(eps),
            "gamma": float(gamma),
            "alpha": float(alpha),
            "beta": float(alpha) - 1.0,
            "bias": bias,
        },
        runs=runs,
        compare=compare,
        params_before=before,
        params_after=net.params_hash(),
    )


def _run_document(run: RuleRun) -> dict:
    ledger = run.ledger
    stopped = None
    if ledger.stopped is not None:
        s = ledger.stopped
        stopped = {"index": s.index, "name": s.name, "type": s.type, "reason": ledger.reason}
    return {
        "rule": run.rule.name,
        "relevance": run.relevance,
        "complete": ledger.complete,
        "stopped": stopped,
        "layers": ledger.rows(0),
        "totals": ledger.totals(0),
        "max_unexplained": run.max_unexplained,
        "top_k": run.top_k,
    }


def lrp_document(report: LRPReport) -> dict:
    """The JSON document of `saliency-cli lrp --format json` (numpy arrays left for the encoder)."""
    doc = {
        "command": "lrp",
        "model": report.model,
        "rule": None,
        "params": report.params,
        "input": report.input,
        "source": report.source,
        "label": report.label,
        "prediction": {
            "class": report.predicted,
            "scores": report.logits,
            "probabilities": report.probabilities,
        },
        "target": report.target,
        "compare": report.compare,
    }
    if report.compare:
        doc["rules"] = {name: _run_document(run) for name, run in report.runs.items()}
        doc["complete"] = report.complete
    else:
        (run,) = report.runs.values()
        doc.update(_run_document(run))
    doc["max_unexplained"] = report.max_unexplained
    doc["weights_unchanged"] = report.weights_unchanged
    doc["params_sha256"] = report.params_after
    return doc
