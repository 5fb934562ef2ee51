"""`--export FILE`: the text report as rendered, also saved as .svg, .html or .txt (one option, one helper)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from .common import is_quiet, note, stdout_console, use_color

if TYPE_CHECKING:
    from pathlib import Path


def _check_export(ctx, param, value: str | None) -> Path | None:
    """Refuse an unknown extension or a target that is not a regular file before any work is done."""
    if value is None:
        return None
    from ..errors import UserError
    from ..files import check_target
    from ..render.export import export_kind

    if export_kind(value) is None:
        raise UserError(f"--export {value}: give a file name ending in .svg, .html or .txt")
    return check_target(value, "--export")


def export_option(func):
    """--export FILE.svg|.html|.txt."""
    return click.option(
        "--export",
        "export",
        type=str,
        default=None,
        callback=_check_export,
        metavar="FILE",
        help="Also save the text report as rendered to FILE: .svg, .html or .txt by the extension (120 columns, "
        "in colour but for .txt, the same bytes for the same input); with --quiet, not also on stdout. A different "
        "file already there is kept as FILE.bak.",
    )(func)


def save_export(view, title: str, no_color: bool = False, export: Path | None = None) -> None:
    """Save `view(color)` to `export` (nothing when it is None).

    `view` is a function of one argument, whether to draw in colour, returning a Rich renderable; the
    file gets its own rendering: in colour, but plain ASCII for .txt or with --no-color. Commands whose
    stdout is JSON call this directly, so that `--format json --export report.svg` gives both.
    """
    if export is None:
        return
    from ..files import commit_replacing
    from ..render.export import export_bytes, export_kind

    kind = export_kind(str(export))
    data = export_bytes(view(kind != "txt" and not no_color), kind, title)
    backup = commit_replacing(export, data)  # under the file's lock: a different file there becomes a backup
    if backup is not None:
        note(f"kept the previous {export} as {backup}")


def print_report(view, title: str, no_color: bool = False, export: Path | None = None) -> None:
    """Save `view` to `export` when given (see `save_export`), then print it on stdout, unless it was exported
    and --quiet was given (the report is then only in the file)."""
    save_export(view, title, no_color, export)
    if export is None or not is_quiet():
        console = stdout_console(no_color)
        console.print(view(use_color(console, no_color)))
