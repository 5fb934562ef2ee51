"""Rich renderables of the explorer: the prediction line, a map panel, and the contents of the tabs.

They reuse `render/` (heatmaps, feature grids, the LRP ledger, the cost table); nothing here computes.
"""

from __future__ import annotations

import numpy as np
from rich.console import Group
from rich.text import Text

from ..render.heatmap import heatmap, legend
from ..render.phrases import Phrases
from ..render.tables import score


def sample_number(index: int, count: int) -> str:
    """A sample's index among the set's, 0-based as --index, the go-to digits and a batch's `file[i]`."""
    return f"{index} of 0..{count - 1}"


def prediction_text(samples, index: int, pred: dict, classes: list[str], sel) -> Group:
    """Sample, true class, predicted class with its probability (green when right, red when wrong), top 3.

    Three lines, each wrapping between whole phrases on a narrow screen (a class never apart from its
    probability)."""
    probe = samples.probes[index]
    noise = samples.noise[index]
    where = [Text.assemble((f"sample {index}", "bold"), f" of 0..{len(samples) - 1}")]
    if noise is not None:
        where.append(Text(f"· noise {noise:g}"))
    where.append(Text(f"· {probe.source}", style="dim"))
    predicted, probs = pred["predicted"], pred["probabilities"]
    verdict = []
    if probe.label is not None:
        verdict.append(Text.assemble(("true class ", "dim"), (f"{probe.label} ({classes[probe.label]})", "bold")))
    right = None if probe.label is None else predicted == probe.label
    style = "bold" if right is None else ("bold green" if right else "bold red")
    said = f"{predicted} ({classes[predicted]}) p={probs[predicted]:.4f}" + (
        "" if right is None else (" right" if right else " WRONG")
    )
    verdict.append(Text.assemble(("predicted ", "dim"), (said, style)))
    order = np.argsort(-probs, kind="stable")[:3]
    top = [f"{int(k)} {classes[int(k)]} {probs[int(k)]:.4f}" for k in order]
    ranks = [t + ("," if i < len(top) - 1 else "") for i, t in enumerate(top)]
    verdict.append([Text.assemble(("top 3: ", "dim"), ranks[0]), *ranks[1:]])
    target = predicted if sel.target is None else sel.target
    how = "auto: the predicted class" if sel.target is None else "chosen with t"
    explained = Phrases(f"explaining class {target} ({classes[target]}),", how, style="dim")
    return Group(Phrases(*where), Phrases(*verdict, sep="   "), explained)


def _scale(vmax: float, shared: bool, scale_of: str | None):
    """The panel's scale line: its own max, or the shared scale's top and which map it comes from."""
    if not shared:
        return Text(f"max {vmax:.3g}", style="dim")
    if vmax <= 0:
        return Text("shared scale, all 0", style="dim")
    return Phrases("shared scale,", f"max {vmax:.1%}", f"(of {scale_of})", style="dim")


def map_panel(result, color: bool, vmax: float, shared: bool, scale_of: str | None = None) -> Group:
    """A map's channels stacked, then its check and its mass on the ground-truth blob.

    `vmax` is the top of the scale for the values as drawn: the map itself (per-map scale), or the map
    divided by its sum |map| (shared scale: every map as shares of its own mass, on one common scale,
    whose top is the largest share of the map `scale_of`).
    """
    values = result.values
    if shared:
        total = float(np.abs(values).sum())
        values = values / total if total > 0 else values
    parts = [Text(result.title, style="bold"), _scale(vmax, shared, scale_of)]
    channels = values.shape[0]
    for c in range(channels):
        label = f"ch {c}" if channels > 1 else None
        parts.append(heatmap(values[c], vmax, color, result.signed, title=label))
    if result.check is not None:
        style = "" if result.check_ok is None else ("green" if result.check_ok else "bold red")
        parts.append(Text(result.check, style=style))
    blob = "blob mass -" if result.blob is None else f"blob mass {result.blob:.0%}"
    parts.append(Text(blob, style="dim"))
    return Group(*parts)


def panel_vmax(result, shared: bool) -> float:
    """The top of a map's own scale: its largest |value|, or its largest share of its mass."""
    a = np.abs(result.values)
    if not a.size:
        return 0.0
    if shared:
        total = float(a.sum())
        return float(a.max()) / total if total > 0 else 0.0
    return float(a.max())


def input_panel(probe, color: bool) -> Group:
    """The raw input, its channels on one scale."""
    x = probe.x
    top = float(np.abs(x).max())
    parts = [Text("input", style="bold"), Text(f"max {top:.3g}", style="dim")]
    for c in range(x.shape[0]):
        parts.append(heatmap(x[c], top, color, bool(x.min() < 0), title=f"ch {c}" if x.shape[0] > 1 else None))
    if probe.mask is not None:
        ys, xs = np.nonzero(probe.mask.any(axis=0))
        parts.append(Text(f"blob x {xs.min()}-{xs.max()} y {ys.min()}-{ys.max()}", style="dim"))
    return Group(*parts)


def legend_line(color: bool, shared: bool):
    """The keys to the shading and what the scale toggle does (wrapping between them, not inside one)."""
    how = "shared scale: maps as shares of their mass, one scale" if shared else "per-map scale: 0 .. each map's max"
    toggle = Text(f"{how} (s)", style="dim")
    if not color:
        return Phrases(legend(False), toggle, sep="   ")
    return Phrases(legend(True), legend(True, signed=True) + Text(" (IG, LRP)", style="dim"), toggle, sep="   ")


def features_view(layers, color: bool) -> Group:
    """Every spatial layer's channels, each on its own scale."""
    from ..render.features import channel_grid

    parts = []
    for fm in layers:
        k, h, w = fm.maps.shape
        parts.append(Text(f"{fm.name} (#{fm.index}, {fm.type}): {k} channels of {h}x{w}", style="bold underline"))
        parts.append(channel_grid(fm.maps, color))  # as many per row as the width takes
    if not parts:
        return Group(Text("this model has no layer with a spatial (K, h, w) output"))
    parts.append(Text("each channel on its own scale; [min, max] in its title", style="dim"))
    return Group(*parts)


def ledger_view(report) -> Group:
    """The LRP report's rule, ledger table and totals line, as `saliency-cli lrp` shows them."""
    from ..render.lrp import ledger_table, run_label, stopped_line, totals_line

    (run,) = report.runs.values()
    head = Text(f"LRP {run_label(run)}, explaining class {report.target} (logit {score(report.logits[report.target])})")
    parts = [head, ledger_table(run), totals_line(run)]
    if run.relevance is None:
        parts.append(stopped_line(run))
    return Group(*parts)
