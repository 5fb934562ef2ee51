"""Blocks of work shared out: over an executor (this process, processes, a Dask cluster), kept in a checkpoint.

A command cuts its probes into fixed blocks whose every random draw is keyed by the seed and the probe's
index, never by the block or where it runs; `Blocks.map` computes them wherever the executor says, hands
each result back as it ends (the progress bar moves by blocks), keeps each finished one in `--checkpoint DIR`
and reuses those a stopped run left there. The results are the same bit for bit whatever the executor.
"""

from __future__ import annotations

from .. import __version__
from ..errors import EX_INTERRUPTED, EX_TEMPFAIL, Stopped
from .fingerprint import fingerprint


class Blocks:
    """`map(fn, net, jobs)`: `[fn(net, *job) for job in jobs]` on `executor`, finished blocks kept in `checkpoint`.

    `tell(line)` receives what is worth a note on stderr (blocks reused from the checkpoint).
    """

    def __init__(self, executor, checkpoint=None, command: str = "", tell=None):
        self.executor, self.checkpoint, self.command = executor, checkpoint, command
        self.tell = tell or (lambda line: None)

    def map(self, fn, net, jobs: list[tuple], done=None) -> list:
        """The jobs' results in job order; `done(i)` is called as block `i` is finished (or found kept)."""
        results: list = [None] * len(jobs)
        ready = [False] * len(jobs)
        keys = self._reuse(fn, net, jobs, results, ready, done)
        pending = [i for i, r in enumerate(ready) if not r]

        def finished(j: int, result) -> None:
            i = pending[j]
            if keys is not None:  # NOTE: kept first, then counted: a Ctrl-C during the write says one block fewer
                self.checkpoint.save(i, keys[i], result)
            results[i], ready[i] = result, True
            if done is not None:
                done(i)

        try:
            if pending:
                self.executor.run(fn, net, [jobs[i] for i in pending], finished)
        except KeyboardInterrupt:
            raise Stopped(f"interrupted: {self._kept(sum(ready), len(jobs))}", EX_INTERRUPTED) from None
        except Exception as exc:
            from .cluster import SchedulerLost  # NOTE: imports no dask

            if not isinstance(exc, SchedulerLost):
                raise
            raise Stopped(
                f"lost the scheduler ({self.executor.name}): {self._kept(sum(ready), len(jobs))}", EX_TEMPFAIL
            ) from None
        return results

    def _reuse(self, fn, net, jobs, results, ready, done) -> list[str] | None:
        """Each block's key, and the results the checkpoint holds under them (None without a checkpoint)."""
        if self.checkpoint is None:
            return None
        import hashlib

        from ..nn.modelfile import model_bytes

        model = hashlib.sha256(model_bytes(net)).hexdigest()
        what = f"{fn.__module__}.{fn.__qualname__}"
        keys = [fingerprint(__version__, what, model, i, job) for i, job in enumerate(jobs)]
        self.checkpoint.open(fingerprint(__version__, self.command, what, model, keys), len(jobs), self.command)
        for i, key in enumerate(keys):
            ready[i], results[i] = self.checkpoint.load(i, key)
            if ready[i] and done is not None:
                done(i)
        reused, damaged = sum(ready), self.checkpoint.damaged
        if reused or damaged:
            again = f"; {damaged} damaged block file{'s' * (damaged > 1)} computed again" if damaged else ""
            self.tell(f"checkpoint {self.checkpoint.label}: reused {reused} of {len(jobs)} blocks{again}")
        return keys

    def _kept(self, finished: int, total: int) -> str:
        if self.checkpoint is None:
            return f"{finished} of {total} blocks were finished and not kept (--checkpoint DIR keeps them)"
        return (
            f"{finished} of {total} blocks are finished and kept in {self.checkpoint.label}: run the same command "
            "again to go on"
        )
