"""Work shared out over processes: jobs run in a pool of spawned processes, results come back in job order.

Used by the commands whose batches take seconds on one core (`saliency --workers`, `evaluate --workers`):
small networks spend their time in Python, which threads cannot share out.
"""

from __future__ import annotations


def in_processes(fn, jobs: list[tuple], workers: int, done=None) -> list:
    """`[fn(*job) for job in jobs]`, computed by up to `workers` processes; `done()` is called as each job ends.

    `fn` and the jobs' arguments travel by pickling (fn a module-level function). The first error raised by a
    job is raised here, once the jobs not yet started are cancelled.
    """
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed

    # NOTE: spawn, not fork: the parent may hold BLAS and engine worker threads, and a child forked while one
    # of them holds a lock waits for it forever.
    context = mp.get_context("spawn")
    results: list = [None] * len(jobs)
    with ProcessPoolExecutor(max_workers=max(1, min(workers, len(jobs))), mp_context=context) as pool:
        futures = {pool.submit(fn, *job): i for i, job in enumerate(jobs)}
        try:
            for future in as_completed(futures):
                results[futures[future]] = future.result()
                if done is not None:
                    done()
        except BaseException:
            for future in futures:
                future.cancel()
            raise
    return results
