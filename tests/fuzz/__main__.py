"""`python -m tests.fuzz [--cases N] [--subprocesses M] [--seed S]`: the large fuzz budget (`make fuzz`).

Prints the counts (cases, failures by family, exit codes, time); every failing case is kept under
tests/fuzz/regressions/ for the normal test run to replay. Exit code 1 when any case failed.
"""

from __future__ import annotations

import argparse
import collections
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

from .harness import FAMILIES, MEMORY_LIMIT, generate, run_in_process, run_subprocess, save_regression


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz", description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000, help="in-process cases")
    parser.add_argument("--subprocesses", type=int, default=100, help="cases run as real subprocesses")
    parser.add_argument("--seed", type=int, default=None, help="first seed (default: random, printed)")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(2**31)
    # The in-process cases share this process: cap it too, so that a runaway case fails instead of swapping.
    resource.setrlimit(resource.RLIMIT_AS, (2 * MEMORY_LIMIT, 2 * MEMORY_LIMIT))
    print(f"fuzz: seed {seed}, {args.cases} in-process cases, {args.subprocesses} subprocess cases", flush=True)
    counts, failures, codes = collections.Counter(), collections.Counter(), collections.Counter()
    slowest = 0.0
    kept: list[Path] = []
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for i in range(args.cases + args.subprocesses):
            in_process = i < args.cases
            case = generate(seed + i, FAMILIES[i % len(FAMILIES)])
            outcome = run_in_process(case, work) if in_process else run_subprocess(case, work)
            counts[case.family] += 1
            slowest = max(slowest, outcome.seconds)
            codes[outcome.code] += 1
            if outcome.problems:
                failures[case.family] += 1
                if (path := save_regression(case, outcome)) is not None:
                    kept.append(path)
                print(f"FAIL seed {seed + i} ({case.family}): {'; '.join(outcome.problems)[:300]}", flush=True)
            if (i + 1) % 1000 == 0:
                print(
                    f"  {i + 1} cases, {sum(failures.values())} failures, {time.perf_counter() - start:.0f} s",
                    flush=True,
                )
    elapsed = time.perf_counter() - start
    total = sum(counts.values())
    print(f"fuzz: {total} cases ({args.cases} in-process, {args.subprocesses} subprocesses), "
          f"{sum(failures.values())} failures, {elapsed:.1f} s")  # fmt: skip
    for family in FAMILIES:
        print(f"  {family:<13} {counts[family]:>6} cases {failures[family]:>4} failures")
    print("  exit codes: " + ", ".join(f"{code}: {n}" for code, n in sorted(codes.items(), key=str)))
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    limit = MEMORY_LIMIT >> 20
    print(f"  slowest case {slowest:.2f} s; peak RSS of a subprocess case {peak:.0f} MiB (limit {limit} MiB)")
    for path in sorted(set(kept)):
        print(f"  kept {path}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
