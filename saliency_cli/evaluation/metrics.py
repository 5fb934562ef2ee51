"""The metric registry: every metric's name, family, direction and definition, in display order.

The definitions are the ones `evaluate --help`, the JSON document and docs/evaluation.md give. A metric
that is not `judged` is reported beside the others and never used in a ranking or a verdict (the signed
sanity correlations); the `axioms` family (conservation) is a check of what a method claims about
itself, reported per method and never ranked.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

HIGHER, LOWER = "higher", "lower"
LOCALISATION, FAITHFULNESS, SANITY, AXIOMS = "localisation", "faithfulness", "sanity", "axioms"

#: the families whose metrics rank methods in a verdict (axioms are reported, never ranked)
RANKED = (LOCALISATION, FAITHFULNESS, SANITY)


@dataclass(frozen=True)
class Metric:
    name: str
    family: str
    direction: str  # HIGHER or LOWER is better
    definition: str
    summary: str = ""  # one short line for --help
    judged: bool = True  # False: reported, never ranked nor used in a verdict

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
        "area under the explained class's probability as the most relevant positions are restored first into "
        "the insertion canvas (--insertion-substrate; a blur by default, as in Petsiuk et al. 2018), over the "
        "inserted fraction in [0, 1] (trapezoid rule)",
    ),
    Metric(
        "abpc",
        FAITHFULNESS,
        HIGHER,
        "area between the least-relevant-first (LeRF) and most-relevant-first (MoRF) deletion curves, LeRF - MoRF "
        "(when LeRF saturates, abpc is deletion mirrored and no verdict counts it)",
    ),
    Metric(
        "mprt",
        SANITY,
        LOWER,
        "Spearman correlation of the absolute map |m| with the absolute map |m'| of the model whose layers were "
        "re-initialised from the output down (after all of them; --mprt-order independent: mean over single "
        "layers), averaged over --draws independent re-initialisations; the original map's self-similarity is "
        "never averaged in; the interval resamples draws and probes",
    ),
    Metric(
        "random-logit",
        SANITY,
        LOWER,
        "Spearman correlation of the absolute map for the explained class with the absolute map for another class",
    ),
    Metric(
        "mprt-signed",
        SANITY,
        LOWER,
        "as mprt, on the signed maps (a map that turns into its own negative scores -1, though it still "
        "depends fully on the original); reported, not judged",
        judged=False,
    ),
    Metric(
        "random-logit-signed",
        SANITY,
        LOWER,
        "as random-logit, on the signed maps; reported, not judged",
        judged=False,
    ),
    Metric(
        "conservation",
        AXIOMS,
        LOWER,
        "|sum(map) - claimed total| / |claimed total| for methods that claim conservation (IG: score(x) - "
        "score(baseline); LRP: the explained logit); n/a for the others; an axiom check, never ranked",
        judged=False,
    ),
)

_SUMMARIES = {
    "pointing-game": "the map's maximum lies in the mask (tied maxima count fractionally)",
    "mass-accuracy": "share of the positive relevance inside the mask",
    "rank-accuracy": "share of the |mask| top-ranked positions in the mask (ties fractional)",
    "auc": "ROC AUC of the map as a detector of the mask (ties 1/2)",
    "deletion": "area under the probability, the most relevant positions removed first",
    "insertion": "area under the probability, most relevant first restored into a canvas",
    "abpc": "area between the least- and most-relevant-first deletion curves",
    "mprt": "Spearman of |map| with |map| of the re-initialised model, over --draws",
    "random-logit": "Spearman of |map| with |map| explaining another class",
    "mprt-signed": "mprt on the signed maps (reported, not judged)",
    "random-logit-signed": "random-logit on the signed maps (reported, not judged)",
    "conservation": "|sum(map) - claimed total| / |claimed total| (IG, LRP; axiom)",
}
_METRICS = tuple(replace(m, summary=_SUMMARIES[m.name]) for m in _METRICS)

#: metric name -> Metric, in display order
METRICS: dict[str, Metric] = {m.name: m for m in _METRICS}

#: family name -> its metric names, in display order
FAMILIES: dict[str, tuple[str, ...]] = {
    family: tuple(m.name for m in _METRICS if m.family == family)
    for family in (LOCALISATION, FAITHFULNESS, SANITY, AXIOMS)
}


def metrics_without_masks(metrics: tuple[str, ...], metrics_given: bool, include_wrong_given: bool) -> tuple[str, ...]:
    """Probes without ground-truth masks: `metrics` less the localisation ones (the report says why). Asking for
    one of those (`metrics_given`), or for --include-wrong (which only the localisation means read), is refused."""
    from ..errors import UserError

    local = [m for m in metrics if METRICS[m].family == LOCALISATION]
    if local and metrics_given:
        raise UserError(f"--metrics {local[0]} needs ground-truth masks, and these probes have none")
    if include_wrong_given:
        raise UserError("--include-wrong keeps misclassified probes in the localisation means: these probes have none")
    return tuple(m for m in metrics if m not in local)
