"""Per-thread control of the BLAS that numpy uses, so that the convolution engine can run many small
GEMMs single-threaded on each of its own worker threads.

OpenBLAS parallelises every GEMM above a tiny size; a stream of small GEMMs then pays a thread hand-off
per call, which on a busy machine (a worker thread descheduled) costs milliseconds each. OpenBLAS 0.3.27+
has `openblas_set_num_threads_local`, which sets the thread count for calls made from the calling thread
only. When the BLAS is not a recent OpenBLAS, `single_threaded_blas()` is a no-op: results are the same.

Loading this module makes the calling thread's BLAS single-threaded too (see the note at the end): the
engine's products are then the same from run to run, and from one worker process to another.
"""

from __future__ import annotations

import os
import threading
from functools import cache


def openblas_function(*names: str):
    """The first of `names` that a loaded OpenBLAS exports (numpy's, found in this process's mapped libraries),
    as a ctypes function with ctypes' default types, or None (another BLAS, or no such function)."""
    import ctypes

    try:
        with open("/proc/self/maps") as fh:
            paths = {line.split()[-1] for line in fh if "openblas" in line.lower() and ".so" in line}
    except OSError:
        return None
    for path in sorted(paths):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for name in names:
            if (fn := getattr(lib, name, None)) is not None:
                return fn
    return None


@cache
def openblas_core() -> str:
    """The GEMM kernel OpenBLAS runs ("Haswell", "SkylakeX", ...; OPENBLAS_CORETYPE overrides it), or "unknown"."""
    import ctypes

    import numpy  # noqa: F401  (loads numpy's OpenBLAS, whose function is looked up)

    fn = openblas_function("scipy_openblas_get_corename64_", "openblas_get_corename64_", "openblas_get_corename")
    if fn is None:
        return "unknown"
    fn.restype = ctypes.c_char_p
    return fn().decode()


@cache
def _set_local():
    """OpenBLAS's `openblas_set_num_threads_local` as a ctypes function, or None (looked up once: finding it
    reads the process's memory map, which costs about a millisecond)."""
    import ctypes

    import numpy  # noqa: F401  (loads numpy's OpenBLAS first: looked up before, the answer would be None for good)

    fn = openblas_function("openblas_set_num_threads_local")
    if fn is not None:
        fn.argtypes, fn.restype = [ctypes.c_int], ctypes.c_int
    return fn


#: this thread's BLAS thread count as last set here (absent: never set by this module)
_LOCAL = threading.local()


def set_blas_threads(count: int) -> int | None:
    """Let BLAS calls from the current thread use `count` threads; returns the previous setting (None: no control).

    NOTE: OpenBLAS is called only when the count changes. A ctypes call releases the GIL and must take it back,
    which, while the engine's other threads run Python code, waits for them (up to the 5 ms switch interval):
    made on every convolution, such calls cost an LRP pass a third of its time.
    """
    fn = _set_local()
    if fn is None:
        return None
    known = getattr(_LOCAL, "count", None)
    if known == count:
        return known
    previous = int(fn(int(count)))
    _LOCAL.count = int(count)
    return previous


def single_threaded_blas() -> int | None:
    """Make BLAS calls from the current thread single-threaded; returns the previous setting (None: no control)."""
    return set_blas_threads(1)


def restore_blas(previous: int | None) -> None:
    """Undo `single_threaded_blas` on the current thread."""
    if previous is not None:
        set_blas_threads(previous)


@cache
def cores() -> int:
    """CPU cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


#: threads the engine may run at once in this process (None: one per core); see `threads`
_THREADS: int | None = None


def threads() -> int:
    """Threads the engine shares a product's blocks over: one per core, unless `limit_threads` said fewer.

    NOTE: only how many threads compute the blocks, never where the blocks are cut (that follows `cores`):
    every block is computed the same way by whichever thread takes it, so results do not depend on this.
    """
    return min(_THREADS, cores()) if _THREADS is not None else cores()


def limit_threads(count: int | None) -> None:
    """At most `count` engine threads in this process (None: one per core), for processes that share the cores
    with others of their kind (`--workers N` runs N on the machine's cores)."""
    global _THREADS
    _THREADS = None if count is None else max(1, int(count))


_POOL = None


def run_parts(fn, parts: list) -> None:
    """Call `fn(i, part)` for every part, one per core (the calling thread takes part 0), with each thread's
    BLAS single-threaded; returns when all are done and re-raises the first error."""
    global _POOL

    def single(i, part):
        previous = single_threaded_blas()  # NOTE: for good on the pool's threads, which run only the engine's work
        try:
            fn(i, part)
        finally:
            if i == 0:
                restore_blas(previous)

    if len(parts) == 1:
        single(0, parts[0])
        return
    if _POOL is None:
        from concurrent.futures import ThreadPoolExecutor

        _POOL = ThreadPoolExecutor(max_workers=max(1, cores() - 1), thread_name_prefix="saliency-blas")
    futures = [_POOL.submit(single, i, part) for i, part in enumerate(parts[1:], start=1)]
    try:
        single(0, parts[0])
    finally:
        for future in futures:
            future.result()


# NOTE: the calling thread's BLAS is single-threaded too, once and for all. Multi-threaded OpenBLAS gave results
# that differed by an ulp from one run to the next (one block of a 1000-probe batch in three runs), and the
# products it would share out here are small: the engine shares the large convolutions out over the cores
# itself. Set before any product, so that every product of a process is computed the same way.
single_threaded_blas()


def run_shared(fn, items, workers: int) -> None:
    """Call `fn(i, item)` for every item, the items handed out one at a time to whichever of `workers` threads
    (the calling thread, i = 0, and pool threads i = 1 ..) asks next, each thread's BLAS single-threaded;
    returns when every item is done and re-raises the first error.

    NOTE: dynamic, not a fixed share per thread: on a busy machine a pool thread may start late or never
    get a core; the calling thread then does the work itself instead of waiting for its share. It waits
    only for items already taken by a pool thread; a pool thread that starts after the last item was taken
    does nothing.
    """

    items = list(items)
    lock = threading.Lock()
    idle = threading.Condition(lock)
    state = {"next": 0, "busy": 0, "error": None}

    def take():
        with lock:
            k = state["next"]
            if k >= len(items) or state["error"] is not None:
                return None
            state["next"] = k + 1
            state["busy"] += 1
            return k

    def work(i):
        previous = single_threaded_blas()  # NOTE: for good on the pool's threads, which run only the engine's work
        try:
            while (k := take()) is not None:
                try:
                    fn(i, items[k])
                except BaseException as exc:
                    with lock:
                        state["error"] = state["error"] or exc
                finally:
                    with lock:
                        state["busy"] -= 1
                        idle.notify_all()
        finally:
            if i == 0:
                restore_blas(previous)

    if workers > 1:
        global _POOL
        if _POOL is None:
            from concurrent.futures import ThreadPoolExecutor

            _POOL = ThreadPoolExecutor(max_workers=max(1, cores() - 1), thread_name_prefix="saliency-blas")
        for i in range(1, workers):
            _POOL.submit(work, i)
    work(0)
    with lock:
        while state["busy"]:
            idle.wait()
        if state["error"] is not None:
            raise state["error"]
