"""`evaluate`'s text output: the recommendation, the metric table, the verdicts, deletion/insertion and MPRT
curves, and notes."""

from __future__ import annotations

import numpy as np
from rich.console import Group
from rich.text import Text

from ..evaluation.faithfulness import CURVES, area
from ..evaluation.metrics import METRICS
from ..evaluation.probes import NO_MASKS
from .heatmap import ASCII_RAMP
from .numbers import interval
from .tables import DataTable
from .verdicts import BEST, recommendation_lines, verdict_lines

BLOCKS = " ▁▂▃▄▅▆▇█"
#: the header mark of a metric no verdict uses (saturated, counted once, or reported only)
MARK = "†"


def header(metric: str, marked: bool = False) -> str:
    """The column header: the metric's name over two lines at its hyphen, its direction arrow, and MARK
    when no verdict uses it."""
    return f"{metric.replace('-', chr(10), 1)} {METRICS[metric].arrow}{MARK if marked else ''}"


def sparkline(values, low: float, high: float, color: bool) -> str:
    """One character per value, from `low` to `high`: block glyphs in colour, the ASCII ramp otherwise."""
    ramp = BLOCKS if color else ASCII_RAMP
    v = (np.clip(np.asarray(values, dtype=float), low, high) - low) / (high - low)
    return "".join(ramp[int(i)] for i in np.rint(v * (len(ramp) - 1)))


def _cell(summary, method: str, metric: str) -> Text:
    c = summary.table.cell(method, metric)
    if c.empty:
        return Text("n/a", style="dim")
    unused = metric in summary.excluded
    mean, _, rest = interval(c.mean, c.ci, c.n, summary.evaluation.settings.resamples).partition("\n")
    style = "dim" if unused else BEST if method in summary.best.get(metric, []) else ""
    text = Text()
    text.append(mean, style=style)
    if rest:
        text.append(f"\n{rest}", style="dim")
    return text


def metric_table(summary) -> DataTable:
    """Methods as rows, metrics as columns: the mean over its 95% CI [low,high]; the best per judged column in
    bold green; metrics no verdict uses dimmed and marked; controls in a group of their own at the bottom."""
    ev = summary.evaluation
    counts = [_count(len(ev.probes), "probe"), _count(len(summary.methods), "method")]
    title = f"evaluate: {counts[0]}, {counts[1]} + {_count(len(summary.controls), 'control')}"
    table = DataTable(title=title, short="evaluate")
    table.add_column("method", numeric=False)
    for metric in summary.metrics:
        table.add_column(header(metric, metric in summary.excluded))
    for name in summary.methods:
        table.add_row(name, *(_cell(summary, name, m) for m in summary.metrics))
    if summary.controls:
        table.add_section()
        for name in summary.controls:
            table.add_row(Text(name, style="italic"), *(_cell(summary, name, m) for m in summary.metrics))
    return table


def footnotes(summary) -> Text:
    """Why each marked metric is used in no verdict, one line per reason."""
    groups: dict[str, list[str]] = {}
    for metric, why in summary.excluded.items():
        groups.setdefault(why, []).append(metric)
    lines = [f"{MARK} {', '.join(names)}: {why}; used in no verdict" for why, names in groups.items()]
    return Text("\n".join(lines), style="dim")


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
    """Mean Spearman correlation of the absolute maps with the original's after each randomisation step,
    averaged over the draws and the probes."""
    ev = summary.evaluation
    order, draws = ev.settings.mprt_order, ev.settings.draws
    title = (
        f"MPRT ({order}): Spearman of |map| with the original |map| after re-initialising, output layer first "
        f"(mean over {_count(draws, 'draw')})"
    )
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
    if ev.substrate_probability:
        chances = ", ".join(f"{k} {v:.2f}" for k, v in ev.substrate_probability.items())
        lines.append(
            f"deletion substrate {s.substrate}, insertion canvas {s.insertion_substrate}; each substrate's mean "
            f"probability of the explained class: {chances}"
        )
    lines.append(f"localisation at {s.mask_level} level (--mask-level)")
    lines.append(
        f"95% CIs: percentile bootstrap over probes (MPRT: over {_count(s.draws, 'draw')} and probes), "
        f"{s.resamples} resamples, seed {s.seed}; a control is beaten where the paired CI of the difference "
        "excludes 0"
    )
    return Text("\n".join(lines), style="dim")


def evaluate_view(summary, color: bool) -> Group:
    parts = [recommendation_lines(summary), Text(""), metric_table(summary)]
    if summary.excluded:
        parts.append(footnotes(summary))
    parts.append(verdict_lines(summary))
    if summary.curves:
        parts += [Text(""), curves_table(summary, color)]
    if summary.mprt:
        parts.append(mprt_table(summary, color))
    parts.append(notes(summary))
    return Group(*parts)


def _count(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"
