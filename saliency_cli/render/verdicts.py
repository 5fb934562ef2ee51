"""`evaluate`'s words: the recommendation first, the warnings, one line per family's verdict, the axioms row."""

from __future__ import annotations

from rich.text import Text

from ..evaluation.verdicts import REPORTED, SHORT
from .numbers import interval

BEST = "bold green"


def _join(names) -> str:
    names = list(names)
    return " and ".join(names) if len(names) < 3 else ", ".join(names[:-1]) + " and " + names[-1]


def recommendation_lines(summary) -> Text:
    """The method to believe and why (or none and why), then any warning, one line each."""
    rec = summary.recommendation
    out = Text()
    out.append("recommendation: ", style="bold")
    if rec.method is None:
        out.append("none", style="bold yellow")
        out.append(f" — {rec.reason}\n")
    else:
        out.append(rec.method, style=BEST)
        if rec.ties:
            out.append(f" (tied with {_join(rec.ties)})")
        out.append("\n")
        for family, why in rec.reasons.items():
            out.append(f"  {family}: {why}\n", style="dim" if family != "sanity" else "")
    for line in summary.warnings:
        out.append(f"warning: {line}\n", style="yellow")
    out.rstrip()
    return out


def verdict_lines(summary) -> Text:
    """One line per ranked family: the best method(s), the metrics judged, and exactly which controls the best
    beats on which metric (paired 95% CI of the difference away from 0)."""
    out = Text()
    for v in summary.verdicts:
        out.append(f"{v.family}: ", style="bold")
        skipped = ", ".join(f"{m} ({SHORT[why]})" for m, why in v.excluded.items() if why != REPORTED)
        if not v.best:
            out.append("no method is ranked" + (f"; not judged: {skipped}" if skipped else "") + "\n")
            continue
        tie = "tied at " if len(v.best) > 1 else ""
        out.append(f"best {', '.join(v.best)}", style=BEST)
        out.append(f" ({tie}mean rank {v.mean_rank:.2f} of {len(v.ranks)} over {', '.join(v.judged)})")
        for method in v.best:
            won = v.beats.get(method, {})
            parts = [f"beats {c} on {', '.join(won[c])}" if won.get(c) else f"does not beat {c}" for c in v.controls]
            if parts:
                who = f"{method} " if len(v.best) > 1 else ""
                out.append(f"; {who}" + "; ".join(parts))
        if skipped:
            out.append(f"; not judged: {skipped}", style="dim")
        out.append("\n")
    if v_axioms := axioms_line(summary):
        out.append_text(v_axioms)
    out.rstrip()
    return out


def axioms_line(summary) -> Text | None:
    """Conservation / completeness residual of every method that claims it (never ranked)."""
    if not any(m == "conservation" for m in summary.metrics):
        return None
    out = Text()
    out.append("axioms: ", style="bold")
    claims = summary.axioms
    if claims:
        cells = [f"{m} {interval(c.mean, c.ci, c.n, summary.evaluation.settings.resamples, inline=True)}"
                 for m, c in claims.items()]  # fmt: skip
        out.append("conservation residual " + ", ".join(cells))
    none = [m for m in summary.methods if m not in claims]
    if none:
        out.append(("; " if claims else "") + f"{', '.join(none)} claim none", style="dim")
    out.append(" (an axiom check, not ranked)\n", style="dim")
    return out
