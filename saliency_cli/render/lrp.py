"""Rich renderables for the LRP report: header, conservation ledger, top-K, relevance heatmaps."""

from __future__ import annotations

import numpy as np
from rich.console import Group
from rich.table import Table
from rich.text import Text

from .heatmap import heatmap, legend, side_by_side
from .inert import inert
from .layout import Panels
from .probe import probe_header
from .tables import DataTable, num, sci, score


def rule_settings(rule) -> str:
    """A rule's settings, e.g. 'gamma=0.25, eps=0.01' (the bias flag is shown separately)."""
    return ", ".join(
        f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in rule.params().items() if k != "bias"
    )


def rule_label(rule) -> str:
    """A rule with its settings, e.g. 'gamma (gamma=0.25, eps=0.01)'; '(no bias)' when biases take no part."""
    settings = rule_settings(rule)
    text = rule.name + (f" ({settings})" if settings else "")
    return text if rule.params().get("bias", True) else text + " (no bias)"


def _placed(run) -> list[str]:
    """'first layer conv1: zbox (...)', 'last layer dense3: epsilon (...)' for the position rules applied to layers
    (in forward order; a graph may have several layers in one position)."""
    out = []
    for where, rule in (("first", run.first_rule), ("last", run.last_rule)):
        names = [e.name for e in reversed(run.ledger.entries) if rule is not None and e.rule is rule]
        if names:
            what = "layer" if len(names) == 1 else "layers"
            out.append(f"{where} {what} {', '.join(inert(n) for n in names)}: {rule_label(rule)}")
    return out


def run_label(run) -> str:
    """What a run applied: its rule with settings (and first- and last-layer rules), or its composite's name."""
    if run.rule is None:
        return f"composite {run.composite.name}"
    return "; ".join([rule_label(run.rule), *_placed(run)])


def composite_map(run) -> str:
    """The composite's mapping for the layer types of this network, in matching order."""
    used = {e.kind or e.type for e in run.ledger.entries}
    parts = [f"{kind}: {rule_label(rule)}" for kind, rule in run.composite.mapping if kind in used]
    return "; ".join(_placed(run) + parts) + " (first match wins)"


#: max pooling, the tool's own layer or an imported graph's node
_MAX_POOLS = ("maxpool2d", "MaxPool")


def header(report, title: str) -> Table:
    """Model, task, probe, label, prediction with probabilities, target and rule(s)."""
    table = probe_header(report, title)
    how = "forced" if report.target_forced else "predicted"
    table.add_row(
        "target",
        f"{report.target} ({inert(report.classes[report.target])}), {how}; output relevance = its logit "
        f"{score(report.logits[report.target])}",
    )
    for name, run in report.runs.items():
        table.add_row("rule" if len(report.runs) == 1 else f"rule {name}", run_label(run))
    if report.composite is not None:
        (run,) = report.runs.values()
        table.add_row("layer map", composite_map(run))
    pool = next((e.rule for run in report.runs.values() for e in run.ledger.entries if e.kind in _MAX_POOLS), None)
    if pool is not None:
        table.add_row("max pooling", pool.name)
    params = report.params
    if params.get("low") is not None:
        table.add_row("zbox bounds", f"low {params['low']:.4g}, high {params['high']:.4g}")
    return table


_COLUMNS = (
    ("#", "index"),
    ("layer", "name"),
    ("type", "type"),
    ("rule", None),
    ("ΣR out", "relevance_out"),
    ("ΣR in", "relevance_in"),
    ("residual", "residual"),
    ("bias", "bias"),
    ("stabiliser", "stabiliser"),
    ("dropped", "dropped"),
    ("unexplained", "unexplained"),
)
_TEXT_COLUMNS = ("layer", "type", "rule")


def _rule_cell(entry) -> Text:
    if entry.status == "rule":
        return Text(entry.rule.name)
    if entry.status == "skipped":
        return Text("SKIPPED (no rule)", style="yellow")
    if entry.status == "stopped":
        return Text("SKIPPED (no rule): stopped here", style="bold red")
    return Text("not reached", style="dim")


def _cell(entry, row: dict, key: str | None):
    if key is None:
        return _rule_cell(entry)
    value = row[key]
    if key == "unexplained" and value:
        return sci(value, 2)
    if isinstance(value, str):
        return inert(value)
    return str(value) if isinstance(value, int) else num(value)


def ledger_table(run) -> DataTable:
    """The conservation ledger, one row per layer from the output to the input.

    One table when it fits the width; otherwise the columns are split over tables that each repeat
    the layer's index and name, so that no number or name is ever cut short.
    """
    table = DataTable(
        title=f"conservation ledger ({run.name}): ΣR in + bias + stabiliser + dropped = ΣR out",
        key=2,
        short=f"conservation ledger ({run.name})",
    )
    for header, _ in _COLUMNS:
        table.add_column(header, numeric=header not in _TEXT_COLUMNS)
    for entry in run.ledger.entries:
        row = entry.row(0)
        table.add_row(*(_cell(entry, row, key) for _, key in _COLUMNS))
    return table


def totals_line(run) -> Text:
    """The whole walk in one line: logit = input + bias + stabiliser + dropped (+ unexplained)."""
    t = run.ledger.totals(0)
    into = "not carried" if t["input"] is None else num(t["input"])
    text = Text(f"logit {num(t['logit'])} = input {into} + bias {num(t['bias'])} + stabiliser {num(t['stabiliser'])}")
    text.append(f" + dropped {num(t['dropped'])}\n")
    text.append(f"largest unexplained remainder at any layer: {sci(run.max_unexplained, 2)}", style="dim")
    return text


def stopped_line(run) -> Text:
    return Text(f"{run.ledger.reason}. No input relevance map is shown.", style="bold red")


def top_k_table(run) -> DataTable:
    """Top-K input positions by |R| with their signed R; x = column, y = row."""
    table = DataTable(title=f"top {len(run.top_k)} positions by |R| (x = column, y = row)")
    for column in ("#", "channel", "x", "y", "R"):
        table.add_column(column)
    for rank, item in enumerate(run.top_k, start=1):
        table.add_row(str(rank), str(item["channel"]), str(item["x"]), str(item["y"]), num(item["value"]))
    return table


def relevance_maps(relevance: np.ndarray, color: bool, label: str = "") -> Group:
    """|R| per channel on one scale for all channels; in colour, also the signed R on a diverging map."""
    vmax = float(np.abs(relevance).max()) if relevance.size else 0.0
    channels = range(relevance.shape[0])
    return Group(
        Text(f"{label}|R| per channel, then signed R (one scale for all: max |R| {vmax:.3g})", style="bold"),
        side_by_side(*(heatmap(relevance[c], vmax, color, False, title=f"|R| ch {c}") for c in channels)),
        side_by_side(*(heatmap(relevance[c], vmax, color, True, title=f"R ch {c}") for c in channels)),
        _legends(color),
    )


def _legends(color: bool) -> Group:
    return Group(legend(color, subject="|R|"), legend(color, signed=True, subject="R"))


def _weights_line(report) -> Text:
    if report.weights_unchanged:
        return Text(f"weights unchanged (parameter sha256 {report.params_after[:12]}… before and after)", style="dim")
    return Text("WEIGHTS CHANGED during the relevance pass", style="bold red")


def lrp_view(report, color: bool) -> Group:
    """The full report of one rule: header, ledger, totals, top-K and heatmaps."""
    (run,) = report.runs.values()
    parts = [header(report, "Layer-wise Relevance Propagation"), ledger_table(run), totals_line(run)]
    if run.relevance is None:
        parts.append(stopped_line(run))
    else:
        parts += [top_k_table(run), relevance_maps(run.relevance, color)]
    parts.append(_weights_line(report))
    return Group(*parts)


def _maps_cell(run, color: bool):
    if run.relevance is None:
        return stopped_line(run)
    r = run.relevance
    vmax = float(np.abs(r).max())
    maps = [heatmap(r[c], vmax, color, False, title=f"|R| ch {c}") for c in range(r.shape[0])]
    maps += [heatmap(r[c], vmax, color, True, title=f"R ch {c}") for c in range(r.shape[0])]
    return Group(Text(f"max |R| {vmax:.3g}", style="dim"), *maps)


def _summary_cell(run) -> Text:
    t = run.ledger.totals(0)
    lines = Text(f"logit {num(t['logit'])}\n= input {num(t['input'])}\n")
    lines.append(f"+ bias {num(t['bias'])}\n+ stabiliser {num(t['stabiliser'])}\n+ dropped {num(t['dropped'])}\n")
    lines.append(f"max unexplained {sci(run.max_unexplained, 2)}", style="dim")
    return lines


def _top_cell(run) -> Text:
    lines = Text(f"top {len(run.top_k)} by |R| (c, x, y)", style="bold")
    for p in run.top_k:
        lines.append(f"\n({p['channel']}, {p['x']}, {p['y']})  {num(p['value'])}", style="")
    return lines


def compare_view(report, color: bool) -> Group:
    """The rules side by side (stacked when they do not fit): maps on each rule's own scale, ledger summary, top-K."""
    columns = [
        Group(
            Text(run.name, style="bold underline"),
            Text(rule_settings(run.rule) if run.rule else "", style="dim"),
            _maps_cell(run, color),
            Text(""),
            _summary_cell(run),
            Text(""),
            _top_cell(run),
        )
        for run in report.runs.values()
    ]
    return Group(
        header(report, "Layer-wise Relevance Propagation: rules compared"),
        Panels(*columns, row_gap=1),
        _legends(color),
        _weights_line(report),
    )
