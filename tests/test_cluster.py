"""`--scheduler` against real Dask components on 127.0.0.1: an in-process LocalCluster, `local:N`, and a scheduler
and workers started as separate processes with Dask's own `dask scheduler` / `dask worker` commands.

Every run's JSON is compared byte for byte with one process's (`--workers 1`); the faults of issue 23 each have
a test: a worker killed mid-run, the client SIGKILLed and rerun on its checkpoint, Ctrl-C, a scheduler that is
unreachable at the start or lost mid-run.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import distributed
import pytest
from click.testing import CliRunner

from saliency_cli.cli import cli

BIN = Path(sys.executable).parent
#: A light evaluation (3 blocks of 100 probes, well under a second each).
LIGHT = ["evaluate", "--probes", "300", "--methods", "vanilla", "--metrics", "pointing-game,deletion", "--steps", "4"]
LIGHT += ["--resamples", "20", "--format", "json"]
#: An evaluation of 4 blocks of about a second each on one core, long enough to stop half-way.
SLOW = ["evaluate", "--probes", "400", "--methods", "vanilla,smoothgrad", "--metrics", "pointing-game,deletion,mprt"]
SLOW += ["--steps", "4", "--resamples", "20", "--format", "json"]


def _invoke(*args):
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    return result


@pytest.fixture(scope="module")
def slow_bytes():
    """The JSON of SLOW computed by one process."""
    return _invoke(*SLOW, "--workers", "1").stdout.encode()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _spawn(*args) -> subprocess.Popen:
    return subprocess.Popen([str(a) for a in args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _scheduler() -> tuple[subprocess.Popen, str]:
    port = _free_port()
    return _spawn(BIN / "dask", "scheduler", "--host", "127.0.0.1", "--port", port, "--no-dashboard"), (
        f"tcp://127.0.0.1:{port}"
    )


def _worker(address: str) -> subprocess.Popen:
    # NOTE: no nanny: the worker is this one process, which a test can kill.
    return _spawn(
        BIN / "dask", "worker", address, "--nthreads", "1", "--no-nanny", "--no-dashboard", "--host", "127.0.0.1"
    )


def _wait_for_workers(address: str, n: int) -> None:
    with distributed.Client(address, timeout=60, set_as_default=False) as client:
        client.wait_for_workers(n, timeout=60)


def _stop(*processes) -> None:
    for p in processes:
        if p.poll() is None:
            p.terminate()
    for p in processes:
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


class HandCluster:
    """A scheduler and two workers started as separate processes with Dask's commands."""

    def __init__(self):
        self.scheduler, self.address = _scheduler()
        self.workers = [_worker(self.address) for _ in range(2)]


@pytest.fixture(scope="module")
def hand():
    """A scheduler and two workers started by hand, stopped at the end. NOTE: the tests below use it in file order:
    one kills a worker, the last one kills the scheduler (each needs what the ones before left)."""
    cluster = HandCluster()
    try:
        _wait_for_workers(cluster.address, 2)
        yield cluster
    finally:
        _stop(*cluster.workers, cluster.scheduler)


def _cli(*args) -> subprocess.Popen:
    return subprocess.Popen(
        [str(BIN / "saliency-cli"), *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def _wait_for_blocks(folder: Path, n: int = 1, limit: float = 60) -> None:
    deadline = time.monotonic() + limit
    while len(list(folder.glob("block-*.ckpt"))) < n:
        assert time.monotonic() < deadline, f"no {n} finished blocks in {folder} after {limit} s"
        time.sleep(0.02)


def _reused(stderr: str) -> int:
    found = re.search(r"reused (\d+) of 4 blocks", stderr)
    assert found, stderr
    return int(found.group(1))


def test_an_in_process_local_cluster_gives_the_bytes_of_one_process(tmp_path):
    batch = tmp_path / "b.npy"
    _invoke("sample", "--count", "120", "--noise", "0.3", "--out", batch, "--labels-out", tmp_path / "l.npy")
    runs = [
        LIGHT,
        [
            "saliency",
            "--input",
            batch,
            "--methods",
            "vanilla,smoothgrad,ig",
            "--quadrature",
            "right",
            "--format",
            "json",
        ],
        ["lrp", "--task", "blobs8x8", "--input", batch, "--targets", tmp_path / "l.npy", "--format", "jsonl"],
        ["cam", "--task", "blobs8x8-gap", "--input", batch, "--methods", "cam,gradcam++", "--format", "json"],
    ]
    with distributed.LocalCluster(
        n_workers=2, processes=False, threads_per_worker=1, dashboard_address=None, host="127.0.0.1", protocol="tcp"
    ) as cluster:
        for args in runs:
            alone = _invoke(*args, "--workers", "1").stdout
            assert _invoke(*args, "--scheduler", cluster.scheduler_address).stdout == alone, args[0]


def test_hand_started_workers_give_the_bytes_of_one_process_and_keep_blocks(hand, slow_bytes, tmp_path):
    ck = tmp_path / "ck"
    done = subprocess.run(
        [BIN / "saliency-cli", *SLOW, "--scheduler", hand.address, "--checkpoint", ck], capture_output=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == slow_bytes
    assert sorted(p.name for p in ck.iterdir()) == [*(f"block-{i:06d}.ckpt" for i in range(4)), "checkpoint.json"]


def test_ctrl_c_cancels_the_clusters_tasks_and_exits_130_keeping_finished_blocks(hand, tmp_path):
    ck = tmp_path / "ck"
    client = _cli(*SLOW, "--scheduler", hand.address, "--checkpoint", ck)
    _wait_for_blocks(ck)
    client.send_signal(signal.SIGINT)
    _, err = client.communicate(timeout=60)
    assert client.returncode == 130, err
    line = err.decode().strip().splitlines()[-1]
    assert re.fullmatch(rf"Error: interrupted: ([1-4]) of 4 blocks are finished and kept in {ck}: .*", line), err
    kept = int(re.search(r"([1-4]) of 4", line).group(1))
    assert len(list(ck.glob("block-*.ckpt"))) == kept
    with distributed.Client(hand.address, timeout=30, set_as_default=False) as c:
        deadline = time.monotonic() + 15
        while any(c.processing().values()):  # the cancelled blocks leave the workers
            assert time.monotonic() < deadline, c.processing()
            time.sleep(0.1)


def test_a_worker_killed_mid_run_changes_nothing(hand, slow_bytes, tmp_path):
    ck = tmp_path / "ck"
    client = _cli(*SLOW, "--scheduler", hand.address, "--checkpoint", ck)
    _wait_for_blocks(ck)
    hand.workers[1].kill()  # SIGKILL with a block in hand: Dask gives it to the other worker
    out, err = client.communicate(timeout=120)
    assert client.returncode == 0, err
    assert out == slow_bytes


def test_a_scheduler_lost_mid_run_exits_75_saying_what_is_kept_and_a_rerun_goes_on(hand, slow_bytes, tmp_path):
    ck = tmp_path / "ck"
    client = _cli(*SLOW, "--scheduler", hand.address, "--checkpoint", ck)
    _wait_for_blocks(ck)
    hand.scheduler.kill()
    started = time.monotonic()
    out, err = client.communicate(timeout=60)
    assert time.monotonic() - started < 10
    address = hand.address
    assert client.returncode == 75 and out == b"", err
    lines = err.decode().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: lost the scheduler ({address}): "), err
    kept = int(re.search(r"([1-4]) of 4 blocks are finished and kept in", lines[0]).group(1))
    assert len(list(ck.glob("block-*.ckpt"))) == kept
    again = _invoke(*SLOW, "--workers", "2", "--checkpoint", ck)  # any executor goes on from the same blocks
    assert again.stdout.encode() == slow_bytes and _reused(again.stderr) == kept


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    return state == "Z"


def test_the_client_sigkilled_and_rerun_reuses_finished_blocks_for_the_same_bytes(slow_bytes, tmp_path):
    ck = tmp_path / "ck"
    client = _cli(*SLOW, "--scheduler", "local:2", "--checkpoint", ck)
    _wait_for_blocks(ck)
    workers = _children(client.pid)
    client.kill()
    client.communicate()
    kept = len(list(ck.glob("block-*.ckpt")))
    deadline = time.monotonic() + 20
    while not all(_gone(pid) for pid in workers):  # the local cluster's workers end with their client
        assert time.monotonic() < deadline, workers
        time.sleep(0.1)
    again = subprocess.run(
        [BIN / "saliency-cli", *SLOW, "--scheduler", "local:2", "--checkpoint", ck], capture_output=True
    )
    assert again.returncode == 0, again.stderr
    assert again.stdout == slow_bytes
    assert 1 <= kept <= _reused(again.stderr.decode())


def test_ctrl_c_at_a_terminal_stops_a_local_cluster_with_one_line(tmp_path):
    ck = tmp_path / "ck"
    client = subprocess.Popen(
        [BIN / "saliency-cli", *SLOW, "--scheduler", "local:2", "--checkpoint", ck],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    _wait_for_blocks(ck)
    os.killpg(client.pid, signal.SIGINT)  # as a terminal does: to the client and the workers it started
    out, err = client.communicate(timeout=60)
    assert client.returncode == 130 and out == b""
    assert re.fullmatch(rb"Error: interrupted: [1-4] of 4 blocks are finished and kept in \S+: [^\n]*\n", err), err


def test_an_unreachable_scheduler_is_one_line_and_exit_2_within_the_timeout(run):
    started = time.monotonic()
    result = run(*LIGHT, "--scheduler", f"tcp://127.0.0.1:{_free_port()}", "--scheduler-timeout", "1")
    assert time.monotonic() - started < 8
    assert result.exit_code == 2 and result.stdout == ""
    assert re.fullmatch(
        r"Error: --scheduler tcp://127\.0\.0\.1:\d+: no scheduler reached within 1 s \(.*\)\n", result.stderr
    )


def test_a_scheduler_without_workers_is_one_line_and_exit_2(run):
    with distributed.LocalCluster(
        n_workers=0, processes=False, dashboard_address=None, host="127.0.0.1", protocol="tcp"
    ) as cluster:
        address = cluster.scheduler_address
        result = run(*LIGHT, "--scheduler", address, "--scheduler-timeout", "0.5")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == (
        f"Error: --scheduler {address}: the scheduler has no workers after 0.5 s (start some with "
        f"`dask worker {address}`)\n"
    )


def test_without_the_extra_it_says_how_to_install_it(run, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # `import distributed` now raises ImportError
    result = run(*LIGHT, "--scheduler", "local:2")
    assert result.exit_code == 2 and result.stderr.count("\n") == 1, result.stderr
    assert "--scheduler needs the optional extra `cluster`" in result.stderr
    assert "pip install -e '.[cluster]'" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--workers", "2", "--scheduler", "local:2"], "give --workers N (processes here) or --scheduler ADDRESS"),
        (["--restart"], "--restart empties a --checkpoint DIR: add --checkpoint DIR"),
        (["--scheduler", "8786"], "--scheduler 8786: give a scheduler's address such as tcp://host:8786"),
    ],
)
def test_sharing_options_that_cannot_work_are_refused(run, args, message):
    result = run(*LIGHT, *args)
    assert result.exit_code == 2 and message in result.stderr


def test_one_probe_is_not_shared(run):
    for command in ("saliency", "lrp", "cam"):
        result = run(command, "--scheduler", "local:2")
        assert result.exit_code == 2
        assert "--scheduler shares the probes of a batch: give an (N, C, H, W) --input" in result.stderr


def test_dask_is_imported_only_for_scheduler():
    code = (
        "import sys\nfrom saliency_cli.cli import cli\n"
        "for args in (['--help'], ['evaluate', '--help'], ['saliency', '--help'], "
        "['evaluate', '--probes', '10', '--methods', 'vanilla', '--resamples', '5', '--format', 'json']):\n"
        "    try:\n        cli.main(args, prog_name='saliency-cli', standalone_mode=False)\n"
        "    except SystemExit:\n        pass\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().endswith("[]")
