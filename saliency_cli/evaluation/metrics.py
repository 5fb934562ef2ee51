"""The metric registry: every metric's name, family, direction and definition, in display order.

The definitions are the ones `evaluate --help`, the JSON document and docs/evaluation.md give.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

HIGHER, LOWER = "higher", "lower"
LOCALISATION, FAITHFULNESS, SANITY = "localisation", "faithfulness", "sanity"


@dataclass(frozen=True)
class Metric:
    name: str
    family: str
    direction: str  # HIGHER or LOWER is better
    definition: str
    summary: str = ""  # one short line for --help

    @property
    def arrow(self) -> str:
        return "↑" if self.direction == HIGHER else "↓"

    def better(self, a: float, b: float) -> bool:
        """Whether value `a` is strictly better than `b`."""
        return a > b if self.direction == HIGHER else a < b


_METRICS = (
    Metric(
        "pointing-game",
        LOCALISATION,
        HIGHER,
        "1 when the map's maximum lies in the mask; tied maxima count fractionally (the share of them in the "
        "mask), so a constant map scores the mask's share of positions",
    ),
    Metric(
        "mass-accuracy",
        LOCALISATION,
        HIGHER,
        "positive relevance inside the mask / all positive relevance (the whole map for maps of absolute "
        "values); 0 for a map with no positive relevance",
    ),
    Metric(
        "rank-accuracy",
        LOCALISATION,
        HIGHER,
        "of the K = |mask| highest-ranked positions, the share inside the mask; positions tied with the K-th "
        "value share the remaining places fractionally",
    ),
    Metric(
        "auc",
        LOCALISATION,
        HIGHER,
        "ROC AUC of the map as a detector of mask positions (Mann-Whitney U, ties 1/2); n/a for a mask "
        "covering every position",
    ),
    Metric(
        "deletion",
        FAITHFULNESS,
        LOWER,
        "area under the explained class's probability as the most relevant positions are replaced by the "
        "substrate first (MoRF), over the removed fraction in [0, 1] (trapezoid rule, --steps equal steps)",
    ),
    Metric(
        "insertion",
        FAITHFULNESS,
        HIGHER,
        "area under the explained class's probability as the most relevant positions are restored into the "
        "substrate first, over the inserted fraction in [0, 1] (trapezoid rule)",
    ),
    Metric(
        "abpc",
        FAITHFULNESS,
        HIGHER,
        "area between the least-relevant-first (LeRF) and most-relevant-first (MoRF) deletion curves, LeRF - MoRF",
    ),
    Metric(
        "mprt",
        SANITY,
        LOWER,
        "Spearman correlation of the map with the map of the model whose layers were re-initialised from "
        "the output down (after all of them; --mprt-order independent: mean over single layers); the "
        "original map's self-similarity is never averaged in",
    ),
    Metric(
        "random-logit",
        SANITY,
        LOWER,
        "Spearman correlation of the map for the explained class with the map for another class",
    ),
    Metric(
        "conservation",
        SANITY,
        LOWER,
        "|sum(map) - claimed total| / |claimed total| for methods that claim conservation (IG: score(x) - "
        "score(baseline); LRP: the explained logit); n/a for the others",
    ),
)

_SUMMARIES = {
    "pointing-game": "the map's maximum lies in the mask (tied maxima count fractionally)",
    "mass-accuracy": "share of the positive relevance inside the mask",
    "rank-accuracy": "share of the |mask| top-ranked positions inside the mask (ties fractional)",
    "auc": "ROC AUC of the map as a detector of the mask (ties 1/2)",
    "deletion": "area under the probability as the most relevant positions are removed first",
    "insertion": "area under the probability as the most relevant positions are restored first",
    "abpc": "area between the least- and most-relevant-first deletion curves",
    "mprt": "Spearman with the map of the re-initialised model (all layers, output first)",
    "random-logit": "Spearman with the map explaining another class",
    "conservation": "|sum(map) - claimed total| / |claimed total| (IG, LRP)",
}
_METRICS = tuple(replace(m, summary=_SUMMARIES[m.name]) for m in _METRICS)

#: metric name -> Metric, in display order
METRICS: dict[str, Metric] = {m.name: m for m in _METRICS}

#: family name -> its metric names, in display order
FAMILIES: dict[str, tuple[str, ...]] = {
    family: tuple(m.name for m in _METRICS if m.family == family) for family in (LOCALISATION, FAITHFULNESS, SANITY)
}
