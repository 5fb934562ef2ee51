"""Where blocks run: in this process, in a pool of processes (`--workers N`) or on a Dask cluster (`--scheduler`).

Every executor has one method, `run(fn, net, jobs, done)`: `fn(net, *job)` for every job, `done(i, result)`
called in the calling thread as each job ends (in any order). Results never depend on the executor: a job
is a whole block, computed the same way wherever it runs.
"""

from __future__ import annotations

from contextlib import contextmanager

from .. import __version__


def task(fn, shipment, version: str, job: tuple, threads: int | None = None):
    """One job where it runs: the network from the model's bytes, BLAS single-threaded, the engine on at most
    `threads` threads (None: one per core), `fn(net, *job)`."""
    from ..errors import UserError
    from ..nn.blas import limit_threads, restore_blas, single_threaded_blas
    from .shipment import unpack

    if version != __version__:
        raise UserError(f"a worker runs saliency-cli {__version__} and this client {version}: install one version")
    limit_threads(threads)
    previous = single_threaded_blas()  # NOTE: a hand-started `dask worker` may not have OPENBLAS_NUM_THREADS=1
    try:
        return fn(unpack(shipment), *job)
    finally:
        restore_blas(previous)


class Serial:
    """Every job in this process, one after another."""

    name = "this process"

    def run(self, fn, net, jobs: list[tuple], done) -> None:
        for i, job in enumerate(jobs):
            done(i, fn(net, *job))


class Processes:
    """Jobs shared over `workers` spawned processes on this machine (`--workers N`)."""

    def __init__(self, workers: int):
        self.workers = workers
        self.name = f"{workers} processes"

    def run(self, fn, net, jobs: list[tuple], done) -> None:
        from ..nn.blas import cores
        from ..processes import each_in_processes
        from .shipment import ship

        shipment = ship(net)
        # NOTE: the processes share this machine's cores: each runs the engine on its share of them, not on all
        # (N processes of `cores` threads each would fight over the cores); results do not depend on it.
        threads = max(1, cores() // min(self.workers, len(jobs)))
        each_in_processes(task, [(fn, shipment, __version__, job, threads) for job in jobs], self.workers, done)


@contextmanager
def open_executor(workers: int = 1, scheduler: str | None = None, timeout: float = 10.0, logs: bool = False):
    """The executor for `--workers` / `--scheduler` (a Dask client, and a local cluster for `local:N`, for the
    duration of the block; dask is imported only here, only for --scheduler, its log lines shown with `logs`)."""
    if scheduler is None:
        yield Serial() if workers <= 1 else Processes(workers)
        return
    from .cluster import DaskCluster

    with DaskCluster.connect(scheduler, timeout, logs) as cluster:
        yield cluster
