"""Closed pipes exit 141 (128 + SIGPIPE) with nothing on stderr; JSON is indented on a terminal, compact when piped.

These run the real program in a subprocess: a pipe whose reader is gone cannot be faked with click's runner.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from saliency_cli import __version__
from saliency_cli.render.schema import SCHEMAS
from saliency_cli.tasks import TASKS

from .terminal import on_a_terminal

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = {**os.environ, "COLUMNS": "80", "PYTHONWARNINGS": "ignore"}


def _cmd(*args) -> list[str]:
    return [sys.executable, "-m", "saliency_cli", *map(str, args)]


def _closed_reader(*args) -> tuple[int, str]:
    """Run with a stdout pipe whose reader has gone away before the program writes anything."""
    proc = subprocess.Popen(_cmd(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT, env=ENV)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    return proc.wait(timeout=120), err


@pytest.mark.parametrize(
    "args",
    [
        ("saliency",),
        ("saliency", "--format", "json"),
        ("lrp",),
        ("cam",),
        ("features",),
        ("models",),
        ("cost", "--repeats", "1", "--steps", "2", "--samples", "2"),
    ],
    ids=lambda a: " ".join(a),
)
def test_a_closed_pipe_exits_141_quietly(args):
    code, err = _closed_reader(*args)
    assert code == 141
    assert "Traceback" not in err and "Error" not in err


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("args", [("sample",), ("models",), ("saliency", "--format", "json")], ids=" ".join)
def test_a_full_disk_on_stdout_is_one_line_and_exit_2(args):
    with open("/dev/full", "wb") as full:
        proc = subprocess.run(_cmd(*args, "--quiet"), stdout=full, stderr=subprocess.PIPE, cwd=ROOT, env=ENV)
    err = proc.stderr.decode()
    assert proc.returncode == 2, err
    assert err == "Error: cannot write standard output: No space left on device\n"


def test_train_into_a_closed_pipe_exits_141_and_still_writes_the_model(tmp_path):
    out = tmp_path / "m.npz"
    code, err = _closed_reader("train", "--epochs", "1", "--samples", "20", "--out", out)
    assert code == 141 and "Traceback" not in err
    assert out.stat().st_size > 0


@pytest.fixture(scope="module")
def batch_file(tmp_path_factory):
    """40 probes: their JSON Lines are over 600 KB, far more than a pipe holds (64 KiB)."""
    x, _, _ = TASKS["blobs8x8"].sample(40, np.random.default_rng(3))
    path = tmp_path_factory.mktemp("batch") / "batch.npy"
    np.save(path, x)
    return path


@pytest.mark.parametrize("fmt", ["jsonl", "json"])
def test_large_output_into_head_exits_141(batch_file, fmt):
    """`saliency --input batch.npy --format jsonl | head -1` (or json | head -c 100): the reader leaves early."""
    proc = subprocess.Popen(
        _cmd("saliency", "--input", batch_file, "--format", fmt, "--methods", "vanilla"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
        env=ENV,
    )
    first = proc.stdout.readline() if fmt == "jsonl" else proc.stdout.read(100)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141, err
    assert first.startswith(b"{") and "Traceback" not in err
    if fmt == "jsonl":
        assert json.loads(first)["index"] == 0  # a whole record per line


def test_large_output_read_to_the_end_is_whole_and_exits_0(batch_file):
    done = subprocess.run(
        _cmd("saliency", "--input", batch_file, "--format", "jsonl", "--methods", "vanilla"),
        capture_output=True,
        cwd=ROOT,
        env=ENV,
        timeout=120,
    )
    assert done.returncode == 0
    lines = done.stdout.decode().splitlines()
    assert len(done.stdout) > 65536 and len(lines) == 40
    assert [json.loads(line)["index"] for line in lines] == list(range(40))


def test_json_is_indented_on_a_terminal_and_one_compact_line_when_piped():
    shown = on_a_terminal("models", "--format", "json")
    head = f'{{\n  "version": "{__version__}",\n  "schema": {SCHEMAS["models"]},\n  "command": "models",\n'
    assert shown.startswith(head)
    piped = subprocess.run(_cmd("models", "--format", "json"), capture_output=True, cwd=ROOT, env=ENV, timeout=60)
    line = f'{{"version":"{__version__}","schema":{SCHEMAS["models"]},"command":"models",'
    assert piped.stdout.count(b"\n") == 1 and piped.stdout.startswith(line.encode())
    assert json.loads(shown) == json.loads(piped.stdout)
    assert '  "input_shape": [2, 8, 8],\n' in shown  # a list of plain values stays on one line


def test_a_large_binary_batch_into_a_closed_pipe_exits_141():
    """`sample --count 2000 | head -c 100`: 256 KB of .npy, the reader leaves after 100 bytes."""
    proc = subprocess.Popen(
        _cmd("sample", "--count", "2000"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT, env=ENV
    )
    head = proc.stdout.read(100)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141, err
    assert head.startswith(b"\x93NUMPY") and "Traceback" not in err


@pytest.fixture(scope="module")
def far_batch(tmp_path_factory):
    """A batch of two blobs6x6 probes at a path of over 200 characters."""
    folder = tmp_path_factory.mktemp("far") / ("a-folder-with-a-long-name-" * 6)
    folder.mkdir()
    path = folder / "batch.npy"
    np.save(path, np.stack([TASKS["blobs6x6"].probe("clean", seed)[0] for seed in (0, 1)]))
    return path


@pytest.mark.parametrize("rich", [False, True], ids=["plain", "FORCE_COLOR"])
@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["lrp", "--max-residual", "0"], 1, "exceeds --max-residual 0"),
        (
            ["saliency", "--methods", "ig", "--quadrature", "left", "--steps", "2", "--max-gap", "0.0001"],
            1,
            "--max-gap",
        ),
        (["saliency", "--baseline", "{far}.missing.npy"], 2, "no such file"),
    ],
)
def test_a_long_message_on_a_piped_stderr_is_one_line(far_batch, args, code, words, rich):
    # NOTE: Rich folds what it prints at its console's width (80 columns when stderr is not a terminal);
    # a failure line naming a long path must still be one line for grep and a log.
    env = {k: v for k, v in ENV.items() if k not in ("FORCE_COLOR", "TTY_COMPATIBLE", "NO_COLOR")}
    env.update({"FORCE_COLOR": "1"} if rich else {})
    argv = [a.format(far=far_batch) for a in args] + ["--task", "blobs6x6", "--input", far_batch, "--format", "jsonl"]
    done = subprocess.run(_cmd(*argv), capture_output=True, text=True, cwd=ROOT, env=env, timeout=300, check=False)
    assert done.returncode == code, done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.endswith("\n"), done.stderr
    assert words in done.stderr and str(far_batch) in done.stderr and len(done.stderr) > 200
