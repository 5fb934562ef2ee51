"""A batch of saliency reports as one compact table: a row per probe instead of N full reports."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text

from .saliency import explained_text


def batch_table(reports) -> Table:
    """Per probe: prediction, what is explained and its value, IG's completeness and the top pixel."""
    first = reports[0]
    has_ig = first.completeness is not None
    table = Table(title=f"saliency over {len(reports)} probes", title_justify="left", title_style="bold")
    for column in ("#", "predicted", "p", "target", "score"):
        table.add_column(column, justify="right")
    if has_ig:
        for column in ("IG sum", "IG gap", "pieces" if first.completeness.pieces is not None else None):
            if column:
                table.add_column(column, justify="right")
    if first.top_k:
        table.add_column("top pixel (ch,x,y)", justify="right")
        table.add_column("|grad|", justify="right")
    for i, r in enumerate(reports):
        row = [
            str(i),
            str(r.predicted),
            f"{r.probabilities[r.predicted]:.3f}",
            "-" if r.target is None else str(r.target),
            f"{r.score_value:.4g}",
        ]
        if has_ig:
            c = r.completeness
            gap = f"{c.gap_abs:.1e}" if c.gap_rel is None else f"{c.gap_rel:.1e}"
            row += [f"{c.sum:.4g}", Text(gap, style="" if c.ok else "bold red")]
            if c.pieces is not None:
                row.append(str(c.pieces))
        if r.top_k:
            p = r.top_k[0]
            channel = r.reduce if p["channel"] is None else p["channel"]
            row += [f"{channel},{p['x']},{p['y']}", f"{p['value']:.4g}"]
        table.add_row(*row)
    return table


def batch_view(reports) -> Group:
    """The batch table with one line on what is explained and how the IG gap is measured."""
    first = reports[0]
    what = explained_text(first).split(":")[0].replace(f"class {first.target} ", "the target class ")
    notes = [Text(f"model {first.model.get('path') or '(in memory)'}; explained: {what}", style="dim")]
    if first.completeness is not None:
        settings = first.methods["integrated_gradients"].settings
        steps = "exact" if settings["quadrature"] == "exact" else f"{settings['quadrature']}, {settings['steps']} steps"
        notes.append(Text(f"IG gap: relative completeness gap ({steps}, baseline {settings['baseline']})", style="dim"))
    if first.reduce != "none":
        notes.append(Text(f"maps reduced over channels: {first.reduce} of |map|", style="dim"))
    bad = sum(1 for r in reports if r.completeness is not None and not r.completeness.ok)
    if first.completeness is not None:
        notes.append(Text(f"{bad} of {len(reports)} probes have a completeness gap of 5% or more", style="dim"))
    status = "unchanged" if first.weights_unchanged else "CHANGED"
    notes.append(Text(f"model weights {status} (parameter sha256 {first.params_after[:12]}…)", style="dim"))
    return Group(batch_table(reports), *notes)
