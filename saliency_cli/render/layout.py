"""Panels laid out as a grid that fits the console: side by side when there is room, stacked when not."""

from __future__ import annotations

from rich.measure import Measurement
from rich.table import Table


class Panels:
    """Renderables in rows of equal-width cells, as many per row as the width allows (at least one).

    Heatmaps must never wrap (a wrapped row destroys the picture), so panels that do not fit side by
    side move to the next row instead of being squeezed.
    """

    def __init__(self, *panels, gap: int = 3, row_gap: int = 0):
        self.panels = [p for p in panels if p is not None]
        self.gap, self.row_gap = gap, row_gap

    def _cell(self, console, options) -> int:
        if not self.panels:
            return 0
        wide = options.update_width(10_000)
        return max(Measurement.get(console, wide, p).maximum for p in self.panels)

    def per_row(self, width: int, cell: int) -> int:
        """How many cells of `cell` columns, `gap` apart, fit in `width` columns."""
        return max(1, min(len(self.panels), (width + self.gap) // (cell + self.gap)))

    def __rich_measure__(self, console, options) -> Measurement:
        cell = self._cell(console, options)
        n = len(self.panels)
        return Measurement(cell, n * cell + max(0, n - 1) * self.gap)

    def __rich_console__(self, console, options):
        if not self.panels:
            return
        cell = self._cell(console, options)
        n = self.per_row(options.max_width, cell)
        grid = Table.grid(padding=(0, self.gap, self.row_gap, 0), pad_edge=False)
        for _ in range(n):
            grid.add_column(min_width=cell, no_wrap=True)
        for start in range(0, len(self.panels), n):
            row = self.panels[start : start + n]
            grid.add_row(*row, *[""] * (n - len(row)))
        yield grid
