"""Probes as rows, panels as columns: every panel the same size (the figure grows with its rows), each with
its own colour bar and title. A probe with more than `MAX_COLUMNS` panels wraps onto further rows.

Layout in inches, fixed (no tight bounding box): the figure is exactly columns x `size` wide and
rows x (BOX_ROW x `size` + TITLE) + HEAD high, so the PNG is that times --dpi pixels. In a panel's cell the
map is a square BOX x `size` wide, its colour bar and tick labels fill the rest of the width.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .colours import INPUT_CMAP, Colours, colour_map, extents, value_range

#: Most panels side by side; a probe with more wraps onto further rows.
MAX_COLUMNS = 8

#: Height of a panel's title (three lines of 8 pt) and of the figure's heading, in inches.
TITLE = 0.48
HEAD = 0.52

#: A map's square and a row's height (title excluded), as fractions of the panel size; the margin around the map.
BOX, BOX_ROW, MARGIN = 0.70, 0.80, 0.05

#: Opacity of a map drawn over the greyscale input (--overlay).
OVERLAY_ALPHA = 0.6


@dataclass(frozen=True)
class Layout:
    """How the panels are laid out: `size` inches a panel (square), at `dpi`."""

    size: float = 2.0
    dpi: float = 150.0


def shape_of(rows: int, per_probe: int) -> tuple[int, int]:
    """(grid rows, columns) for `rows` probes of `per_probe` panels each."""
    columns = min(per_probe, MAX_COLUMNS)
    return rows * -(-per_probe // columns), columns


def figure_inches(rows: int, per_probe: int, layout: Layout) -> tuple[float, float]:
    """(width, height) of the figure in inches."""
    grid_rows, columns = shape_of(rows, per_probe)
    return columns * layout.size, grid_rows * row_height(layout) + HEAD


def row_height(layout: Layout) -> float:
    """A row of panels' height in inches: the titles and the maps."""
    return TITLE + BOX_ROW * layout.size


def draw_grid(probes: list[list], heading: str, colours: Colours, layout: Layout):
    """A Figure with one row (or more, wrapped) per probe; `probes` holds each probe's panels (same count each);
    `heading` is a bold first line and a second line of details.

    Returns the Figure; its map axes carry `panel_kind` ("input", "signed", "unsigned") for tests and tools.
    """
    from .backend import new_figure

    per_probe = len(probes[0])
    width, height = figure_inches(len(probes), per_probe, layout)
    figure = new_figure(width, height, layout.dpi)
    title, _, detail = heading.partition("\n")
    figure.text(0.5, 1 - 0.16 / height, title, ha="center", va="center", fontsize=9, weight="bold")
    figure.text(0.5, 1 - 0.34 / height, detail, ha="center", va="center", fontsize=7)
    ranges = extents(probes, colours.scale)
    _, columns = shape_of(1, per_probe)
    wraps = -(-per_probe // columns)
    for r, panels in enumerate(probes):
        for i, panel in enumerate(panels):
            row, column = r * wraps + i // columns, i % columns
            left = column * layout.size
            top = HEAD + row * row_height(layout)
            _draw_panel(figure, panel, (left, top), (width, height), layout.size, colours, ranges[r][i])
    return figure


def _draw_panel(figure, panel, corner, inches, size: float, colours: Colours, extent: float | None) -> None:
    """One panel in the cell whose top-left corner is `corner` (inches from the figure's top-left)."""
    width, height = inches
    left, top = corner
    box = BOX * size
    x0, y0 = left + MARGIN * size, height - (top + TITLE + box)  # bottom-left, from the bottom
    axes = figure.add_axes((x0 / width, y0 / height, box / width, box / height))
    axes.set_xticks([])
    axes.set_yticks([])
    axes.set_title(panel.title, fontsize=7, linespacing=1.15, pad=3)
    axes.panel_kind = panel.kind
    if panel.values is None:
        axes.text(0.5, 0.5, "no map", ha="center", va="center", transform=axes.transAxes, color="0.4")
        return
    values = np.asarray(panel.values, dtype=np.float64)
    where = _where(panel)
    if panel.kind == "input":
        cmap, (vmin, vmax), alpha = colour_map(INPUT_CMAP), value_range(values, "input"), 1.0
    else:
        cmap = colour_map(colours.signed if panel.kind == "signed" else colours.unsigned)
        vmin, vmax = value_range(values, panel.kind, extent)
        alpha = 1.0
        if colours.overlay and panel.input is not None:
            grey = panel.input
            low, high = value_range(grey, "input")
            axes.imshow(grey, cmap=colour_map(INPUT_CMAP), vmin=low, vmax=high, extent=where, interpolation="nearest")
            alpha = OVERLAY_ALPHA
    image = axes.imshow(
        values, cmap=cmap, vmin=vmin, vmax=vmax, alpha=alpha, extent=where, interpolation="nearest", resample=False
    )
    axes.set_xlim(where[0], where[1])
    axes.set_ylim(where[2], where[3])
    bar = figure.add_axes(((x0 + box + 0.03 * size) / width, y0 / height, 0.05 * size / width, box / height))
    colorbar = figure.colorbar(image, cax=bar)
    colorbar.ax.tick_params(labelsize=6, length=2, pad=1)
    # NOTE: below 0.01 (and from 1e4) the labels share a power-of-ten offset above the bar: '-0.00100' or
    # '-0.0003' are wider than the space beside it, and the last panel's were cut at the figure's edge.
    colorbar.formatter.set_powerlimits((-2, 4))
    colorbar.update_ticks()
    colorbar.ax.yaxis.get_offset_text().set_fontsize(6)
    colorbar.solids.set_alpha(1.0)  # NOTE: the key shows the colour map itself, also under --overlay


def _where(panel) -> tuple[float, float, float, float]:
    """Where the map lies in input pixels (left, right, bottom, top): a coarser map covers the same area."""
    h, w = np.shape(panel.input if panel.input is not None else panel.values)
    return (-0.5, w - 0.5, h - 0.5, -0.5)
