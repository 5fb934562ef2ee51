"""What every JSON document of the tool carries first: the tool's version and its command's schema number.

The schema numbers live here and nowhere else; `stamped` is the only way a document reaches stdout (the
emitters in cli/common.py call it), so a command cannot print JSON without them. docs/json.md describes
each command's document and what counts as a breaking change; CHANGELOG.md records every raise.
"""

from __future__ import annotations

from .. import __version__

#: command -> the schema number of its JSON documents, raised by one on every breaking change to them
#: (a key removed, renamed or retyped, or a value whose meaning changed); adding a key is not breaking.
SCHEMAS: dict[str, int] = {
    "cam": 1,
    "convert": 1,
    "cost": 1,
    "evaluate": 2,
    "features": 1,
    "lrp": 1,
    "models": 1,
    "saliency": 1,
    "train": 1,
}

#: The keys `stamped` puts first in every document (never dropped by --fields or --compact).
STAMP_KEYS = ("version", "schema")


def stamped(command: str, document: dict) -> dict:
    """`document` headed by "version" (the tool's) and "schema" (`command`'s number), other keys in order.

    A command missing from SCHEMAS, or a document naming another "command", is a bug (LookupError).
    """
    if command not in SCHEMAS:
        raise LookupError(f"no JSON schema registered for the command {command!r} (render/schema.py SCHEMAS)")
    if document.get("command", command) != command:
        raise LookupError(f"a {document['command']!r} document stamped as {command!r}")
    body = {k: v for k, v in document.items() if k not in STAMP_KEYS}
    return {"version": __version__, "schema": SCHEMAS[command], **body}
