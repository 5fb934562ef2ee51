"""Progress bars on stderr for long work: shown only when stderr is a terminal (and not --quiet).

The engine never sees Rich: it is handed a plain callback, `progress(done, total)`, and calls it as work
is done. The bar disappears when the work is finished, so that only the report stays on the screen.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager


def _ignore(done: int, total: int, **fields) -> None:
    return None


@contextmanager
def progress_bar(
    label: str, total: int | None = None, status: str | None = None, transient: bool = True
) -> Iterator[Callable[..., None]]:
    """A callback `update(done, total, **fields)` that moves a bar labelled `label` on a terminal's stderr.

    `status` is a Rich template of extra fields shown after the counts (e.g. "{task.fields[loss]}"); fields
    start empty and are set through `update(..., loss="...")`. Elsewhere the callback does nothing.
    """
    from .common import plain_stderr, show_progress, stderr_console

    if plain_stderr():  # NOTE: decided before Rich is imported: a piped run never needs it
        yield _ignore
        return
    err = stderr_console()
    if not show_progress(err):
        yield _ignore
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = [TextColumn(label, style="bold"), BarColumn(), MofNCompleteColumn()]
    if status:
        columns.append(TextColumn(status))
    columns.append(TimeElapsedColumn())
    with Progress(*columns, console=err, transient=transient) as bar:
        job = bar.add_task(label, total=total, status="")

        def update(done: int, total: int, **fields) -> None:
            bar.update(job, completed=done, total=total, **fields)

        yield update
