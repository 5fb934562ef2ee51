"""Text that wraps only between whole phrases ("shared scale," | "max 11.2%" | "(of SmoothGrad)")."""

from __future__ import annotations

from rich.measure import Measurement
from rich.text import Text


def split_phrases(text: str) -> list[str]:
    """`text` cut where a line may break: after ', ', '; ' or ': ' and before ' (', outside parentheses.

    "top 8 pixels of the vanilla map (x = column, y = row)" -> ["top 8 pixels of the vanilla map",
    "(x = column, y = row)"]; a parenthesised group stays whole.
    """
    phrases, start, depth = [], 0, 0
    for i, char in enumerate(text):
        depth += (char in "([") - (char in ")]")
        if depth == 0 and text[i : i + 2] in (", ", "; ", ": "):
            phrases.append(text[start : i + 1])
            start = i + 2
        elif depth == 1 and char in "([" and text[i - 1 : i] == " " and i - 1 >= start:
            if text[start : i - 1].strip():
                phrases.append(text[start : i - 1])
                start = i
    phrases.append(text[start:])
    return [p.strip() for p in phrases if p.strip()]


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
