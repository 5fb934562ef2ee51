"""Cluster benchmark (issue 23): `evaluate` of 1,000 probes with `--workers 2` and with `--scheduler local:2`.

Run with `make bench`. A benchmark, not a test: it prints numbers and asserts nothing. Both runs are the
whole command (start-up, the pool or the local Dask cluster started and stopped, the JSON written), timed
in alternating rounds; the aim is a Dask run costing at most 1.2x the process pool's on one machine. The
two outputs are compared too (the same bytes). ROUNDS=N in the environment sets the rounds (default 2). Besides the
wall time, the CPU time of the whole process tree is printed: on a shared machine it is the steadier figure.
"""

from __future__ import annotations

import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

from saliency_cli.nn import blas

CLI = str(Path(sys.executable).parent / "saliency-cli")
ARGS = ["evaluate", "--probes", "1000", "--format", "json", "--quiet"]
SIDES = {"--workers 2": ["--workers", "2"], "--scheduler local:2": ["--scheduler", "local:2"]}


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def timed(extra: list[str]) -> tuple[float, float, bytes]:
    """Wall seconds, CPU seconds of the whole process tree (the command, its pool or cluster), stdout."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    out = subprocess.run([CLI, *ARGS, *extra], capture_output=True, check=True).stdout
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime), out


def main() -> None:
    rounds = int(os.environ.get("ROUNDS", "2"))
    print(f"CPU {cpu_name()}, {blas.cores()} cores, OpenBLAS {blas.openblas_core()}, {rounds} rounds")
    best: dict[str, tuple[float, float]] = {}
    outputs: dict[str, bytes] = {}
    for _ in range(rounds):
        for name, extra in SIDES.items():
            wall, cpu, outputs[name] = timed(extra)
            best[name] = min(best.get(name, (wall, cpu)), (wall, cpu))
    for name, (wall, cpu) in best.items():
        print(f"{'evaluate, 1,000 probes, ' + name:<44} {wall:>7.1f} s wall  {cpu:>7.1f} s CPU (best of {rounds})")
    (wall_d, cpu_d), (wall_p, cpu_p) = best["--scheduler local:2"], best["--workers 2"]
    same = "the same bytes" if len(set(outputs.values())) == 1 else "DIFFERENT bytes"
    print(f"{'ratio, local:2 / --workers 2':<44} {wall_d / wall_p:>7.2f}x wall {cpu_d / cpu_p:>7.2f}x CPU  aim <= 1.2x")
    print(f"outputs: {same}; on a loaded machine the wall time mostly measures the other processes")


if __name__ == "__main__":
    main()
