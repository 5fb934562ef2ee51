"""Rich renderables for feature maps: a grid of small per-channel heatmaps, each titled with its range."""

from __future__ import annotations

import numpy as np
from rich.console import Group
from rich.table import Table
from rich.text import Text

from .heatmap import heatmap, legend

#: Terminal width the grid is laid out for (an 80-column terminal, minus a margin).
GRID_WIDTH = 78


def channel_grid(maps: np.ndarray, color: bool) -> Table:
    """One heatmap per channel, as many per row as fit; each scaled to its own largest |value|.

    A channel with negative values is drawn signed (symmetric around 0), otherwise from 0 to its max.
    """
    k, _, w = maps.shape
    cell = 3 + 2 * w  # row labels + two characters per cell
    columns = max(1, min(k, (GRID_WIDTH + 3) // (cell + 3)))
    grid = Table.grid(padding=(0, 3, 1, 0))
    for _ in range(columns):
        grid.add_column(min_width=cell)
    panels = []
    for c in range(k):
        lo, hi = float(maps[c].min()), float(maps[c].max())
        vmax = max(abs(lo), abs(hi))
        panels.append(heatmap(maps[c], vmax, color, signed=lo < 0, title=f"ch {c} [{lo:.3g}, {hi:.3g}]"))
    for start in range(0, k, columns):
        row = panels[start : start + columns]
        grid.add_row(*row, *[""] * (columns - len(row)))
    return grid


def features_view(result, report: dict, color: bool) -> Group:
    """Header, then the grid of channels."""
    k, h, w = result.maps.shape
    probs = ", ".join(f"{i}: {p:.4f}" for i, p in enumerate(result.probabilities))
    head = Table(show_header=False, box=None, padding=(0, 2))
    head.add_column(style="dim")
    head.add_column()
    head.add_row("model", f"{report['model']}  (task {report['task']})")
    head.add_row("probe", report["source"] + (f", label {report['label']}" if report["label"] is not None else ""))
    head.add_row("predicted", f"{int(result.logits.argmax())}   probabilities {probs}")
    head.add_row("layer", f"{result.name} (#{result.index}, {result.type}): {k} channels of {h}x{w}")
    notes = [Text("each channel on its own scale; [min, max] in its title", style="dim"), legend(color)]
    if color and (result.maps < 0).any():
        notes.append(Text("channels with negative values are signed: ", style="dim") + legend(color, signed=True))
    return Group(head, Text(), channel_grid(result.maps, color), *notes)
