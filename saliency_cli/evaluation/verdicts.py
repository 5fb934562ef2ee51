"""Per-family verdicts: which metrics are judged, how methods rank on them, and which controls the best beats.

A family's judged metrics are its computed metrics that are `judged` (the signed sanity scores are
reported only), not saturated (`Table.saturated`), and not a second count of the same evidence: when
the LeRF area saturates, abpc = LeRF - deletion is deletion mirrored and counts once, as deletion. A
method is ranked only when every judged metric applies to it; its rank on a metric is 1 for the best
mean, ties sharing the mean of their places; `best` is every method with the lowest mean rank. A
method beats a control on a metric when the paired bootstrap interval of (method - control) per probe
lies on the better side of 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .metrics import AXIOMS, FAMILIES, METRICS
from .table import Table

#: why a computed metric is not judged (the JSON's `excluded`), and the word the text uses for each
REPORTED = "reported, not judged"
AXIOM = "an axiom check of what a method claims about itself, reported per method, never ranked"
SATURATED = "saturated: the methods' means span no more than the widest method interval (or 0.01)"
COUNTED_ONCE = "LeRF is saturated, so abpc is deletion mirrored: counted once, as deletion"
SHORT = {
    REPORTED: "reported only",
    AXIOM: "axiom check",
    SATURATED: "saturated",
    COUNTED_ONCE: "counted once, as deletion",
}


@dataclass
class Verdict:
    family: str
    best: list[str]  # the methods with the lowest mean rank (more than one only when tied)
    mean_rank: float | None
    metrics: list[str]  # the family's metrics that were computed
    judged: list[str]  # of those, the ones the ranking uses
    excluded: dict[str, str]  # metric -> why it is not judged
    ranks: dict[str, float]  # ranked method -> mean rank over `judged`
    beats: dict[str, dict[str, list[str]]]  # method in `best` -> control -> judged metrics it beats it on
    controls: list[str]


def exclusions(table: Table, metrics) -> dict[str, str]:
    """metric -> why it is not judged, for the computed metrics that are not."""
    out = {}
    for metric in metrics:
        if METRICS[metric].family == AXIOMS:
            out[metric] = AXIOM
        elif not METRICS[metric].judged:
            out[metric] = REPORTED
        elif table.saturated(metric):
            out[metric] = SATURATED
    if (
        "abpc" in metrics
        and "abpc" not in out
        and "deletion" in metrics
        and "deletion" not in out
        and table.lerf
        and table.saturated("lerf")
    ):
        out["abpc"] = COUNTED_ONCE
    return out


def rank_sums(table: Table, metrics: list[str]) -> dict[str, float]:
    """Sum of each method's ranks over `metrics` (1 = best mean, ties share their places), for the methods
    every metric applies to; sums of ranks are multiples of 1/2, so ties between sums are exact."""
    ranked = [m for m in table.methods if all(not table.cell(m, metric).empty for metric in metrics)]
    sums = dict.fromkeys(ranked, 0.0)
    for metric in metrics:
        sign = 1.0 if METRICS[metric].direction == "higher" else -1.0
        values = np.array([-sign * table.cell(m, metric).mean for m in ranked])
        for m, v in zip(ranked, values, strict=True):
            sums[m] += 1.0 + (values < v).sum() + ((values == v).sum() - 1) / 2.0
    return sums if metrics else {}


def beaten(table: Table, method: str, metrics: list[str]) -> dict[str, list[str]]:
    """control -> the metrics of `metrics` on which `method` beats it (paired interval)."""
    return {c: [m for m in metrics if table.beats(method, c, m)] for c in table.controls}


def verdict(table: Table, family: str, excluded: dict[str, str]) -> Verdict:
    names = [m for m in FAMILIES[family] if m in table.metrics]
    judged = [m for m in names if m not in excluded]
    sums = rank_sums(table, judged)
    ranks = {m: s / len(judged) for m, s in sums.items()}
    if not ranks:
        return Verdict(family, [], None, names, judged, {m: excluded[m] for m in names if m in excluded}, {}, {},
                       table.controls)  # fmt: skip
    low = min(sums.values())
    best = [m for m in sums if sums[m] == low]
    beats = {m: beaten(table, m, judged) for m in best}
    why = {m: excluded[m] for m in names if m in excluded}
    return Verdict(family, best, ranks[best[0]], names, judged, why, ranks, beats, table.controls)


def judged_in(verdicts: list[Verdict], *families: str) -> list[str]:
    return [m for v in verdicts if v.family in families for m in v.judged]
