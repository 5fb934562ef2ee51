"""The options that say where a batch's blocks run and where finished ones are kept.

--workers N (processes on this machine), --scheduler ADDRESS (a Dask cluster, or local:N), --scheduler-timeout,
--checkpoint DIR and --restart, shared by `evaluate` and the batch forms of `saliency`, `lrp` and `cam`.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, replace

import click

from ..errors import UserError
from .options import packed

#: The options' parameter names, for the commands' help sections.
NAMES = ["workers", "scheduler", "scheduler_timeout", "checkpoint", "restart"]


#: `--workers auto`: one process per core when the batch has several blocks
AUTO = "auto"
MAX_WORKERS = 64


class Workers(click.ParamType):
    """A process count from 1 to MAX_WORKERS, or `auto`."""

    name = "N|auto"

    def convert(self, value, param, ctx):
        if isinstance(value, int) or value == AUTO:
            count = value
        elif str(value).strip().lower() == AUTO:
            count = AUTO
        else:
            text = str(value).strip()
            if not (text.isascii() and text.isdigit()):  # NOTE: int() would take '٢' (and refuse '³' in its words)
                self.fail(f"{value!r} is neither a number of processes nor auto", param, ctx)
            count = int(text)
        if count != AUTO and not 1 <= count <= MAX_WORKERS:
            self.fail(f"{count} is not in the range 1<=x<={MAX_WORKERS} (or auto)", param, ctx)
        return count


#: `--workers auto` starts processes only for blocks of at least this much work (values computed, as
#: cli/work.py counts them): a process takes about a second to start, and a block of the shipped blobs6x6
#: model's default evaluation (1.3e8) takes half of one; blobs8x8's (2.6e9) takes 9 s.
AUTO_MIN_WORK = 5e8


def resolve_workers(workers, blocks: int, scheduler: str | None = None, work: float | None = None) -> int:
    """The processes `--workers` asks for: `auto` is one per core, at most one per block, and 1 when the blocks
    are too small to pay for a process's start (`work`: the whole run's, when known) or with --scheduler (the
    cluster's workers run the blocks)."""
    if workers != AUTO:
        return int(workers)
    if scheduler is not None or (work is not None and work < AUTO_MIN_WORK * blocks):
        return 1
    from ..nn.blas import cores

    return max(1, min(cores(), blocks))


@dataclass(frozen=True)
class Sharing:
    """Where a batch's blocks run (--workers, --scheduler, --scheduler-timeout) and where finished ones are kept
    (--checkpoint, --restart): one argument `sharing` of the commands that take `sharing_options`."""

    workers: int | str = 1
    scheduler: str | None = None
    scheduler_timeout: float = 10.0
    checkpoint: str | None = None
    restart: bool = False

    def check(self, batch: bool) -> None:
        """Refuse combinations that would be ignored (`batch`: whether the probes came as a batch; `--workers
        auto` asks for nothing in particular)."""
        many = self.workers != AUTO and self.workers > 1
        if many and self.scheduler is not None:
            raise UserError("give --workers N (processes here) or --scheduler ADDRESS (a Dask cluster), not both")
        if self.restart and self.checkpoint is None:
            raise UserError("--restart empties a --checkpoint DIR: add --checkpoint DIR")
        if not batch:
            used = [
                name
                for name, on in (
                    ("--workers", many),
                    ("--scheduler", self.scheduler),
                    ("--checkpoint", self.checkpoint),
                )
                if on
            ]
            if used:
                raise UserError(f"{used[0]} shares the probes of a batch: give an (N, C, H, W) --input")

    def resolved(self, blocks: int, work: float | None = None) -> Sharing:
        """These options with `--workers auto` resolved for `blocks` blocks of `work` in all (`resolve_workers`)."""
        return replace(self, workers=resolve_workers(self.workers, blocks, self.scheduler, work))


def sharing_options(func=None, *, workers=1):
    """--workers (default `workers`: 1, or `auto`), --scheduler, --scheduler-timeout, --checkpoint, --restart,
    handed to the command as one `sharing: Sharing`."""
    if func is None:
        return lambda f: sharing_options(f, workers=workers)
    return packed(
        "sharing",
        Sharing,
        click.option(
            "--workers",
            type=Workers(),
            metavar="N|auto",
            default=workers,
            show_default=True,
            help="Processes to share the blocks of 100 probes of a batch over; auto: one per core, at most one per "
            "block (evaluate: when its blocks take seconds). The results are the same for any number.",
        ),
        click.option(
            "--scheduler",
            default=None,
            metavar="ADDRESS",
            help="Run the blocks on a Dask cluster: a scheduler's address (tcp://host:8786), or local:N to start N "
            "worker processes here for the run. Needs the optional extra `cluster`; the results are the same.",
        ),
        click.option(
            "--scheduler-timeout",
            type=click.FloatRange(0.1, 3600),
            default=10.0,
            show_default=True,
            help="Seconds to wait for the scheduler and a first worker before giving up (exit code 2).",
        ),
        click.option(
            "--checkpoint",
            default=None,
            metavar="DIR",
            help="Keep every finished block in DIR and reuse those a stopped run left there (same settings only).",
        ),
        click.option("--restart", is_flag=True, help="With --checkpoint: empty DIR of another run's blocks first."),
    )(func)


@contextmanager
def open_blocks(command: str, sharing: Sharing):
    """A `sharing.Blocks` for the run's options, `--workers auto` resolved (`Sharing.resolved`); a Dask client
    only with --scheduler, closed at the end."""
    if sharing.workers == AUTO:
        raise ValueError("open_blocks: resolve --workers auto for the run's blocks first (Sharing.resolved)")
    from ..sharing import Blocks
    from ..sharing.executors import open_executor
    from .common import note

    kept = None
    if sharing.checkpoint is not None:
        from ..sharing.checkpoint import Checkpoint

        kept = Checkpoint(sharing.checkpoint, sharing.restart)
    from . import debug_enabled

    with open_executor(sharing.workers, sharing.scheduler, sharing.scheduler_timeout, logs=debug_enabled()) as executor:
        yield Blocks(executor, kept, command, tell=note)


def probe_blocks(n: int) -> list[slice]:
    """A batch of `n` probes in blocks of `reports.saliency.BLOCK`, the unit of work wherever it runs."""
    from ..reports.saliency import BLOCK

    return [slice(s, min(s + BLOCK, n)) for s in range(0, n, BLOCK)]


def part_of(value, part: slice):
    """A per-probe array's part for one block; one value for all (or None) as it is."""
    import numpy as np

    return value[part] if value is not None and np.ndim(value) > 0 else value


def keywords_block(net, fn, probes, options: dict):
    """`fn(net, probes, **options)`: a block of a command whose batch function takes keywords."""
    return fn(net, probes, **options)


def map_probe_blocks(command: str, fn, net, jobs: list[tuple], parts: list[slice], sharing: Sharing) -> list:
    """Every block's result (`fn(net, *job)`, one job per part of the probes), on the executor `sharing` names,
    with a progress bar over the probes for long batches."""
    from .batch import with_progress

    total = parts[-1].stop

    def compute(progress):
        done = [0]

        def finished(i: int) -> None:
            done[0] += parts[i].stop - parts[i].start
            if progress is not None:
                progress(done[0], total)

        with open_blocks(command, sharing.resolved(len(parts))) as blocks:
            return blocks.map(fn, net, jobs, finished)

    return with_progress(command, total, compute)
