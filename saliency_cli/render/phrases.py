"""Text that wraps only between whole phrases ("shared scale," | "max 11.2%" | "(of SmoothGrad)")."""

from __future__ import annotations

from rich.measure import Measurement
from rich.text import Text

#: Where a line may break, strongest first: after "; ", after ", ", before " (" of a long aside, after ": "
#: (outside brackets; a key and its value, "conv2d: gamma", are parted last).
_LEVELS = (("; ",), (", ",), (" (",), (": ",))


def _long_aside(text: str, start: int) -> bool:
    """Whether the bracketed group at `start` is a list or a long aside ("(x = column, y = row)"), which may go
    to a line of its own, rather than a short tag that belongs to the word before it ("lrelu3 (#5)")."""
    depth = 0
    for end in range(start, len(text)):
        depth += (text[end] in "([") - (text[end] in ")]")
        if depth == 0:
            group = text[start : end + 1]
            return ", " in group or len(group) > 16
    return False


def _split(text: str, marks) -> list[str]:
    """`text` cut at `marks` outside brackets: after the punctuation of "; " ", " ": ", before the "(" of " ("."""
    parts, start, depth = [], 0, 0
    for i, char in enumerate(text):
        if char in ")]":
            depth -= 1
        pair = text[i : i + 2]
        if depth == 0 and pair in marks and (pair != " (" or _long_aside(text, i + 1)):
            cut = i + 1 if pair != " (" else i
            if text[start:cut].strip():
                parts.append(text[start:cut])
                start = cut
        if char in "([":
            depth += 1
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


def split_phrases(text: str, width: int | None = None, levels=_LEVELS) -> list[str]:
    """`text` as phrases no wider than `width` where it can: cut at the strongest breaks first ("; "), and
    at weaker ones (", ", before " (", ": ") only inside a phrase that is still too wide; a bracketed
    group stays whole. Without `width`: cut at every break.

    "top 8 pixels of the vanilla map (x = column, y = row)" at 40 columns -> ["top 8 pixels of the vanilla
    map", "(x = column, y = row)"]; at 60 it stays whole.
    """
    if not levels or (width is not None and Text(text).cell_len <= width):
        return [text.strip()] if text.strip() else []
    return [phrase for part in _split(text, levels[0]) for phrase in split_phrases(part, width, levels[1:])]


class Wrapped:
    """A string that wraps between whole phrases at the width it is drawn at (see `split_phrases`)."""

    def __init__(self, text: str, style: str = ""):
        self.text, self.style = text, style

    def __str__(self) -> str:
        return self.text

    def __rich_measure__(self, console, options) -> Measurement:
        widest = max((Text(p).cell_len for p in split_phrases(self.text)), default=0)
        return Measurement(widest, Text(self.text).cell_len)

    def __rich_console__(self, console, options):
        yield Phrases(*split_phrases(self.text, options.max_width), style=self.style)


def _cells(phrase) -> int:
    return (Text(phrase) if isinstance(phrase, str) else phrase).cell_len


def pack(items, width: int) -> list[list]:
    """(separator, phrase) pairs in lines of at most `width` cells, greedily; a line's first phrase drops its
    separator, and a phrase wider than a line has a line of its own."""
    lines: list[list] = []
    used = 0
    for sep, phrase in items:
        size = _cells(phrase)
        if lines and used + len(sep) + size <= width:
            lines[-1].append((sep, phrase))
            used += len(sep) + size
        else:
            lines.append([("", phrase)])
            used = size
    return lines


class Phrases:
    """A line of phrases (str or rich Text) that wraps between phrases, never inside one (unless a phrase
    alone is wider than the line: then Rich folds it).

    Phrases are `sep` apart; a list among them is a group whose phrases are one space apart (the line may
    break inside a group too, between its phrases).
    """

    def __init__(self, *phrases, sep: str = " ", style: str = ""):
        self.items = []
        for phrase in phrases:
            group = phrase if isinstance(phrase, list) else [phrase]
            for i, part in enumerate(p for p in group if p):
                self.items.append((" " if i else sep, part))
        self.style = style

    def __str__(self) -> str:
        return "".join(f"{sep if i else ''}{phrase}" for i, (sep, phrase) in enumerate(self.items))

    def __rich_measure__(self, console, options) -> Measurement:
        widest = max((_cells(phrase) for _, phrase in self.items), default=0)
        return Measurement(widest, Text(str(self)).cell_len)

    def __rich_console__(self, console, options):
        for line in pack(self.items, options.max_width):
            text = Text(style=self.style)
            for sep, phrase in line:
                text.append(sep)
                text.append(phrase)
            yield text
