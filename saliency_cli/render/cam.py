"""Rich renderables for the class-activation-map report: header, input, maps at layer and input size, peak."""

from __future__ import annotations

import numpy as np
from rich.console import Group
from rich.table import Table
from rich.text import Text

from ..methods.cam import CAM_METHODS
from .heatmap import heatmap, legend, side_by_side
from .inert import inert
from .phrases import Phrases
from .probe import abs_max, input_maps, probe_header, stacked
from .tables import DataTable, kv_table, num, score


def header(report, probe: bool = True) -> Table:
    """Model, probe, prediction and what is explained (unless `probe` is False: a later method on the same
    probe), then the method and the layer its maps come from."""
    table = probe_header(report, "Class activation maps") if probe else kv_table()
    if probe:
        how = "forced with --target" if report.target_forced else "the predicted class"
        table.add_row(
            "explained",
            f"the logit of class {report.target} ({inert(report.classes[report.target])}), {how}: "
            f"{score(report.logits[report.target])}",
        )
    spec = CAM_METHODS[report.method]
    table.add_row("method", f"{spec.title}: {spec.description}")
    layer, maps = report.layer, report.maps_layer
    where = f"{inert(layer['name'])} (#{layer['index']})"
    if maps["index"] != layer["index"]:
        where += f", maps taken after its activation {inert(maps['name'])} (#{maps['index']})"
    k, h, w = maps["shape"]
    table.add_row("layer", f"{where}: {k} channels of {h}x{w}")
    if report.smooth:
        s = report.smooth
        table.add_row(
            "smoothed",
            f"mean over {s['samples']} noisy copies, sigma {s['sigma']:.4g}, seed {s['seed']} (one batch)",
        )
    if report.dtype != "float64":
        table.add_row("compute", report.dtype)
    return table


def same_maps(report) -> tuple[bool, bool]:
    """Which panels would repeat the map: (the ReLU changes nothing: no value is negative before it,
    upsampling is the identity: the layer's maps are as large as the input and every upsampled map is the map)."""
    relu_idle = bool(np.array_equal(report.raw, report.map))
    identity = all(
        values.shape == report.map.shape and np.array_equal(values, report.map) for values in report.upsampled.values()
    )
    return relu_idle, identity


def class_maps(report, color: bool) -> Group:
    """The map at layer resolution (before and after the ReLU) and upsampled to the input; panels that would
    only repeat the map are left out, saying why."""
    title = CAM_METHODS[report.method].title + (" + SmoothGrad" if report.smooth else "")
    h, w = report.map.shape
    size = report.upsampled["bilinear"].shape
    raw_max, vmax = abs_max(report.raw), abs_max(report.map)
    relu_idle, identity = same_maps(report)
    at_layer = [heatmap(report.map, vmax, color, title=f"{title} {h}x{w}\nmax {vmax:.3g}")]
    if not relu_idle:
        before = f"before ReLU {h}x{w}\n|max| {raw_max:.3g}"
        at_layer.insert(0, heatmap(report.raw, raw_max, color, signed=True, title=before))
    at_input = [
        heatmap(values, vmax, color, title=f"{name} {size[0]}x{size[1]}\nmax {abs_max(values):.3g}")
        for name, values in report.upsampled.items()
    ]
    scale = f"0 .. {vmax:.3g}" if relu_idle and identity else f"ReLU maps share one scale: 0 .. {vmax:.3g}"
    parts = [Text(f"{title} maps ({scale})", style="bold underline")]
    # NOTE: said in phrases that wrap whole on a narrow terminal
    relu_why = ["before the ReLU: the same map", "(no value is negative)"]
    size_why = ["upsampled to the input: the same map", f"(the layer is {h}x{w}, as the input)"]
    if relu_idle and identity:
        parts += [Phrases("one panel for four:", *relu_why[:-1], relu_why[-1] + ";", *size_why, style="dim")]
        parts.append(at_layer[0])
    else:
        parts += [Text("at layer resolution", style="dim"), side_by_side(*at_layer)]
        if identity:
            parts.append(Phrases(*size_why, style="dim"))
        else:
            parts += [Text("upsampled to the input (bilinear: align corners)", style="dim"), side_by_side(*at_input)]
        if relu_idle:
            parts.append(Phrases(*relu_why, style="dim"))
    parts.append(legend(color))
    if not relu_idle:
        parts.append(legend(color, signed=True, subject="before ReLU"))
    return Group(*parts)


def _peak_text(peak, where: str, target: int) -> Text:
    if peak is None:
        return Text(f"peak ({where}): none, the map is zero everywhere", style="yellow")
    line = Text(f"peak ({where}): x={peak.x}, y={peak.y}, value {num(peak.value)}")
    if peak.in_blob is not None:
        inside = "inside" if peak.in_blob else "OUTSIDE"
        line.append(f"  {inside} class {target}'s blob", style="bold green" if peak.in_blob else "bold red")
    return line


def peaks(report) -> Group:
    """Where each map peaks and whether that is on the explained class's ground-truth blob."""
    h, w = report.map.shape
    if same_maps(report)[1]:
        parts = [_peak_text(report.peak_layer, f"layer {h}x{w}, as large as the input", report.target)]
    else:
        parts = [
            _peak_text(report.peak_layer, f"layer {h}x{w}", report.target),
            _peak_text(report.peak_input, "input, bilinear", report.target),
        ]
    if report.blob is None:
        parts.append(Text("no ground truth for this model's task: blob check skipped", style="dim"))
    else:
        ys, xs = np.nonzero(report.blob)
        parts.append(
            Text(
                f"class {report.target}'s blob: x {xs.min()}..{xs.max()}, y {ys.min()}..{ys.max()} "
                "(x = column, y = row)",
                style="dim",
            )
        )
    return Group(*parts)


def channel_table(report, top: int = 8) -> DataTable | None:
    """The channels with the largest |weight| (not shown when smoothed: each copy has its own)."""
    if report.weights is None:
        return None
    order = np.argsort(-np.abs(report.weights), kind="stable")[:top]
    table = DataTable(title=f"top {len(order)} |w_k|")
    for column in ("channel", "w_k"):
        table.add_column(column)
    for k in order:
        table.add_row(str(k), num(report.weights[k]))
    return table


def cam_view(report, color: bool, probe: bool = True) -> Group:
    """The whole text report as one renderable (without the probe's header and input when `probe` is False)."""
    parts = [header(report, probe), Text()]
    if probe:
        parts += [input_maps(report.input, color), Text()]
    parts += [class_maps(report, color), Text()]
    parts.append(peaks(report))
    table = channel_table(report)
    if table is not None:
        parts.append(table)
    status = "unchanged" if report.weights_unchanged else "CHANGED"
    parts.append(Text(f"model weights {status} (parameter sha256 {report.params_after[:12]}…)", style="dim"))
    return Group(*parts)


def cam_views(reports, color: bool) -> Group:
    """Several methods' reports on one probe: the probe and its input once, then each method's maps."""
    return stacked([cam_view(report, color, probe=i == 0) for i, report in enumerate(reports)])
