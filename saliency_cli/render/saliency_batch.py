"""A batch of saliency reports as one compact table: a row per probe instead of N full reports."""

from __future__ import annotations

from rich.console import Group
from rich.text import Text

from .batch import probe_cells, summary_table, weights_note
from .inert import inert
from .phrases import Phrases
from .saliency import threshold_percent
from .tables import DataTable, num, sci


def batch_table(reports) -> DataTable:
    """Per probe: predicted class, target, the explained score, IG's completeness and the vanilla map's top pixel."""
    first = reports[0]
    has_ig = first.completeness is not None
    columns = ["#", "pred", "target", "score"]
    if has_ig:
        columns += ["IG sum", "IG gap"] + (["pieces"] if first.completeness.pieces is not None else [])
    if first.top_k:
        columns += ["top c,x,y", "|grad|"]
    table = summary_table(f"saliency over {len(reports)} probes", columns)
    for i, r in enumerate(reports):
        row = [*probe_cells(i, r), num(r.score_value)]
        if has_ig:
            c = r.completeness
            gap = sci(c.gap_abs) if c.gap_rel is None else sci(c.gap_rel)
            row += [num(c.sum), Text(gap, style="" if c.ok else "bold red")]
            if c.pieces is not None:
                row.append(str(c.pieces))
        if r.top_k:
            p = r.top_k[0]
            channel = r.reduce if p["channel"] is None else p["channel"]
            row += [f"{channel},{p['x']},{p['y']}", num(p["value"])]
        table.add_row(*row)
    return table


def _what(report) -> str:
    """What every row explains, in words."""
    e = report.explained
    if report.score == "unit":
        where = "c,x,y = " if "unit_at" in e else "index "
        return f"unit {e['unit']} ({where}{','.join(map(str, e['unit_index']))}) of layer {inert(e['layer'])}"
    which = "each probe's target class" if report.target_forced else "each probe's predicted class"
    return {
        "logit": f"the logit of {which}",
        "probability": f"the softmax probability of {which}",
        "logit-diff": f"the logit of {which} minus the logit of class {e.get('against')}",
    }.get(report.score, f"the {report.score} score of {which}")


def batch_view(reports) -> Group:
    """The batch table with one line on what is explained and how the IG gap is measured."""
    first = reports[0]
    where = inert(first.model.get("path") or "(in memory)")
    notes = [Phrases(f"model {where};", f"explained: {_what(first)}", style="dim")]
    if first.completeness is not None:
        settings = first.methods["integrated_gradients"].settings
        steps = "exact" if settings["quadrature"] == "exact" else f"{settings['quadrature']}, {settings['steps']} steps"
        notes.append(
            Text(f"IG gap: relative completeness gap ({steps}, baseline {inert(settings['baseline'])})", style="dim")
        )
    if first.top_k:
        notes.append(Text("top c,x,y: the vanilla map's largest pixel, channel, x = column, y = row", style="dim"))
    if first.reduce != "none":
        notes.append(Text(f"maps reduced over channels: {first.reduce} of |map|", style="dim"))
    head, notes = notes, []  # NOTE: what was run and what the columns mean come before the rows
    bad = sum(1 for r in reports if r.completeness is not None and not r.completeness.ok)
    if first.completeness is not None:
        check = first.completeness
        limit = threshold_percent(check.threshold)
        what = f"above --max-gap {limit}" if check.user_threshold else f"of {limit} or more"
        notes.append(Text(f"{bad} of {len(reports)} probes have a completeness gap {what}", style="dim"))
    notes.append(weights_note(reports))
    return Group(*head, batch_table(reports), *notes)
