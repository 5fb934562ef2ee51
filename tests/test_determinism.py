"""Determinism a user sees, on any one machine: the same command with the same seed gives the same bytes when run
again (in a new process), and `--workers N` gives the bytes of `--workers 1`.

Both are guaranteed by construction, whatever the BLAS kernel: a run repeats the same operations in the same order
on the same shapes (fixed blocks of probes, fixed blocks of columns, single-threaded BLAS in every thread), and
the worker processes compute the same blocks as one process does. Across machines only the last digits of
floats may differ (docs/portability.md).

`--workers` against one process: tests/test_cli_saliency_batch.py (130 probes, two blocks) and
tests/test_cli_evaluate.py (blocks of 3 probes); `tests.kernels` runs them under other kernels too.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from saliency_cli.tasks import TASKS

from .cli_io import npy_bytes

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(tmp_path, *args) -> bytes:
    """The program's stdout, run in a process of its own."""
    cmd = [sys.executable, "-m", "saliency_cli", *map(str, args)]
    done = subprocess.run(cmd, capture_output=True, cwd=tmp_path, timeout=300, env={**os.environ, "COLUMNS": "100"})
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    folder = tmp_path_factory.mktemp("determinism")
    for task, count in (("blobs8x8", 12), ("blobs8x8-gap", 3)):  # (exact IG on the conv net takes longer)
        x, _, _ = TASKS[task].sample(count, np.random.default_rng(11), noise=0.3)
        (folder / f"{task}.npy").write_bytes(npy_bytes(x))
    return folder


COMMANDS = [
    ("saliency", "--task", "blobs8x8", "--input", "blobs8x8.npy", "--format", "jsonl", "--samples", "4", "--seed", "3"),
    ("saliency", "--task", "blobs8x8-gap", "--input", "blobs8x8-gap.npy", "--format", "jsonl"),
    ("lrp", "--task", "blobs8x8", "--input", "blobs8x8.npy", "--format", "jsonl", "--rule", "gamma"),
    ("cam", "--task", "blobs8x8-gap", "--input", "blobs8x8-gap.npy", "--format", "jsonl", "--smooth", "3"),
    ("evaluate", "--probes", "6", "--resamples", "50", "--methods", "vanilla,ig", "--format", "json"),
    ("saliency", "--task", "blobs8x8", "--probe", "noisy", "--no-color"),
]


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_the_same_command_gives_the_same_bytes_in_a_new_process(args, batch):
    first = _run(batch, *args)
    assert first and _run(batch, *args) == first
