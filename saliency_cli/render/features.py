"""Rich renderables for feature maps: a grid of small per-channel heatmaps, each titled with its range."""

from __future__ import annotations

import numpy as np
from rich.console import Group
from rich.text import Text

from .heatmap import heatmap, legend
from .inert import inert
from .layout import Panels
from .probe import predicted_value, task_words
from .tables import kv_table


def channel_grid(maps: np.ndarray, color: bool) -> Panels:
    """One heatmap per channel, as many per row as the console's width takes; each on its own largest |value|.

    A channel with negative values is drawn signed (symmetric around 0), otherwise from 0 to its max.
    """
    panels = []
    for c in range(maps.shape[0]):
        lo, hi = float(maps[c].min()), float(maps[c].max())
        vmax = max(abs(lo), abs(hi))
        panels.append(heatmap(maps[c], vmax, color, signed=lo < 0, title=f"ch {c} [{lo:.3g}, {hi:.3g}]"))
    return Panels(*panels, row_gap=1)


def features_view(result, color: bool) -> Group:
    """Header, then the grid of channels of a `reports.features.FeaturesReport`."""
    k, h, w = result.maps.shape
    head = kv_table()
    model = result.model
    head.add_row("model", f"{inert(model['path'] or '(in memory)')}  ({task_words(model)})")
    head.add_row("probe", inert(result.source) + (f", label {result.label}" if result.label is not None else ""))
    head.add_row("predicted", predicted_value(str(int(result.logits.argmax())), result.probabilities))
    head.add_row("layer", f"{inert(result.name)} (#{result.index}, {result.type}): {k} channels of {h}x{w}")
    notes = [Text("each channel on its own scale; [min, max] in its title", style="dim"), legend(color)]
    if (result.maps < 0).any():
        notes.append(legend(color, signed=True, subject="channels below 0"))
    return Group(head, Text(), channel_grid(result.maps, color), *notes)
