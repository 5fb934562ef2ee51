"""Blocks on a Dask cluster (`--scheduler tcp://host:8786` or `--scheduler local:N`): the one place dask is used.

The model travels as bytes with every task (Shipment, SHA-256 checked), so a worker needs saliency-cli
installed, not the client's files. Dask reschedules the tasks of a worker that dies; a scheduler that goes
away ends the run with SchedulerLost (the caller keeps what finished).
"""

from __future__ import annotations

import logging
import uuid
import warnings
from contextlib import contextmanager

from ..errors import UserError
from ..extras import import_extra
from ..processes import sigint_held

#: Most worker processes `--scheduler local:N` starts.
MAX_LOCAL = 64


class SchedulerLost(Exception):
    """The connection to the scheduler was lost mid-run."""


def parse_address(address: str) -> tuple[str, int | None]:
    """("local", N) for `local:N`, else (address, None) for a scheduler's address such as tcp://host:8786."""
    if address.startswith("local:"):
        count = address.removeprefix("local:")
        if not (count.isascii() and count.isdigit()) or not 1 <= int(count) <= MAX_LOCAL:
            raise UserError(f"--scheduler {address}: local:N needs N workers from 1 to {MAX_LOCAL}, such as local:2")
        return "local", int(count)
    scheme, sep, rest = address.partition("://")
    if not sep or scheme not in ("tcp", "tls", "inproc", "ucx", "ws", "wss") or not rest:
        raise UserError(f"--scheduler {address}: give a scheduler's address such as tcp://host:8786, or local:N")
    return address, None


class DaskCluster:
    """An executor whose jobs are Dask tasks."""

    def __init__(self, client, name: str):
        self.client, self.name = client, name

    @classmethod
    @contextmanager
    def connect(cls, address: str, timeout: float, logs: bool = False):
        """A client of the scheduler at `address` (or of a local cluster started for `local:N` and stopped
        after), with at least one worker; one-line UserErrors when none is reached within `timeout` s.
        Dask's own log lines are shown only with `logs`."""
        where, local = parse_address(address)
        distributed = import_extra("distributed", "cluster", "--scheduler")
        silenced = logging.root.manager.disable
        if not logs:  # NOTE: its lost-worker and reconnection lines would break our one-line messages
            logging.disable(logging.CRITICAL)
        cluster = None
        try:
            if local is not None:
                with sigint_held(ignore=True), warnings.catch_warnings(), _lean_workers():
                    if not logs:  # NOTE: e.g. "Port 8787 is already in use" (its health server, never used here)
                        warnings.simplefilter("ignore")
                    cluster = distributed.LocalCluster(
                        n_workers=local, threads_per_worker=1, processes=True, host="127.0.0.1",
                        dashboard_address=None, silence_logs=logging.WARNING if logs else logging.CRITICAL,
                    )  # fmt: skip
                where = cluster
            client = _client(distributed, where, address, timeout)
            try:
                yield cls(client, f"local cluster of {local} workers" if local else address)
            finally:
                _close(client)
        finally:
            if cluster is not None:
                cluster.close()
            logging.disable(silenced)

    def run(self, fn, net, jobs: list[tuple], done) -> None:
        from distributed import as_completed

        from .. import __version__
        from .executors import task
        from .shipment import ship

        shipment = ship(net)
        run = uuid.uuid4().hex  # NOTE: a key names a task on the whole cluster: other clients' runs must not match
        submit = self.client.submit
        futures = {
            submit(task, fn, shipment, __version__, job, pure=False, key=f"saliency-cli-{run}-{i}"): i
            for i, job in enumerate(jobs)
        }
        try:
            for future in as_completed(list(futures), loop=self.client.loop):
                i = futures.pop(future)
                try:
                    result = future.result()
                except ImportError as exc:  # NOTE: the worker's Python lacks saliency-cli (or one of its modules)
                    raise UserError(
                        f"a worker could not load its task ({_first_line(exc)}): install saliency-cli {__version__} "
                        "on every worker"
                    ) from None
                except Exception as exc:
                    if _lost(self.client, exc):
                        raise SchedulerLost(str(exc)) from None
                    raise
                future.release()
                done(i, result)
        except BaseException:
            _cancel(self.client, list(futures))
            raise


#: Dask settings for the workers of `local:N`: its statistical profiler (a stack sample every 10 ms) and its
#: frequent monitors take the GIL from the blocks' Python code: ~25% more CPU in all on a 200-probe evaluate.
LEAN_WORKERS = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.system-monitor.interval": "10s",
    "distributed.worker.memory.monitor-interval": "10s",
    "distributed.admin.tick.interval": "1s",
}


def _lean_workers():
    """LEAN_WORKERS in force while a local cluster starts (its nannies hand their settings to the workers)."""
    import dask

    return dask.config.set(LEAN_WORKERS)


def _client(distributed, where, address: str, timeout: float):
    try:
        client = distributed.Client(where, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise UserError(
            f"--scheduler {address}: no scheduler reached within {timeout:g} s ({_first_line(exc)})"
        ) from None
    try:
        client.wait_for_workers(1, timeout=timeout)
    except (OSError, TimeoutError):
        _close(client)
        raise UserError(
            f"--scheduler {address}: the scheduler has no workers after {timeout:g} s (start some with "
            f"`dask worker {address}`)"
        ) from None
    return client


def _lost(client, exc: BaseException) -> bool:
    return client.status != "running" or "scheduler-connection-lost" in str(exc)


def _cancel(client, futures) -> None:
    if futures and client.status == "running":
        try:
            client.cancel(futures)
        except Exception:  # NOTE: the scheduler may be gone too; nothing is left to cancel then
            pass


def _close(client) -> None:
    try:
        client.close(timeout=1)
    except Exception:  # NOTE: closing after a lost scheduler may time out; the run's result does not depend on it
        pass


def _first_line(exc: BaseException) -> str:
    from ..errors import one_line

    return one_line(exc, 160)
