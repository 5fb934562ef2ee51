"""What a hostile but realistic user does: odd paths, odd numbers, odd files, closed pipes."""

from __future__ import annotations

import json
import os
import shutil
import stat
import struct
import subprocess
import sys

import numpy as np
import pytest

from saliency_cli.files import free_backup_path
from saliency_cli.nn.modelfile import load_model


def one_line_error(result, code: int = 2) -> str:
    assert result.exit_code == code, (result.exit_code, result.stderr)
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("Error: "), result.stderr
    assert "Traceback" not in result.stderr
    return result.stderr


def forged_npy(path, shape=(100000, 100000, 100000)) -> None:
    header = f"{{'descr': '<f8', 'fortran_order': False, 'shape': {shape}, }}"
    header += " " * (63 - (len(header) + 10) % 64) + "\n"
    path.write_bytes(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + b"\x00" * 64)


# -- numbers ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["train", "--lr", "nan"],
        ["sample", "--noise", "nan"],
        ["cam", "--smooth", "2", "--sigma", "inf"],
        ["lrp", "--alpha", "1e308"],
        ["lrp", "--max-residual", "nan"],
        ["cost", "--steps", "1000000000000"],
        ["cam", "--smooth", "1000000000000"],
    ],
)
def test_non_finite_and_absurd_numbers_are_refused(args, run, tmp_path):
    result = run(*args, *(["--out", tmp_path / "x"] if args[0] in ("train", "sample") else []))
    one_line_error(result)


# -- files in and out ---------------------------------------------------------------------------


def test_a_forged_npy_header_is_refused_before_allocating(run, tmp_path):
    bad = tmp_path / "huge.npy"
    forged_npy(bad)
    assert "header promises" in one_line_error(run("saliency", "--input", bad))
    assert "header promises" in one_line_error(run("lrp", "--input", bad))


def test_overflowing_activations_are_refused(run, tmp_path):
    path = tmp_path / "huge.npy"
    np.save(path, np.full((2, 8, 8), 1e308))
    assert "overflow float64" in one_line_error(run("lrp", "--task", "blobs8x8", "--input", path))


def test_rich_markup_in_paths_and_names_is_printed_literally(run, tmp_path):
    weird = tmp_path / "d[" / "x]y[bold]"
    weird.mkdir(parents=True)
    model = weird / "m[b].npz"  # the path reads ".../d[/x]y[bold]/m[b].npz"
    shutil.copy("models/blobs6x6.npz", model)
    with np.load(model, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    meta = json.loads(str(arrays["meta"]))
    meta["classes"] = ["[/bold]", "[red]b"]
    arrays["meta"] = np.array(json.dumps(meta))
    with open(model, "wb") as fh:
        np.savez(fh, **arrays)
    for command in ("models", "lrp"):
        args = [command, model] if command == "models" else [command, "--model", model, "--no-color"]
        result = run(*args, env={"COLUMNS": "400"})  # wide enough that the long path is not wrapped
        assert result.exit_code == 0, result.stderr
    assert "[/bold]" in result.stdout and str(model) in result.stdout


def test_out_never_replaces_what_is_not_a_regular_file(run, tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    for args in (["train", "--task", "blobs6x6", "--out", fifo, "--force"], ["sample", "--out", fifo]):
        assert "not a regular file" in one_line_error(run(*args))
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    (tmp_path / "f.txt").write_text("x")
    assert "is not a directory" in one_line_error(run("sample", "--out", tmp_path / "f.txt" / "p.npy"))
    assert "give a file name" in one_line_error(run("train", "--out", f"{tmp_path}/newdir/"))


def test_sample_does_not_overwrite_without_force(run, tmp_path):
    model = tmp_path / "model.npz"
    shutil.copy("models/blobs6x6.npz", model)
    for force in ([], ["--force"]):  # a .npy array is never written under a model's name
        assert "give a file name ending in .npy" in one_line_error(run("sample", "--out", model, *force))
    assert load_model(model).task == "blobs6x6"
    precious = tmp_path / "probe.npy"
    precious.write_bytes(b"my data")
    assert "refusing to overwrite" in one_line_error(run("sample", "--out", precious))
    assert precious.read_bytes() == b"my data"
    assert run("sample", "--out", precious, "--force").exit_code == 0
    assert np.load(precious).shape == (2, 8, 8)


def test_backups_are_never_overwritten_and_modes_are_kept(run, tmp_path):
    out = tmp_path / "m.npz"
    (tmp_path / "m.npz.bak").write_text("my notes")
    for epochs in ("1", "2", "3"):
        assert run("train", "--task", "blobs6x6", "--out", out, "--epochs", epochs).exit_code == 0
    assert (tmp_path / "m.npz.bak").read_text() == "my notes"
    assert load_model(tmp_path / "m.npz.bak.1").training["epochs"] == 1
    assert load_model(tmp_path / "m.npz.bak.2").training["epochs"] == 2
    assert free_backup_path(out).name == "m.npz.bak.3"
    os.chmod(out, 0o640)
    assert run("train", "--task", "blobs6x6", "--out", out, "--epochs", "4").exit_code == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o640


def test_a_note_does_not_turn_an_error_into_two_lines(run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no ./models: the packaged model is used, which is worth a note
    bad = tmp_path / "nan.npy"
    np.save(bad, np.full((2, 8, 8), np.nan))
    assert "NaN" in one_line_error(run("saliency", "--input", bad))
    ok = run("models", "--format", "json")
    assert ok.exit_code == 0 and "using the packaged" in ok.stderr


def test_a_closed_pipe_ends_quietly_with_141():
    script = [sys.executable, "-m", "saliency_cli", "sample"]
    writer = subprocess.Popen(script, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    writer.stdout.close()  # the reader goes away before anything is written
    assert writer.wait(timeout=60) == 141
    assert writer.stderr.read() == b""


def test_overflowing_probes_in_a_batch_are_refused_by_index(run, tmp_path):
    batch = np.random.default_rng(0).uniform(0, 1, (3, 2, 8, 8))
    batch[1] = 1e308
    path = tmp_path / "batch.npy"
    np.save(path, batch)
    assert f"{path}[1]: the network's activations overflow" in one_line_error(run("saliency", "--input", path))
