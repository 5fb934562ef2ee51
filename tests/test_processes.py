"""Work shared out over processes: results in job order, errors raised here, and the CLI's BLAS setting."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from saliency_cli.methods.exact_ig import TooManyPieces
from saliency_cli.processes import in_processes


def _square_after(seconds: float, value: int) -> int:
    import time

    time.sleep(seconds)
    return value * value


def _refuse(cap: int) -> None:
    raise TooManyPieces(cap, 7)


def test_results_come_back_in_job_order_whatever_finishes_first():
    done = []
    jobs = [(0.3, 2), (0.0, 3), (0.1, 4)]  # the first job finishes last
    assert in_processes(_square_after, jobs, 2, done=lambda: done.append(1)) == [4, 9, 16]
    assert len(done) == 3


def test_an_error_in_a_worker_is_raised_here_with_its_fields():
    with pytest.raises(TooManyPieces, match="more than 5 linear pieces") as raised:
        in_processes(_refuse, [(5,)], 2)
    assert raised.value.cap == 5 and raised.value.path == 7


@pytest.mark.parametrize(("given", "seen"), [(None, "1"), ("3", "3")])
def test_the_cli_starts_openblas_single_threaded_unless_told_otherwise(given, seen):
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    if given is not None:
        env["OPENBLAS_NUM_THREADS"] = given
    code = "import os, saliency_cli.cli; print(os.environ['OPENBLAS_NUM_THREADS'])"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == seen
