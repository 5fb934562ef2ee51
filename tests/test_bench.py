"""`make bench`'s scripts still run against the package: each imports, and the evaluate benchmark's timed run
works on a cheap case (a benchmark is not a test: this checks only that it has not rotted)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"


@pytest.fixture
def bench_path(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))  # the scripts import their helper `timing` as `make bench` runs them


@pytest.mark.parametrize("name", sorted(p.stem for p in BENCH.glob("bench_*.py")))
def test_every_bench_script_imports(name, bench_path):
    module = importlib.import_module(name)
    assert callable(module.main)
    sys.modules.pop(name, None)


@pytest.mark.parametrize("workers", [1, "auto"])
def test_the_evaluate_benchmark_times_a_run(workers, bench_path):
    import bench_evaluate

    wall, cpu = bench_evaluate.timed("blobs6x6", workers, ("vanilla",))
    assert 0 < wall < 600 and 0 <= cpu < 600  # (the CPU clock ticks in hundredths: a fast run may read 0)
