"""Batches as compact tables, a row per probe instead of N full reports: the parts every command's table
shares, and the tables of `lrp`, `cam` and `features` (saliency's is in `saliency_batch`)."""

from __future__ import annotations

from rich.console import Group
from rich.text import Text

from .inert import inert
from .probe import stacked
from .tables import DataTable, num, sci


def summary_table(title: str, columns: list[str]) -> DataTable:
    """An empty table in the house style with these (numeric, right-aligned) columns."""
    table = DataTable(title=title)
    for column in columns:
        table.add_column(column)
    return table


def model_note(report) -> Text:
    return Text(f"model {inert(report.model.get('path') or '(in memory)')}", style="dim")


def weights_note(reports) -> Text:
    """Whether the model's weights were left as they were, over the whole batch."""
    status = "unchanged" if all(r.weights_unchanged for r in reports) else "CHANGED"
    return Text(f"model weights {status} (parameter sha256 {reports[-1].params_after[:12]}…)", style="dim")


def probe_cells(i: int, report) -> list[str]:
    """#, predicted class and target of a probe's row."""
    return [str(i), str(report.predicted), "-" if report.target is None else str(report.target)]


def top_cell(top: list[dict]) -> list[str]:
    """The strongest position of a top-K listing as 'c,x,y' and its value ('-' when there is none)."""
    if not top:
        return ["-", "-"]
    p = top[0]
    return [f"{p['channel']},{p['x']},{p['y']}", num(p["value"])]


def lrp_batch_view(reports) -> Group:
    """Per probe: prediction, target, the explained logit, each run's input relevance, the largest
    unexplained remainder and (for one rule) the strongest input position."""
    from .lrp import run_label

    first = reports[0]
    names = list(first.runs)
    compare = len(names) > 1
    columns = ["#", "pred", "target", "logit", *(names if compare else ["sum R in"]), "unexpl."]
    table = summary_table(f"LRP over {len(reports)} probes", columns + ([] if compare else ["top c,x,y", "R"]))
    for i, r in enumerate(reports):
        runs = list(r.runs.values())
        row = [*probe_cells(i, r), num(runs[0].ledger.totals(0)["logit"])]
        row += [num(run.ledger.totals(0)["input"]) for run in runs]
        row += [sci(r.max_unexplained), *([] if compare else top_cell(runs[0].top_k))]
        table.add_row(*(row if r.complete else [Text(str(c), style="red") for c in row]))
    # NOTE: what was run and what the columns mean come before the rows (a batch may have thousands)
    head = [model_note(first)]
    head += [Text(f"{name}: {inert(run_label(run))}", style="dim") for name, run in first.runs.items()]
    what = ", ".join(names) + ": each rule's" if compare else "sum R in: the"
    head.append(
        Text(f"{what} relevance at the input; unexpl.: the ledger's largest unexplained remainder", style="dim")
    )
    if not compare:
        head.append(Text("top: the largest |R| at the input (c = channel, x = column, y = row)", style="dim"))
    notes = []
    stopped = sum(1 for r in reports if not r.complete)
    if stopped:
        notes.append(Text(f"{stopped} of {len(reports)} probes: relevance could not reach the input", style="bold red"))
    worst = max(r.max_unexplained for r in reports)
    notes.append(Text(f"largest unexplained ledger residual over the batch: {worst:.3g}", style="dim"))
    notes.append(weights_note(reports))
    return Group(*head, table, *notes)


def _peak_cells(peak) -> list[str]:
    if peak is None:
        return ["-", "-", "-"]
    on = "-" if peak.in_blob is None else ("yes" if peak.in_blob else "no")
    return [f"{peak.x},{peak.y}", num(peak.value), on]


def cam_batch_view(reports) -> Group:
    """Per probe: prediction, target, the map's peak at layer and at input resolution, and whether each
    falls on the explained class's blob."""
    first = reports[0]
    columns = ["#", "pred", "target", "layer x,y", "value", "on blob", "input x,y", "value", "on blob"]
    table = summary_table(f"{first.method} over {len(reports)} probes", columns)
    for i, r in enumerate(reports):
        table.add_row(*probe_cells(i, r), *_peak_cells(r.peak_layer), *_peak_cells(r.peak_input))
    layer, maps = first.layer, first.maps_layer
    at = inert(layer["name"] if layer["index"] == maps["index"] else f"{layer['name']} (maps of {maps['name']})")
    shape = "x".join(map(str, maps["shape"][1:]))
    head = [model_note(first), Text(f"layer {at}, {shape} cells; input: bilinear upsampling", style="dim")]
    if first.smooth is not None:
        s = first.smooth
        head.append(Text(f"smoothed over {s['samples']} noisy copies (seed {s['seed']})", style="dim"))
    notes = []
    known = [r.peak_input.in_blob for r in reports if r.peak_input is not None and r.peak_input.in_blob is not None]
    if known:
        notes.append(Text(f"{sum(known)} of {len(reports)} input peaks on the explained class's blob", style="dim"))
    flat = sum(1 for r in reports if r.peak_layer is None)
    if flat:
        notes.append(Text(f"{flat} of {len(reports)} maps are zero everywhere (no peak)", style="dim"))
    notes.append(weights_note(reports))
    return Group(*head, table, *notes)


def cam_batch_views(groups) -> Group:
    """Several methods' batch tables, one after the other; `groups` holds each probe's reports, one per method."""
    return stacked([cam_batch_view(list(reports)) for reports in zip(*groups, strict=True)])


def features_batch_view(reports) -> Group:
    """Per probe: prediction, the layer output's range and mean, and its most active channel."""
    first = reports[0]
    k, h, w = first.maps.shape
    columns = ["#", "pred", "p(pred)", "min", "max", "mean", "top ch", "ch max"]
    table = summary_table(f"{inert(first.layer['name'])} over {len(reports)} probes", columns)
    for i, r in enumerate(reports):
        peaks = r.maps.reshape(k, -1).max(axis=1)
        top = int(peaks.argmax())
        table.add_row(
            str(i),
            str(r.predicted),
            num(r.probabilities[r.predicted]),
            num(r.maps.min()),
            num(r.maps.max()),
            num(r.maps.mean()),
            str(top),
            num(peaks[top]),
        )
    layer = first.layer
    notes = [
        model_note(first),
        Text(
            f"layer {inert(layer['name'])} (#{layer['index']}, {layer['type']}): {k} channels of {h}x{w}", style="dim"
        ),
        Text("top ch: the channel with the largest value (first on ties)", style="dim"),
    ]
    return Group(*notes, table)
