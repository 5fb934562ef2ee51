"""`evaluate`'s text output: the metric table, the verdicts, deletion/insertion and MPRT curves."""

from __future__ import annotations

import math

import numpy as np
from rich.console import Group
from rich.text import Text

from ..evaluation.faithfulness import CURVES, area
from ..evaluation.metrics import METRICS
from ..evaluation.probes import NO_MASKS
from .heatmap import ASCII_RAMP
from .tables import DataTable

BLOCKS = " ▁▂▃▄▅▆▇█"
BEST = "bold green"


def number(value: float) -> str:
    """Three decimals, or scientific notation for tiny non-zero values (conservation's round-off)."""
    if value is None or not math.isfinite(value):
        return "n/a"
    if value != 0 and abs(value) < 1e-3:
        return f"{value:.1e}"
    return f"{value:.3f}"


def short(value: float) -> str:
    """Two decimals without the leading zero (.79, -.07), or one significant digit for tiny values."""
    if value is None or not math.isfinite(value):
        return "n/a"
    if value != 0 and abs(value) < 5e-3:
        return f"{value:.0e}"
    text = f"{value:.2f}"
    return text.replace("0.", ".", 1) if text.lstrip("-").startswith("0.") else text


def header(metric: str) -> str:
    """The column header: the metric's name over two lines at its hyphen, and its direction arrow."""
    return f"{metric.replace('-', chr(10), 1)} {METRICS[metric].arrow}"


def sparkline(values, low: float, high: float, color: bool) -> str:
    """One character per value, from `low` to `high`: block glyphs in colour, the ASCII ramp otherwise."""
    ramp = BLOCKS if color else ASCII_RAMP
    v = (np.clip(np.asarray(values, dtype=float), low, high) - low) / (high - low)
    return "".join(ramp[int(i)] for i in np.rint(v * (len(ramp) - 1)))


def _cell(summary, method: str, metric: str) -> Text:
    c = summary.cells[method][metric]
    if c.empty:
        return Text("n/a", style="dim")
    style = BEST if method in summary.best.get(metric, []) else ""
    text = Text(number(c.mean), style=style)
    text.append(f"\n[{short(c.ci[0])},{short(c.ci[1])}]", style="dim")
    return text


def metric_table(summary) -> DataTable:
    """Methods as rows, metrics as columns: the mean over the 95% CI [low,high]; the best per column in bold
    green; controls in a group of their own at the bottom."""
    ev = summary.evaluation
    counts = [_count(len(ev.probes), "probe"), _count(len(summary.methods), "method")]
    title = f"evaluate: {counts[0]}, {counts[1]} + {_count(len(summary.controls), 'control')}"
    table = DataTable(title=title, short="evaluate")
    table.add_column("method", numeric=False)
    for metric in summary.metrics:
        table.add_column(header(metric))
    for name in summary.methods:
        table.add_row(name, *(_cell(summary, name, m) for m in summary.metrics))
    if summary.controls:
        table.add_section()
        for name in summary.controls:
            table.add_row(Text(name, style="italic"), *(_cell(summary, name, m) for m in summary.metrics))
    return table


def verdict_lines(summary) -> Text:
    """One line per metric family: the best method and whether it beats both controls."""
    out = Text()
    for v in summary.verdicts:
        out.append(f"{v.family}: ", style="bold")
        if v.best is None:
            out.append("no method has a value\n")
            continue
        out.append(f"best {v.best}", style=BEST)
        out.append(f" (mean rank {v.mean_rank:.1f} over {', '.join(v.metrics)})")
        if not v.judged:
            out.append("; no control to compare with\n")
            continue
        controls = " and ".join(v.controls)
        if len(v.beats) == len(v.judged):
            out.append(f"; beats {controls} with non-overlapping 95% CIs on every metric\n")
        elif v.beats:
            out.append(f"; beats {controls} with non-overlapping 95% CIs on {', '.join(v.beats)} only\n")
        else:
            out.append(f"; does not beat {controls} with non-overlapping 95% CIs on any metric\n", style="yellow")
    out.rstrip()
    return out


def curves_table(summary, color: bool) -> DataTable:
    """Mean deletion, insertion and LeRF curves per method (probability of the explained class, 0 to 1)."""
    steps = summary.evaluation.settings.steps
    table = DataTable(
        title=f"mean probability of the explained class as positions are removed / inserted ({steps} steps, "
        "0 to 1), and the area under it",
        short="curves",
    )
    table.add_column("method", numeric=False)
    for column in ("deletion (MoRF)", "insertion", "LeRF"):
        table.add_column(column, justify="left")
    names = [m for m in summary.methods + summary.controls if m in summary.curves]
    for name in names:
        c = summary.curves[name]
        cells = (f"{sparkline(c[k], 0, 1, color)} {area(np.array([c[k]]))[0]:.3f}" for k in CURVES)
        table.add_row(name, *cells)
    return table


def mprt_table(summary, color: bool) -> DataTable:
    """Mean Spearman correlation with the original map after each randomisation step."""
    ev = summary.evaluation
    order = ev.settings.mprt_order
    title = f"MPRT ({order}): Spearman with the original map after re-initialising, output layer first"
    table = DataTable(title=title, short="MPRT")
    table.add_column("method", numeric=False)
    table.add_column("curve", justify="left")
    for layer in ev.mprt_layers:
        table.add_column(layer)
    for name in [m for m in summary.methods + summary.controls if m in summary.mprt]:
        values = summary.mprt[name]
        table.add_row(name, sparkline([1.0, *values], -1, 1, color), *(f"{v:+.2f}" for v in values))
    return table


def notes(summary) -> Text:
    ev = summary.evaluation
    lines = []
    wrong = int(ev.wrong.sum())
    if ev.probes.masks is None:
        lines.append(NO_MASKS)
        if wrong:
            lines.append(f"{wrong} misclassified probe(s), in every mean: the explained class is the true label")
    elif wrong:
        where = "included in" if ev.settings.include_wrong else "left out of"
        lines.append(f"{wrong} misclassified probe(s), {where} the localisation means (--include-wrong)")
    empty = [f"{m} ({r.no_positive})" for m, r in ev.methods.items() if r.no_positive]
    if empty and "mass-accuracy" in summary.metrics:
        lines.append("maps with no positive relevance (mass-accuracy 0): " + ", ".join(empty))
    s = ev.settings
    lines.append(f"95% CIs: percentile bootstrap over probes, {s.resamples} resamples, seed {s.seed}")
    return Text("\n".join(lines), style="dim")


def evaluate_view(summary, color: bool) -> Group:
    parts = [metric_table(summary), verdict_lines(summary)]
    if summary.curves:
        parts += [Text(""), curves_table(summary, color)]
    if summary.mprt:
        parts.append(mprt_table(summary, color))
    parts.append(notes(summary))
    return Group(*parts)


def _count(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"
