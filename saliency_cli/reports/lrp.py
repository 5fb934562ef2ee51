"""The LRP report: one or several rules on one probe, with ledgers, top-K and the weights check.

`lrp_report` computes everything into an `LRPReport`; `lrp_document` turns it into the JSON
document of `saliency-cli lrp --format json`. Nothing here prints or knows about Click or Rich.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import UserError
from ..methods.batching import row_chunks
from ..methods.lrp.canonical import canonicalise
from ..methods.lrp.composites import Composite, build_rule, make_composite
from ..methods.lrp.first import ZBox
from ..methods.lrp.rules import RULES, Rule, make_rule
from ..methods.lrp.walk import LRPLedger, lrp
from ..nn.graph.network import Graph
from .probe import ProbeReport, probe_document, probe_fields, top_k_pixels

#: the rules `--compare` runs, in display order
COMPARE = ("epsilon", "gamma", "alpha-beta")


@dataclass
class RuleRun:
    """One rule's (or composite's) result on the probe: relevance (C, H, W) or None when the walk stopped.

    `rule` is the rule applied to every dense and conv2d layer, None for a preset composite; the
    ledger's entries say which rule each layer actually got.
    """

    rule: Rule | None
    relevance: np.ndarray | None
    ledger: LRPLedger
    top_k: list[dict]
    name: str = ""

    @property
    def composite(self) -> Composite:
        return self.ledger.composite

    @property
    def first_rule(self) -> Rule | None:
        """The rule the composite's first-layer list gives (None when it has none)."""
        first = self.composite.first
        return first[0][1] if first else None

    @property
    def last_rule(self) -> Rule | None:
        """The rule the composite's last-layer list gives (None when it has none)."""
        last = self.composite.last
        return last[0][1] if last else None

    @property
    def max_unexplained(self) -> float:
        return self.ledger.max_unexplained


@dataclass
class LRPReport(ProbeReport):
    params: dict  # eps, gamma, alpha, beta, bias, pool, first, last, low, high
    runs: dict[str, RuleRun]  # rule or composite name -> result, in display order
    composite: str | None
    compare: bool

    @property
    def weights_unchanged(self) -> bool:
        return self.params_before == self.params_after and all(r.ledger.weights_unchanged for r in self.runs.values())

    @property
    def max_unexplained(self) -> float:
        """Largest |unexplained| over every rule run, every layer reached (NaN if any run overflowed)."""
        return float(np.max([run.max_unexplained for run in self.runs.values()]))

    @property
    def complete(self) -> bool:
        """Every rule carried relevance all the way to the input."""
        return all(run.ledger.complete for run in self.runs.values())


def zbox_bounds(x: np.ndarray, low: float | None, high: float | None) -> tuple[float, float]:
    """The z-box bounds for input `x`: `low`/`high` where given, else the input's min / max.

    Raises UserError (a ValueError) when low >= high, or when `x` leaves the box (the rule assumes
    low <= x <= high).
    """
    lo = float(x.min()) if low is None else float(low)
    hi = float(x.max()) if high is None else float(high)
    if not lo < hi:
        raise UserError(f"the zbox bounds need low < high, got low {lo:g} and high {hi:g}")
    if x.min() < lo or x.max() > hi:
        raise UserError(
            f"the input spans [{x.min():.4g}, {x.max():.4g}], outside the zbox bounds [{lo:g}, {hi:g}]: "
            "the z-box rule assumes low <= x <= high"
        )
    return lo, hi


def uses_zbox(composite: Composite) -> bool:
    return any(isinstance(rule, ZBox) for _, rule in composite.first + composite.last + composite.mapping)


def lrp_report(net, probe, **options) -> LRPReport:
    """Run LRP with each rule in `rules` (or the preset `composite`) on `probe.x` (C, H, W).

    Parameters
    ----------
    net : Network
    probe : Probe (x (C, H, W), source, label)
    rules : names in `RULES`, run in this order on the same probe (ignored when `composite` is given)
    composite : a preset name in `COMPOSITES`
    target : class to explain (default: the predicted class)
    eps, gamma, alpha, bias, pool, first, last, low, high : as in `lrp`
    top_k : positions listed per rule
    compare : whether the report is a side-by-side comparison (changes only the presentation)
    """
    return lrp_reports(net, [probe], **options)[0]


def _plans(rules, composite, pool, first, options, last=None) -> dict[str, tuple[Rule | None, Composite]]:
    """Rule or composite name -> (the rule for every layer or None, the composite that applies it)."""
    unknown = [r for r in rules if r not in RULES]
    if unknown:
        raise ValueError(f"unknown rule(s) {', '.join(unknown)}; choose from {', '.join(sorted(RULES))}")
    if composite is not None:
        plans = {composite: (None, make_composite(composite, pool=pool, **options))}
    else:
        plans = {}
        for name in rules:
            rule = make_rule(name, **options)
            plans[name] = (rule, Composite.single(rule, pool=pool))
    if first is not None:
        first_rule = build_rule(first, **options)
        plans = {name: (rule, c.with_first(first_rule)) for name, (rule, c) in plans.items()}
    if last is not None:
        last_rule = make_rule(last, **options)
        plans = {name: (rule, c.with_last(last_rule)) for name, (rule, c) in plans.items()}
    return plans


#: Rule settings that the options set, each given a value no default and no preset uses (see below).
_MARKERS = {"eps": 0.0123456789, "gamma": 0.987654321, "alpha": 3.14159265, "low": -1234.5678, "high": 1234.5678}


def settings_in_use(net, *, rules=("epsilon",), composite=None, first=None, last=None, pool="winner") -> set[str]:
    """Which of eps, gamma, alpha, low, high (and pool) a run of `lrp_report` would use on `net`.

    NOTE: each setting gets a marker value; a setting is in use when a rule applied to some layer of
    `net` reports that value in its params(). A preset's fixed settings (alpha 2 in epsilon-alpha2-beta1)
    and rules for layer types the network lacks (conv2d on a dense-only model) are therefore not in use.
    """
    plans = _plans(rules, composite, pool, first, {**_MARKERS, "bias": True}, last)
    walked = canonicalise(net)[0] if isinstance(net, Graph) else net  # the graph the walk applies rules to
    used = set()
    for _, plan in plans.values():
        for rule in plan.rules(walked):
            params = rule.params() if rule is not None and hasattr(rule, "params") else {}
            used.update(k for k, v in params.items() if k in _MARKERS and v == _MARKERS[k])
    if any(layer.type in ("maxpool2d", "MaxPool") for layer in net.layers):
        used.add("pool")
    return used


def lrp_reports(
    net,
    probes,
    *,
    rules=("epsilon",),
    composite: str | None = None,
    target=None,
    eps: float = 1e-2,
    gamma: float = 0.25,
    alpha: float = 2.0,
    bias: bool = True,
    pool: str = "winner",
    first: str | None = None,
    last: str | None = None,
    low: float | None = None,
    high: float | None = None,
    top_k: int = 8,
    compare: bool = False,
    batch_size: int | None = None,
    progress=None,
) -> list[LRPReport]:
    """`lrp_report` for many probes: each rule's walk takes `batch_size` probes at a time (default
    `default_rows(net)`), and every probe gets its own report, ledger and top-K, as if explained alone.

    `target` is None (each probe's predicted class), one class for all or one per probe;
    `progress(done, total)`, when given, is called with the numbers of probes done and in all after each chunk.
    """
    options = {"eps": eps, "gamma": gamma, "alpha": alpha, "bias": bias, "low": low, "high": high}
    plans = _plans(rules, composite, pool, first, options, last)
    zbox = any(uses_zbox(c) for _, c in plans.values())
    per_probe = target is not None and np.ndim(target) > 0
    before = net.params_hash()
    reports: list[LRPReport] = []
    for rows in row_chunks(len(probes), batch_size, net):
        chunk = probes[rows]
        x = np.stack([np.asarray(p.x, dtype=np.float64) for p in chunk])
        bounds = [
            _probe_bounds(p, xi, low, high, len(probes)) if zbox else None for p, xi in zip(chunk, x, strict=True)
        ]
        tgt = np.asarray(target)[rows] if per_probe else target
        walks = {name: (rule, *lrp(net, x, target=tgt, composite=plan)) for name, (rule, plan) in plans.items()}
        after = net.params_hash()
        for i, probe in enumerate(chunk):
            runs = {}
            for name, (rule, relevance, ledger) in walks.items():
                r = None if relevance is None else relevance[i]
                top = top_k_pixels(r, top_k, by=np.abs(r)) if r is not None else []
                runs[name] = RuleRun(rule, r, ledger.select(slice(i, i + 1)), top, name)
            ledger = next(iter(runs.values())).ledger
            lo, hi = bounds[i] or (None, None)
            params = {"eps": float(eps), "gamma": float(gamma), "alpha": float(alpha), "beta": float(alpha) - 1.0}
            params.update(bias=bias, pool=pool, first=first, last=last, low=lo, high=hi)
            reports.append(
                LRPReport(
                    **probe_fields(
                        net,
                        x[i],
                        probe.source,
                        probe.label,
                        ledger.logits[0],
                        int(ledger.target[0]),
                        target is not None,
                    ),
                    params=params,
                    runs=runs,
                    composite=composite,
                    compare=compare,
                    params_before=before,
                    params_after=after,
                )
            )
        if progress is not None:
            progress(len(reports), len(probes))
    return reports


def _probe_bounds(probe, x, low, high, n: int) -> tuple[float, float]:
    """`zbox_bounds` of one probe; in a batch, a refusal names the probe."""
    try:
        return zbox_bounds(x, low, high)
    except UserError as exc:
        if n == 1:
            raise
        raise UserError(f"{probe.source}: {exc}") from None


def _run_document(run: RuleRun) -> dict:
    ledger = run.ledger
    stopped = None
    if ledger.stopped is not None:
        s = ledger.stopped
        stopped = {"index": s.index, "name": s.name, "type": s.type, "reason": ledger.reason}
    return {
        "rule": None if run.rule is None else run.rule.name,
        "composite": run.composite.name,
        "relevance": run.relevance,
        "complete": ledger.complete,
        "stopped": stopped,
        "layers": ledger.rows(0),
        "totals": ledger.totals(0),
        "max_unexplained": run.max_unexplained,
        "top_k": run.top_k,
    }


#: Every top-level key an LRP document can have (for `--fields`), in document order.
FIELDS = (
    "command", "model", "rule", "composite", "params", "input", "source", "label", "prediction", "target", "compare",
    "rules", "complete", "relevance", "stopped", "layers", "totals", "max_unexplained", "top_k", "weights_unchanged",
    "params_sha256",
)  # fmt: skip


def lrp_document(report: LRPReport) -> dict:
    """The JSON document of `saliency-cli lrp --format json` (numpy arrays left for the encoder)."""
    doc = {
        "command": "lrp",
        "model": report.model,
        "rule": None,
        "composite": report.composite,
        "params": report.params,
        **probe_document(report),
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
