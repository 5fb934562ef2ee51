"""Keep freed memory for reuse, so that the engine's passes do not page-fault on every chunk.

The engine allocates its results afresh on every pass (a chunk's activations are arrays the caller may
keep), each of several MB. glibc serves such sizes by mmap and returns them to the system on free, so
every chunk of every pass touched fresh pages: thousands of minor page faults per Integrated-Gradients
call (5-45 ms of system time at S=64, more than the GEMMs of a small image). `retain_freed_memory` raises
glibc's mmap and trim thresholds once, so that blocks up to `MMAP_BYTES` come from the heap and up to
`TRIM_BYTES` of freed heap stay mapped for the next chunk. Memory stays bounded by the chunk size (a freed
block is reused, not added to); only the return of memory to the system is deferred. On other C
libraries it does nothing: results never depend on it.
"""

from __future__ import annotations

from functools import cache

#: Blocks up to this size are taken from the heap rather than mapped afresh.
MMAP_BYTES = 64 << 20

#: Freed memory at the top of the heap is returned to the system only beyond this size.
TRIM_BYTES = 256 << 20

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's malloc.h


@cache
def retain_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds (once per process); False where the C library is not glibc."""
    import ctypes
    import platform

    if platform.libc_ver()[0] != "glibc":
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_BYTES)) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_BYTES))
