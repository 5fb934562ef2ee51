"""Work shared out over processes: jobs run in a pool of spawned processes, each result handed back as it ends.

Used by the commands whose batches take seconds on one core (`--workers N`): small networks spend their time
in Python, which threads cannot share out.
"""

from __future__ import annotations

from contextlib import contextmanager


def each_in_processes(fn, jobs: list[tuple], workers: int, done) -> None:
    """`done(i, fn(*jobs[i]))` for every job, in the order the jobs end, computed by up to `workers` processes.

    `fn` and the jobs' arguments travel by pickling (fn a module-level function). The first error raised by a
    job (or here, Ctrl-C included) is raised once the jobs not yet started are cancelled.
    """
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed

    # NOTE: spawn, not fork: the parent may hold BLAS and engine worker threads, and a child forked while one
    # of them holds a lock waits for it forever.
    context = mp.get_context("spawn")
    with ProcessPoolExecutor(max_workers=max(1, min(workers, len(jobs))), mp_context=context) as pool:
        futures = {}
        try:
            with sigint_held():  # the workers start (on submit) deaf to Ctrl-C: this process alone handles it
                for i, job in enumerate(jobs):
                    futures[pool.submit(fn, *job)] = i
            for future in as_completed(futures):
                done(futures.pop(future), future.result())
        except BaseException:
            for future in futures:
                future.cancel()
            # NOTE: the workers never see Ctrl-C, so they are stopped here rather than waited for (the executor's
            # own table of its processes: Python 3.14's terminate_workers() does the same).
            for process in list((pool._processes or {}).values()):
                process.terminate()
            raise


@contextmanager
def sigint_held(ignore: bool = False):
    """Ctrl-C kept from the processes started meanwhile, which keep it so: Ctrl-C at a terminal, sent to every
    process of the group, reaches the parent alone, which stops them, without a traceback from each.

    By default SIGINT is blocked: the children inherit the blocked signal across exec and never receive it, and
    a Ctrl-C pressed meanwhile is not lost (it reaches this process when the block ends). With `ignore`, for a
    local Dask cluster, whose worker processes unblock the signals they inherit: SIGINT is ignored (an ignored
    signal stays so across exec, and Python then installs no KeyboardInterrupt handler), and a Ctrl-C pressed
    meanwhile is lost (the cluster's start, a second or two, cannot be interrupted).
    """
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    if ignore or not hasattr(signal, "pthread_sigmask"):  # (no signal masks: Windows)
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        undo = lambda: signal.signal(signal.SIGINT, previous)  # noqa: E731
    else:
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        undo = lambda: signal.pthread_sigmask(signal.SIG_SETMASK, previous)  # noqa: E731
    try:
        yield
    finally:
        undo()


def in_processes(fn, jobs: list[tuple], workers: int, done=None) -> list:
    """`[fn(*job) for job in jobs]`, computed by up to `workers` processes; `done()` is called as each job ends."""
    results: list = [None] * len(jobs)

    def keep(i, result):
        results[i] = result
        if done is not None:
            done()

    each_in_processes(fn, jobs, workers, keep)
    return results
