"""Strings from files and paths shown as inert text: no control character ever reaches the terminal.

A model file's task, class and layer names, its training record and any path a user hands in are
data, not instructions for the terminal: an ESC in one (screen clear, window title, colours) or a C1
control, a carriage return, a bidi override must print as visible escapes such as \\x1b, never act.
JSON output needs none of this: json.dumps escapes every control character as \\u00XX.
"""

from __future__ import annotations

import re

# C0 controls and DEL, C1 controls (0x80-0x9f: 0x9b is a one-byte CSI), the bidirectional overrides and
# isolates that reorder what is shown, and the Unicode line and paragraph separators.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def inert(value) -> str:
    """`str(value)` with every control character (newlines and tabs too) written as an escape: one line."""
    text = value if isinstance(value, str) else str(value)
    return _UNSAFE.sub(_escape, text)
