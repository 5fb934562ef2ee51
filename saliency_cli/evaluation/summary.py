"""From per-probe values to the report: means with bootstrap intervals, saturation, verdicts, axioms, one
recommendation, and the warnings a reader needs.

Localisation means leave out misclassified probes unless `include_wrong`; faithfulness and sanity use
every probe. NaN per-probe values are n/a (an AUC with no negatives, conservation of a method that
claims none) and are left out of the mean; `n` says how many values went in. MPRT's values are per
randomisation draw and probe, and their intervals come from a two-level bootstrap.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .faithfulness import CURVES, fractions
from .methods import METHODS
from .metrics import AXIOMS, LOCALISATION, METRICS, RANKED
from .recommend import Recommendation, recommend
from .run import Evaluation
from .substrates import USELESS_PROBABILITY
from .table import Cell, Table
from .verdicts import SATURATED, Verdict, exclusions, verdict

__all__ = ["Cell", "Summary", "Verdict", "curve_fractions", "summarise"]


@dataclass
class Summary:
    evaluation: Evaluation
    table: Table
    best: dict[str, list[str]]  # judged, unsaturated metric -> best non-control method(s)
    saturated: dict[str, bool]  # metric -> True when it cannot tell the methods apart
    excluded: dict[str, str]  # metric -> why no verdict uses it
    curves: dict[str, dict[str, list[float]]]  # method -> curve name -> mean probability per step
    logit_curves: dict[str, dict[str, list[float]]]
    mprt: dict[str, list[float]]  # method -> mean |Spearman| per randomisation step, over draws and probes
    mprt_signed: dict[str, list[float]]
    per_draw: dict[str, dict[str, list[float]]]  # method -> drawn metric -> each draw's mean
    verdicts: list[Verdict]
    recommendation: Recommendation
    warnings: list[str]

    @property
    def cells(self) -> dict[str, dict[str, Cell]]:
        return {m: {metric: self.table.cell(m, metric) for metric in self.metrics} for m in self.evaluation.methods}

    @property
    def metrics(self) -> tuple[str, ...]:
        return self.evaluation.settings.metrics

    @property
    def methods(self) -> list[str]:
        return self.table.methods

    @property
    def controls(self) -> list[str]:
        return self.table.controls

    @property
    def axioms(self) -> dict[str, Cell]:
        """method -> its conservation residual, for the methods that claim conservation."""
        return {
            m: self.table.cell(m, name)
            for name in self.metrics
            if METRICS[name].family == AXIOMS
            for m in self.methods
            if not self.table.cell(m, name).empty
        }


def _rows(ev: Evaluation, metric: str) -> np.ndarray:
    """Which probes a metric's mean is over."""
    if METRICS[metric].family == LOCALISATION and not ev.settings.include_wrong:
        return ~ev.wrong
    return np.ones(len(ev.probes), dtype=bool)


def table_of(ev: Evaluation) -> Table:
    """The per-probe values the summary is drawn from, restricted to each metric's probes."""
    s = ev.settings
    values: dict[str, dict[str, np.ndarray]] = {}
    for name, result in ev.methods.items():
        values[name] = {}
        for metric in s.metrics:
            rows = _rows(ev, metric)
            v = result.per_draw.get(metric, result.values[metric])
            values[name][metric] = v[..., rows]
    lerf = {name: r.lerf for name, r in ev.methods.items() if r.lerf is not None}
    methods = [m for m in s.methods if not METHODS[m].control]
    controls = [m for m in s.methods if METHODS[m].control]
    return Table(values, methods, controls, s.metrics, s.resamples, s.seed, lerf)


def _best(table: Table, metric: str) -> list[str]:
    scored = [m for m in table.methods if not table.cell(m, metric).empty]
    if not scored:
        return []
    sign = 1.0 if METRICS[metric].direction == "higher" else -1.0
    top = max(sign * table.cell(m, metric).mean for m in scored)
    return [m for m in scored if sign * table.cell(m, metric).mean == top]


def substrate_warnings(ev: Evaluation) -> list[str]:
    """One line per substrate in use whose own probability for the explained class is above the limit."""
    chances, s = ev.substrate_probability, ev.settings
    if not chances:
        return []
    out = []
    for role, name, option in (("deletion", s.substrate, "--substrate"),
                               ("insertion", s.insertion_substrate, "--insertion-substrate")):  # fmt: skip
        p = chances[name]
        if p > USELESS_PROBABILITY:
            good = min(chances, key=chances.get)
            use = (
                f"try {option} {good} (p = {chances[good]:.2f})"
                if chances[good] <= USELESS_PROBABILITY
                else "no substrate removes the class evidence on this model"
            )
            out.append(
                f"the {name} substrate ({role}) is still classified as the explained class with p = {p:.2f}: "
                f"its {role} curves cannot show anything; {use}"
            )
    return out


def summarise(ev: Evaluation) -> Summary:
    s = ev.settings
    table = table_of(ev)
    curves, logit_curves, mprt, mprt_signed, per_draw = {}, {}, {}, {}, {}
    for name, result in ev.methods.items():
        if result.curves is not None:
            curves[name] = {k: result.curves.probability[k].mean(axis=0).tolist() for k in CURVES}
            logit_curves[name] = {k: result.curves.logit[k].mean(axis=0).tolist() for k in CURVES}
        if result.mprt is not None:
            mprt[name] = result.mprt.mean(axis=(0, 1)).tolist()
            mprt_signed[name] = result.mprt_signed.mean(axis=(0, 1)).tolist()
            per_draw[name] = {m: [float(np.nanmean(d)) if np.isfinite(d).any() else None for d in v]
                              for m, v in result.per_draw.items() if m in s.metrics}  # fmt: skip
    excluded = exclusions(table, s.metrics)
    saturated = {m: excluded.get(m) == SATURATED for m in s.metrics}
    best = {m: [] if m in excluded or METRICS[m].family not in RANKED else _best(table, m) for m in s.metrics}
    verdicts = [
        verdict(table, family, excluded) for family in RANKED if any(METRICS[m].family == family for m in s.metrics)
    ]
    rec = recommend(table, verdicts)
    return Summary(ev, table, best, saturated, excluded, curves, logit_curves, mprt, mprt_signed, per_draw,
                   verdicts, rec, substrate_warnings(ev))  # fmt: skip


def curve_fractions(summary: Summary) -> list[float]:
    return fractions(summary.evaluation.settings.steps).tolist()
