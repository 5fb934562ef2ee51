"""From per-probe values to the table: means with bootstrap intervals, the best per column, verdicts.

Localisation means leave out misclassified probes unless `include_wrong`; faithfulness and sanity use
every probe. NaN per-probe values are n/a (an AUC with no negatives, conservation of a method that
claims none) and are left out of the mean; `n` says how many values went in.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .bootstrap import mean_ci
from .faithfulness import CURVES, fractions
from .methods import METHODS
from .metrics import FAMILIES, LOCALISATION, METRICS
from .run import Evaluation


@dataclass
class Cell:
    mean: float
    ci: tuple[float, float]
    n: int

    @property
    def empty(self) -> bool:
        return self.n == 0


@dataclass
class Verdict:
    family: str
    best: str | None  # the non-control method with the best mean rank over the family's metrics
    mean_rank: float | None
    metrics: list[str]  # the family's metrics that were computed
    beats: list[str]  # of those, where `best` beats every control with non-overlapping intervals
    judged: list[str]  # of those, the ones with a control value to compare with
    controls: list[str]


@dataclass
class Summary:
    evaluation: Evaluation
    cells: dict[str, dict[str, Cell]]  # method -> metric -> cell
    best: dict[str, list[str]]  # metric -> best non-control method(s)
    curves: dict[str, dict[str, list[float]]]  # method -> curve name -> mean probability per step
    logit_curves: dict[str, dict[str, list[float]]]
    mprt: dict[str, list[float]]  # method -> mean Spearman per randomisation step
    verdicts: list[Verdict]

    @property
    def metrics(self) -> tuple[str, ...]:
        return self.evaluation.settings.metrics

    @property
    def methods(self) -> list[str]:
        return [m for m in self.evaluation.settings.methods if not METHODS[m].control]

    @property
    def controls(self) -> list[str]:
        return [m for m in self.evaluation.settings.methods if METHODS[m].control]


def _rows(ev: Evaluation, metric: str) -> np.ndarray:
    """Which probes a metric's mean is over."""
    if METRICS[metric].family == LOCALISATION and not ev.settings.include_wrong:
        return ~ev.wrong
    return np.ones(len(ev.probes), dtype=bool)


def _best(cells: dict[str, dict[str, Cell]], methods: list[str], metric: str) -> list[str]:
    scored = [m for m in methods if not cells[m][metric].empty]
    if not scored:
        return []
    sign = 1.0 if METRICS[metric].direction == "higher" else -1.0
    top = max(sign * cells[m][metric].mean for m in scored)
    return [m for m in scored if sign * cells[m][metric].mean == top]


def _beats(metric: str, a: Cell, b: Cell) -> bool:
    """`a`'s interval lies strictly on the better side of `b`'s."""
    return a.ci[0] > b.ci[1] if METRICS[metric].direction == "higher" else a.ci[1] < b.ci[0]


def _verdict(family: str, cells, methods: list[str], controls: list[str], metrics) -> Verdict:
    names = [m for m in FAMILIES[family] if m in metrics]
    ranks: dict[str, list[float]] = {m: [] for m in methods}
    for metric in names:
        scored = [m for m in methods if not cells[m][metric].empty]
        sign = 1.0 if METRICS[metric].direction == "higher" else -1.0
        values = np.array([-sign * cells[m][metric].mean for m in scored])
        for m, v in zip(scored, values, strict=True):
            ranks[m].append(1.0 + (values < v).sum() + ((values == v).sum() - 1) / 2.0)
    ranked = {m: float(np.mean(r)) for m, r in ranks.items() if r}
    if not ranked:
        return Verdict(family, None, None, names, [], [], controls)
    best = min(ranked, key=lambda m: (ranked[m], methods.index(m)))
    judged, beats = [], []
    for metric in names:
        others = [cells[c][metric] for c in controls if not cells[c][metric].empty]
        if cells[best][metric].empty or not others:
            continue
        judged.append(metric)
        if all(_beats(metric, cells[best][metric], o) for o in others):
            beats.append(metric)
    return Verdict(family, best, ranked[best], names, beats, judged, controls)


def summarise(ev: Evaluation) -> Summary:
    s = ev.settings
    cells: dict[str, dict[str, Cell]] = {}
    curves, logit_curves, mprt = {}, {}, {}
    for name, result in ev.methods.items():
        cells[name] = {}
        for metric in s.metrics:
            values = result.values[metric][_rows(ev, metric)]
            mean, ci, n = mean_ci(values, s.resamples, s.seed)
            cells[name][metric] = Cell(mean, ci, n)
        if result.curves is not None:
            curves[name] = {k: result.curves.probability[k].mean(axis=0).tolist() for k in CURVES}
            logit_curves[name] = {k: result.curves.logit[k].mean(axis=0).tolist() for k in CURVES}
        if result.mprt is not None:
            mprt[name] = result.mprt.mean(axis=0).tolist()
    methods = [m for m in s.methods if not METHODS[m].control]
    controls = [m for m in s.methods if METHODS[m].control]
    best = {metric: _best(cells, methods, metric) for metric in s.metrics}
    verdicts = [
        _verdict(family, cells, methods, controls, s.metrics)
        for family in FAMILIES
        if any(m in s.metrics for m in FAMILIES[family])
    ]
    return Summary(ev, cells, best, curves, logit_curves, mprt, verdicts)


def curve_fractions(summary: Summary) -> list[float]:
    return fractions(summary.evaluation.settings.steps).tolist()
