"""One table style for every command, and one way to write numbers in them.

Style: a rule under a bold header (box SIMPLE_HEAD), title in bold on the left, numbers right-aligned and
never wrapped, text left-aligned and wrapped between words. A table that does not fit the width is never
cut: its text columns wrap first; when even that is too wide, its columns are split into several tables,
each repeating the key column(s) so every row can still be read.

Numbers: `num` gives every value in a column the same number of significant digits (trailing zeros kept:
1.120, 0.8642, 0.8410); very small or large values, and losses, are in scientific notation (`sci`).
"""

from __future__ import annotations

import math

from rich import box
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from .phrases import Wrapped

#: The box of every data table, and the space between columns it makes (padding 1 + separator + padding 1).
BOX = box.SIMPLE_HEAD
_GAP = 3
#: Below this magnitude (and from SCI_ABOVE on) numbers are written in scientific notation.
SCI_BELOW = 1e-3
SCI_ABOVE = 1e6


def num(value, digits: int = 4, missing: str = "—") -> str:
    """`value` with `digits` significant digits, trailing zeros kept; scientific when tiny or huge.

    None gives `missing`, exact zero '0', integers (Python or NumPy) their digits, NaN/inf 'nan'/'inf'.
    """
    if value is None:
        return missing
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int) or (hasattr(value, "dtype") and getattr(value.dtype, "kind", "") in "iu"):
        return str(int(value))
    value = float(value)
    if not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if value == 0:
        return "0"
    if not SCI_BELOW <= abs(value) < SCI_ABOVE:
        return sci(value, digits)
    text = f"{value:#.{digits}g}"
    if "e" in text:  # e.g. 12345.6 with 4 digits: '#g' switches to an exponent
        return f"{value:.0f}"
    return text.rstrip(".")


def sci(value, digits: int = 3, missing: str = "—") -> str:
    """`value` in scientific notation with `digits` significant digits (1.05e-06); for losses and gaps."""
    if value is None:
        return missing
    value = float(value)
    if not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return f"{value:.{max(digits - 1, 0)}e}"


def score(value) -> str:
    """A logit or other score with four decimals (7.4169); from SCI_ABOVE on, scientific with five significant
    digits (8.9953e+300), never hundreds of digits."""
    return sci(value, 5) if abs(float(value)) >= SCI_ABOVE else f"{value:.4f}"


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """'1 linear piece', '49 linear pieces': `n` with `noun`, plural (`plural`, else an added s) unless n is 1."""
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {plural or noun + 's'}"


def percent(share: float | None, missing: str = "—") -> str:
    """A share in [0, 1] as a whole percentage ('51%')."""
    return missing if share is None or not math.isfinite(share) else f"{share:.0%}"


class _KeyValues(Table):
    """A Rich table whose text values wrap between whole phrases (`phrases.split_phrases`), never inside one."""

    def add_row(self, *renderables, **kwargs) -> None:
        key, *values = renderables
        values = [Wrapped(v) if isinstance(v, str) else v for v in values]
        super().add_row(key, *values, **kwargs)


def kv_table(title: str | None = None, rows=()) -> Table:
    """A two-column key/value table without a header: keys dim, values wrapped between whole phrases
    ("conv3 (#4)," / "maps taken after its activation lrelu3 (#5):" / "32 channels of 8x8"), never cut."""
    table = _KeyValues(
        title=title, title_justify="left", title_style="bold", show_header=False, box=None, padding=(0, 2, 0, 0)
    )
    table.add_column(style="dim", no_wrap=True)
    table.add_column(overflow="fold")
    for key, value in rows:
        table.add_row(key, value)
    return table


class DataTable:
    """A table in the house style that fits any width without cutting a cell (see the module docstring).

    `add_column(header, numeric=True)`: numbers right-aligned, never wrapped; `numeric=False`: text,
    left-aligned, wrapped between words. The first `key` columns are repeated when the table is split.
    """

    def __init__(self, title: str | None = None, caption: str | None = None, key: int = 1, short: str | None = None):
        self.title, self.caption, self.key = title, caption, key
        self.short = short or title  # the title of the continuation tables
        self.columns: list[tuple[str, bool, str | None]] = []
        self.rows: list[tuple] = []
        self.sections: set[int] = set()  # indices of the rows a section line goes above

    def add_column(self, header: str, numeric: bool = True, justify: str | None = None) -> None:
        self.columns.append((header, numeric, justify))

    def add_row(self, *cells) -> None:
        self.rows.append(tuple(Text(c) if isinstance(c, str) else c for c in cells))

    def add_section(self) -> None:
        """A line between the rows so far and the next ones (as Rich's Table.add_section)."""
        self.sections.add(len(self.rows))

    def _table(self, which: list[int], widths: dict[int, int] | None, title: str | None, caption: str | None):
        table = Table(
            title=title,
            caption=caption,
            title_justify="left",
            caption_justify="left",
            title_style="bold",
            header_style="bold",
            box=BOX,
            show_edge=False,
            pad_edge=False,
        )
        for i in which:
            header, numeric, justify = self.columns[i]
            # NOTE: a numeric column is never narrower than its widest cell (see _ranges), so its numbers
            # never wrap; only its header may wrap between words ("Integrated Gradients").
            table.add_column(
                header,
                justify=justify or ("right" if numeric else "left"),
                overflow="fold",
                width=None if widths is None else widths.get(i),
            )
        for n, row in enumerate(self.rows):
            if n in self.sections and n > 0:
                table.add_section()
            table.add_row(*(row[i] for i in which))
        return table

    def _ranges(self, console, options, whole_headers: bool = True) -> list[tuple[int, int]]:
        """(min, max) content width of each column: a text column's min is its longest word, a numeric
        column's its widest cell; headers whole, or (whole_headers=False) wrapped between words."""
        wide = options.update_width(10_000)
        out = []
        for i, (header, numeric, _) in enumerate(self.columns):
            head = Measurement.get(console, wide, Text(header))
            sizes = [Measurement.get(console, wide, row[i]) for row in self.rows]
            high = max([head.maximum, *(s.maximum for s in sizes)])
            cells = max([0, *((s.maximum if numeric else s.minimum) for s in sizes)])
            out.append((max(cells, head.maximum if whole_headers else head.minimum), high))
        return out

    @staticmethod
    def _one(ranges, width: int) -> bool:
        """Whether all columns fit side by side at their minimum widths."""
        return sum(lo for lo, _ in ranges) + _GAP * max(0, len(ranges) - 1) <= width

    def _fits(self, ranges, width: int) -> bool:
        """Whether every part of the split table (the key columns and one more at least) fits `width`."""
        key = sum(lo for lo, _ in ranges[: self.key]) + _GAP * max(0, min(self.key, len(ranges)) - 1)
        return all(key + _GAP + lo <= width for lo, _ in ranges[self.key :]) and key <= width

    def __rich_measure__(self, console, options) -> Measurement:
        ranges = self._ranges(console, options)
        gaps = _GAP * max(0, len(ranges) - 1)
        return Measurement(
            min(sum(lo for lo, _ in ranges) + gaps, options.max_width), sum(hi for _, hi in ranges) + gaps
        )

    def __rich_console__(self, console, options):
        width = options.max_width
        # NOTE: in order of preference: one table with whole headers; one table with headers wrapped
        # between words; parts with whole headers; parts with wrapped headers.
        whole = self._ranges(console, options)
        words = self._ranges(console, options, whole_headers=False)
        if self._one(whole, width):
            ranges = whole
        elif self._one(words, width) or not self._fits(whole, width):
            ranges = words
        else:
            ranges = whole
        every = list(range(len(self.columns)))
        for n, which in enumerate(self._groups(ranges, width)):
            widths = self._widths(which, ranges, width)
            title = self.title if n == 0 else (f"{self.short} (continued)" if self.short else None)
            if title:
                # NOTE: the title takes the whole width (not the table's) and wraps between whole phrases
                yield Wrapped(title, style="bold")
            last = which[-1] == every[-1]
            yield self._table(which, widths, None, self.caption if last else None)

    def _groups(self, ranges, width: int) -> list[list[int]]:
        """All columns in one table when their minimum widths fit; else the key columns plus as many as fit."""
        n = len(ranges)
        if sum(lo for lo, _ in ranges) + _GAP * (n - 1) <= width or n <= self.key + 1:
            return [list(range(n))]
        keys = list(range(min(self.key, n)))
        used = sum(ranges[k][0] for k in keys) + _GAP * (len(keys) - 1)
        groups, current, size = [], [], used
        for i in range(len(keys), n):
            need = _GAP + ranges[i][0]
            if current and size + need > width:
                groups.append(keys + current)
                current, size = [], used
            current.append(i)
            size += need
        groups.append(keys + current)
        return groups

    @staticmethod
    def _widths(which: list[int], ranges, width: int) -> dict[int, int] | None:
        """None when the natural widths fit; else minimum widths plus the spare shared by the wrapping columns."""
        natural = sum(ranges[i][1] for i in which) + _GAP * (len(which) - 1)
        if natural <= width:
            return None
        widths = {i: ranges[i][0] for i in which}
        spare = width - sum(widths.values()) - _GAP * (len(which) - 1)
        want = {i: ranges[i][1] - ranges[i][0] for i in which if ranges[i][1] > ranges[i][0]}
        total = sum(want.values())
        for i, extra in want.items():
            if spare <= 0 or total <= 0:
                break
            widths[i] += min(extra, spare * extra // total)
        return widths
