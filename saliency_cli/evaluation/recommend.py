"""One recommendation: the method to believe on this model and probe set, and why (or none, and why).

The rule (docs/evaluation.md gives it in full):
1. Sanity: a method passes when, on every computed judged-kind sanity metric (absolute MPRT, absolute
   random-logit), the paired 95% interval of (method - control) lies below 0 for every control: its map
   depends on the model's weights and on the class more than a map that ignores them. NOTE: this gate
   compares each method with the controls, not methods with each other, so it uses these metrics even
   when they are saturated (every method alike): methods whose maps all ignore the weights saturate
   MPRT at 1 and must all fail. With no sanity metric computed every method passes, and the reasons
   say sanity was not checked.
2. Evidence: of those, the methods that beat every control on at least one judged localisation or
   faithfulness metric.
3. The recommendation is the one of them with the lowest mean rank over all judged localisation and
   faithfulness metrics together (ranked among every method those metrics apply to); `ties` lists the
   others with the same mean rank. No candidate: the method is None and `reason` says which step
   left none.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .metrics import FAITHFULNESS, FAMILIES, LOCALISATION, METRICS, SANITY
from .table import Table
from .verdicts import Verdict, judged_in, rank_sums


@dataclass
class Recommendation:
    method: str | None
    ties: list[str] = field(default_factory=list)  # other methods with the same mean rank
    reasons: dict[str, str] = field(default_factory=dict)  # family -> why, for `method`
    reason: str = ""  # why there is none (empty when there is a method)
    mean_rank: float | None = None
    passes_sanity: list[str] = field(default_factory=list)  # the methods that pass step 1


def _join(names) -> str:
    names = list(names)
    return " and ".join(names) if len(names) < 3 else ", ".join(names[:-1]) + " and " + names[-1]


def passes_sanity(table: Table, metrics: list[str]) -> list[str]:
    return [m for m in table.methods if all(table.beats(m, c, metric) for metric in metrics for c in table.controls)]


def _family_reason(table: Table, v: Verdict | None, method: str) -> str:
    if v is None or not v.judged:
        return "not computed" if v is None else "no metric discriminates: " + ", ".join(v.excluded)
    if method not in v.ranks:
        return "not ranked: a judged metric does not apply to it"
    place = 1 + sum(r < v.ranks[method] for r in v.ranks.values())
    text = f"rank {place} of {len(v.ranks)} (mean rank {v.ranks[method]:.2f} over {', '.join(v.judged)})"
    parts = []
    for control in table.controls:
        won = [m for m in v.judged if table.beats(method, control, m)]
        parts.append(f"beats {control} on {', '.join(won)}" if won else f"does not beat {control}")
    return text + "; " + "; ".join(parts)


def _sanity_reason(table: Table, metrics: list[str], method: str) -> str:
    if not metrics:
        return "not checked: no sanity metric computed"
    values = ", ".join(f"{m} {table.cell(method, m).mean:.3f}" for m in metrics)
    return f"{values}: below {_join(table.controls)} (paired 95% CIs)"


def recommend(table: Table, verdicts: list[Verdict]) -> Recommendation:
    """The recommendation by the rule above."""
    sanity = [m for m in FAMILIES[SANITY] if m in table.metrics and METRICS[m].judged]
    evidence = judged_in(verdicts, LOCALISATION, FAITHFULNESS)
    sane = passes_sanity(table, sanity) if table.controls else list(table.methods)
    if not evidence:
        return Recommendation(None, reason="no localisation or faithfulness metric discriminates", passes_sanity=sane)
    if not sane:
        return Recommendation(
            None, reason=f"no method passes sanity ({', '.join(sanity)} below the controls')", passes_sanity=sane
        )
    candidates = [m for m in sane if all(any(table.beats(m, c, x) for x in evidence) for c in table.controls)]
    sums = rank_sums(table, evidence)
    candidates = [m for m in candidates if m in sums]
    if not candidates:
        return Recommendation(
            None,
            reason=f"no method that passes sanity beats {_join(table.controls)} on a localisation or faithfulness "
            "metric",
            passes_sanity=sane,
        )
    low = min(sums[m] for m in candidates)
    tied = [m for m in candidates if sums[m] == low]
    method = tied[0]
    by_family = {v.family: v for v in verdicts}
    reasons = {
        LOCALISATION: _family_reason(table, by_family.get(LOCALISATION), method),
        FAITHFULNESS: _family_reason(table, by_family.get(FAITHFULNESS), method),
        SANITY: _sanity_reason(table, sanity, method),
    }
    return Recommendation(method, tied[1:], reasons, "", low / len(evidence), sane)
