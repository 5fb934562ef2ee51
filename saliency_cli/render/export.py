"""A report as a file: the renderable recorded at a fixed width and saved as SVG, HTML or plain text.

The bytes depend only on the renderable: a fixed width, a fixed title, colours forced on (whatever
the terminal, TERM or NO_COLOR say), and no timestamps. Rich's recording console does the work.
"""

from __future__ import annotations

import io

#: file extension -> export kind
EXPORT_KINDS: dict[str, str] = {".svg": "svg", ".html": "html", ".htm": "html", ".txt": "txt"}

#: Columns the report is laid out for in a file (wide enough for the LRP ledger in one table).
EXPORT_WIDTH = 120


def export_kind(name: str) -> str | None:
    """The export kind for a file name ('svg', 'html', 'txt'), or None for an unknown extension."""
    dot = name.rfind(".")
    return EXPORT_KINDS.get(name[dot:].lower()) if dot > 0 and "/" not in name[dot:] else None


def export_bytes(renderable, kind: str, title: str, width: int = EXPORT_WIDTH) -> bytes:
    """`renderable` rendered at `width` columns as an SVG picture, an HTML page or plain text (UTF-8)."""
    from rich.console import Console

    console = Console(
        file=io.StringIO(),
        record=True,
        width=width,
        force_terminal=True,
        color_system="truecolor",
        no_color=False,
        legacy_windows=False,
        markup=False,
        highlight=False,
        emoji=False,
        _environ={},  # NOTE: COLUMNS, NO_COLOR, TERM... of the caller must not change the bytes
    )
    console.print(renderable)
    if kind == "svg":
        text = console.export_svg(title=title, clear=False)
    elif kind == "html":
        text = console.export_html(clear=False)
    elif kind == "txt":
        # NOTE: Rich pads lines to the width of their table; a text file gets no trailing blanks
        text = "".join(line.rstrip() + "\n" for line in console.export_text(clear=False).splitlines())
    else:
        raise ValueError(f"unknown export kind {kind!r}; choose from svg, html, txt")
    return text.encode("utf-8")
