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


_INTERRUPTED = """
import sys, time
from saliency_cli.processes import in_processes
from tests.test_processes import _square_after
print("started", flush=True)
started = time.monotonic()
try:
    in_processes(_square_after, [(60, 1), (60, 2), (60, 3)], 2)
except KeyboardInterrupt:
    print(f"interrupted after {time.monotonic() - started:.1f} s", flush=True)
    sys.exit(130)
"""


@pytest.mark.parametrize("delay", [0.0, 0.05, 0.4, 2.5])  # while the workers start, import, and run their jobs
def test_ctrl_c_at_a_terminal_stops_the_workers_at_once_without_a_traceback_from_any(delay):
    import signal
    import time

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    child = subprocess.Popen(
        [sys.executable, "-c", _INTERRUPTED], cwd=root, start_new_session=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert child.stdout.readline() == "started\n"
    time.sleep(delay)
    os.killpg(child.pid, signal.SIGINT)  # as a terminal does: to the parent and every worker it started
    out, err = child.communicate(timeout=30)
    assert child.returncode == 130, err
    assert err == ""
    assert float(out.split()[2]) < delay + 10  # not after the 60-second jobs
