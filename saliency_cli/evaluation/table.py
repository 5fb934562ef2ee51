"""Per-probe values of every method on every metric, their means with intervals, and which metrics saturate.

A `Table` holds what the verdicts are drawn from: each method's per-probe values ((n,), or (K, n) per
randomisation draw and probe for MPRT), restricted to the probes each metric's mean is over. Its cells
are bootstrap means; `difference` is the paired bootstrap of (method - control) per probe (the same
resample indices for both, see bootstrap.resample_indices).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .bootstrap import mean_ci
from .metrics import METRICS

#: a metric whose method means span no more than this (or than the widest method interval) is saturated
MIN_SPAN = 0.01


@dataclass
class Cell:
    mean: float
    ci: tuple[float, float]
    n: int

    @property
    def empty(self) -> bool:
        return self.n == 0

    @property
    def width(self) -> float:
        return self.ci[1] - self.ci[0]


@dataclass
class Table:
    values: dict[str, dict[str, np.ndarray]]  # method -> metric -> (n,) or (K, n); NaN: n/a
    methods: list[str]  # the compared methods, in display order (controls excluded)
    controls: list[str]
    metrics: tuple[str, ...]
    resamples: int = 1000
    seed: int = 0
    lerf: dict[str, np.ndarray] = field(default_factory=dict)  # method -> (n,) LeRF area, when computed
    _cells: dict = field(default_factory=dict, repr=False)
    _differences: dict = field(default_factory=dict, repr=False)

    def cell(self, method: str, metric: str) -> Cell:
        key = (method, metric)
        if key not in self._cells:
            values = self.lerf[method] if metric == "lerf" else self.values[method][metric]
            self._cells[key] = Cell(*mean_ci(values, self.resamples, self.seed))
        return self._cells[key]

    def difference(self, method: str, control: str, metric: str) -> Cell:
        """Mean and paired 95% interval of (method - control) over the probes where both have a value."""
        key = (method, control, metric)
        if key not in self._differences:
            a = np.asarray(self.values[method][metric], dtype=np.float64)
            b = np.asarray(self.values[control][metric], dtype=np.float64)
            if a.ndim != b.ndim:  # a method's draws against a control's single value per probe
                a, b = np.atleast_2d(a), np.atleast_2d(b)
            self._differences[key] = Cell(*mean_ci(a - b, self.resamples, self.seed))
        return self._differences[key]

    def beats(self, method: str, control: str, metric: str) -> bool:
        """Whether the paired interval of (method - control) lies strictly on the better side of 0."""
        d = self.difference(method, control, metric)
        if d.empty:
            return False
        return d.ci[0] > 0 if METRICS[metric].direction == "higher" else d.ci[1] < 0

    def saturated(self, metric: str) -> bool:
        """Whether `metric` fails to discriminate between the methods (see `saturation`)."""
        return saturation([self.cell(m, metric) for m in self.methods])


def saturation(cells: list[Cell]) -> bool:
    """True when the means of the scored cells span no more than the widest of their intervals (or
    MIN_SPAN, whichever is larger): the metric then cannot tell the methods apart.

    NOTE: with fewer than two scored methods there is nothing to tell apart, and no metric is flagged.
    """
    scored = [c for c in cells if not c.empty]
    if len(scored) < 2:
        return False
    means = [c.mean for c in scored]
    return max(means) - min(means) <= max(MIN_SPAN, max(c.width for c in scored))
