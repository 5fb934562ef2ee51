"""Rich renderables for the saliency report: header, input and attribution maps, tables, completeness."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text

from .heatmap import heatmap, legend, side_by_side
from .inert import inert
from .phrases import Phrases
from .probe import abs_max, input_maps, probe_header
from .tables import DataTable, counted, num, percent, sci, score

#: report method key -> (column title, whether its map is signed)
_TITLES = {
    "vanilla": ("vanilla |grad|", False),
    "smoothgrad": ("SmoothGrad", False),
    "integrated_gradients": ("Integrated Gradients", True),
}


#: report method key -> its name in the report's title line
_NAMES = {"vanilla": "vanilla", "smoothgrad": "SmoothGrad", "integrated_gradients": "Integrated Gradients"}


def title_line(report) -> str:
    """ "Saliency: vanilla, SmoothGrad, Integrated Gradients" (the methods run), as `lrp` and `cam` have theirs."""
    names = ", ".join(_NAMES[key] for key in report.methods)
    return f"Saliency: {names}" if names else "Saliency"


def header(report) -> Table:
    """Title line, model, task, probe, true label, prediction with probabilities and what is explained."""
    table = probe_header(report, title_line(report))
    table.add_row("explained", explained_text(report))
    if report.reduce != "none":
        table.add_row("channels", f"every map is the {report.reduce} over channels of |map| (unsigned)")
    if report.dtype != "float64":
        exact = report.methods.get("integrated_gradients", None)
        also = " (exact IG in float64)" if exact is not None and exact.settings.get("dtype") == "float64" else ""
        table.add_row("compute", f"{report.dtype}{also}")
    return table


def explained_text(report) -> str:
    """What is explained, in words, with its value at the input."""
    e, value = report.explained, report.score_value
    if report.score == "unit":
        index = ",".join(map(str, e["unit_index"]))
        where = f"c,x,y = {index}" if "unit_at" in e else f"index {index}"
        return f"unit {e['unit']} ({where}) of layer {inert(e['layer'])} (#{e['layer_index']}): {score(value)}"
    # NOTE: which class is the predicted (or forced) one is said inside its own parentheses, so that
    # "minus the logit of class 1" can never be read as "class 1 is the predicted class".
    how = "forced with --target" if report.target_forced else "the predicted class"
    cls = f"class {report.target} ({inert(report.classes[report.target])}; {how})"
    against = e.get("against")
    other = f"class {against}" + (f" ({inert(report.classes[against])})" if against is not None else "")
    what = {
        "logit": f"the logit (pre-softmax score) of {cls}",
        "probability": f"the softmax probability of {cls}",
        "logit-diff": f"the logit of {cls} minus the logit of {other}",
    }.get(report.score, f"the {report.score} score of {cls}")
    return f"{what}: {score(value)}"


def attribution_maps(report, color: bool) -> Group:
    """Per channel, the methods' maps side by side; each method is scaled to its own maximum."""
    scaled = ("attribution maps", "(each method scaled to its own max over all channels)")
    parts = [Phrases(*scaled, style="bold underline")]
    reduced = report.reduce != "none"
    for c in range(_channels(report)):
        panels = []
        for key, result in report.methods.items():
            title, signed = _TITLES[key]
            signed = signed and not reduced
            vmax = abs_max(result.attribution)
            where = f"{report.reduce} over ch" if reduced else f"ch {c}"
            panels.append(
                heatmap(result.attribution[c], vmax, color, signed, title=f"{title}\n{where}, max {vmax:.3g}")
            )
        parts.append(side_by_side(*panels))
    if any(not _TITLES[key][1] or reduced for key in report.methods):
        parts.append(legend(color))
    if "integrated_gradients" in report.methods and not reduced:
        parts.append(legend(color, signed=True, subject="IG"))
    return Group(*parts)


def _channels(report) -> int:
    """Channels of the maps: the input's, or 1 after a reduction."""
    return next(iter(report.methods.values())).attribution.shape[0] if report.methods else report.input.shape[0]


def mass_table(report) -> DataTable:
    """Per channel, each method's sum |attribution| and its share; the share on the true blob when known."""
    table = DataTable(title="attribution mass: sum |a| per channel (share)")
    table.add_column("channel")
    for key in report.methods:
        table.add_column(_TITLES[key][0])
    totals = {key: float(r.mass.sum()) for key, r in report.methods.items()}
    for c in range(_channels(report)):
        cells = []
        for key, r in report.methods.items():
            share = r.mass[c] / totals[key] if totals[key] > 0 else 0.0
            cells.append(f"{num(r.mass[c])} ({percent(share)})")
        table.add_row(report.reduce if report.reduce != "none" else str(c), *cells)
    if report.mask is not None:
        table.add_row(Text("on true blob", style="dim"), *(percent(r.blob_share) for r in report.methods.values()))
    return table


def top_k_table(report) -> DataTable:
    """The vanilla map's largest pixels; marks those on the probe's true blob when it is known."""
    table = DataTable(title=f"top {len(report.top_k)} pixels of the vanilla map (x = column, y = row)")
    for column in ("#", "channel", "x", "y", "|grad|"):
        table.add_column(column)
    if report.mask is not None:
        table.add_column("on blob", numeric=False)
    for rank, p in enumerate(report.top_k, 1):
        channel = report.reduce if p["channel"] is None else str(p["channel"])
        row = [str(rank), channel, str(p["x"]), str(p["y"]), num(p["value"])]
        if report.mask is not None:
            on = (
                report.mask[:, p["y"], p["x"]].any()
                if p["channel"] is None
                else report.mask[p["channel"], p["y"], p["x"]]
            )
            row.append("yes" if on else "")
        table.add_row(*row)
    return table


def completeness_line(check, settings: dict) -> Text:
    """sum(IG) against score(x) - score(x'), the gaps and the verdict."""
    smooth = settings.get("smooth")
    line = Text("IG completeness ", style="bold")
    paths = f" over {counted(smooth['copies'], 'path')}" if smooth else ""
    baseline = inert(settings["baseline"])
    if settings["quadrature"] == "exact":
        line.append(f"(exact: {counted(settings['pieces'], 'linear piece')}{paths}, baseline {baseline}): ")
    else:
        line.append(f"({settings['quadrature']}, {counted(settings['steps'], 'step')}, baseline {baseline}): ")
    if smooth:
        line.append(f"smooth IG, {counted(smooth['copies'], 'copy', 'copies')} at sigma {smooth['sigma']:.3g}: ")
        line.append(f"sum {check.sum:.6g} vs mean score(copy) - score(x') = {check.score_input:.6g} - ")
    else:
        line.append(f"sum {check.sum:.6g} vs score(x) - score(x') = {check.score_input:.6g} - ")
    line.append(f"{check.score_baseline:.6g} = {check.delta:.6g}; gap {sci(check.gap_abs)}")
    if check.gap_rel is None:
        line.append(" (relative gap undefined: delta is 0) ")
    else:
        line.append(f" ({gap_percent(check.gap_rel)}) ")
    line.append(check.verdict, style="bold green" if check.ok else "bold red")
    line.append(f" ({verdict_reason(check)})", style="dim")
    if smooth:
        line.append(f"; the clean input's score(x) is {check.score_clean:.6g}, not conserved", style="dim")
    return line


def gap_percent(gap: float) -> str:
    """A relative gap as a percentage with 3 significant digits ('3.05%'); tiny gaps in scientific notation."""
    return f"{sci(gap * 100)}%" if gap * 100 < 0.01 and gap != 0 else f"{num(gap * 100, 3)}%"


def threshold_percent(threshold: float) -> str:
    """A threshold as the user would write it in percent: 5%, 1%, 0.5%."""
    return f"{threshold * 100:.6g}%"


def verdict_reason(check) -> str:
    """Why the verdict is what it is: the threshold, the user's --max-gap or the default 5%."""
    limit = threshold_percent(check.threshold)
    if check.user_threshold:
        return f"at most --max-gap {limit}" if check.ok else f"above --max-gap {limit}"
    return f"below {limit}" if check.ok else f"not below {limit}: use more --steps or --quadrature exact"


def convergence_table(study) -> DataTable:
    """Each quadrature's relative completeness gap for each K, and the exact result beside them."""
    exact = sci(study.exact_gap_rel, missing="n/a")
    table = DataTable(
        title="IG convergence: relative completeness gap by steps K",
        caption=f"exact: gap {exact} with {counted(study.exact_pieces, 'linear piece')} "
        "(map errors vs exact: --format json)",
    )
    table.add_column("K")
    for q in study.gap_rel:
        table.add_column(q)
    for i, k in enumerate(study.steps):
        gaps = (study.gap_rel[q][i] for q in study.gap_rel)
        table.add_row(str(k), *(sci(g, missing="n/a") for g in gaps))
    return table


def saliency_view(report, color: bool) -> Group:
    """The whole text report as one renderable."""
    parts = [header(report), Text(), input_maps(report.input, color), Text()]
    if report.methods:
        parts += [attribution_maps(report, color), Text(), mass_table(report)]
    if report.top_k:
        parts.append(top_k_table(report))
    if report.completeness is not None:
        parts.append(completeness_line(report.completeness, report.methods["integrated_gradients"].settings))
    if report.convergence is not None:
        parts.append(convergence_table(report.convergence))
    status = "unchanged" if report.weights_unchanged else "CHANGED"
    parts.append(Text(f"model weights {status} (parameter sha256 {report.params_after[:12]}…)", style="dim"))
    return Group(*parts)
