"""The parts every report shows of its probe: a header of model, probe and prediction, and the raw input."""

from __future__ import annotations

import numpy as np
from rich.console import Group
from rich.table import Table
from rich.text import Text

from .heatmap import heatmap, side_by_side
from .inert import inert
from .phrases import Phrases
from .tables import kv_table


def abs_max(a: np.ndarray) -> float:
    """The largest |value| of an array (0 for an empty one): the top of an unsigned or symmetric scale."""
    return float(np.abs(a).max()) if a.size else 0.0


def task_words(model: dict) -> str:
    """'task blobs8x8' of a `model` object (see `reports.probe.model_info`), or 'no task' for a model that names
    none (trained on a user's --data, or imported): what text output says in brackets after the model."""
    task = model.get("task")
    return "no task" if task is None else f"task {inert(task)}"


def probe_header(report, title: str | None = None) -> Table:
    """Model, task (a model that names none has no row), probe, true label and prediction with probabilities;
    callers add their own rows."""
    table = kv_table(title)
    model = report.model
    sha = (model.get("sha256") or "")[:12]
    table.add_row("model", inert(model.get("path") or "(in memory)") + (f"  sha256 {sha}…" if sha else ""))
    if model.get("task") is not None:
        table.add_row("task", inert(model["task"]))
    table.add_row("probe", inert(report.source))
    if report.label is not None:
        table.add_row("true label", f"{report.label} ({inert(report.classes[report.label])})")
    table.add_row(
        "predicted",
        predicted_value(f"{report.predicted} ({inert(report.classes[report.predicted])})", report.probabilities),
    )
    return table


def predicted_value(predicted: str, probabilities) -> Phrases:
    """ "0 (top-left)   probabilities 0: 1.0000, 1: 0.0000", wrapping between classes, never inside one."""
    probs = [f"{i}: {p:.4f}" + ("," if i < len(probabilities) - 1 else "") for i, p in enumerate(probabilities)]
    return Phrases(predicted, ["probabilities", *probs], sep="   ")


def input_maps(x: np.ndarray, color: bool) -> Group:
    """The raw input, one heatmap per channel, on one shared scale."""
    signed = bool(x.min() < 0)
    top = abs_max(x)
    panels = [heatmap(x[c], top, color, signed, title=f"input, channel {c}") for c in range(x.shape[0])]
    scale = f"-{top:.3g} .. 0 .. {top:.3g}" if signed else f"0 .. {top:.3g}"
    return Group(Text(f"input (scale {scale})", style="bold underline"), side_by_side(*panels))


def stacked(parts) -> Group:
    """Renderables one after the other, a blank line between them."""
    return Group(*(part for i, p in enumerate(parts) for part in ([Text()] if i else []) + [p]))
