"""--out under races and symlinks: no finished result is silently lost, and no file is replaced without
--force, even when several real processes write the same path at once."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import numpy as np
import pytest

from saliency_cli.files import check_target, commit_replacing, free_backup_path, locked, write_new
from saliency_cli.nn.modelfile import load_model

CLI = [sys.executable, "-m", "saliency_cli"]


def start(*args, cwd):
    return subprocess.Popen([*CLI, *map(str, args)], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_two_concurrent_trains_keep_both_models_and_the_original(tmp_path):
    out = tmp_path / "m.npz"
    original = subprocess.run([*CLI, "train", "--task", "blobs6x6", "--epochs", "1", "--seed", "9", "--out", out])
    assert original.returncode == 0
    before = out.read_bytes()
    for trial in range(2):
        procs = [
            start(
                "train",
                "--task",
                "blobs6x6",
                "--epochs",
                "1",
                "--seed",
                str(10 * trial + s),
                "--out",
                out,
                cwd=tmp_path,
            )
            for s in (1, 2)
        ]
        for proc in procs:
            _, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err
        files = sorted(tmp_path.glob("m.npz*"))
        contents = [f.read_bytes() for f in files]
        assert len(set(contents)) == len(contents)  # no two files hold the same model
        assert before in contents
        for f in files:
            assert load_model(f).task == "blobs6x6"
        before = out.read_bytes()
    assert len(list(tmp_path.glob("m.npz*"))) == 5  # the original and four trained models
    assert not list(tmp_path.glob(".*"))  # no lock or temporary file left behind


def test_concurrent_samples_without_force_exactly_one_wins(tmp_path):
    for trial in range(3):
        out = tmp_path / f"p{trial}.npy"
        procs = [start("sample", "--seed", str(s), "--out", out, cwd=tmp_path) for s in range(4)]
        results = [(p.wait(timeout=120), p.stderr.read().decode()) for p in procs]
        codes = sorted(code for code, _ in results)
        assert codes == [0, 2, 2, 2], results
        assert all("refusing to overwrite" in err for code, err in results if code == 2)
        assert np.load(out).shape == (2, 8, 8)
    assert not list(tmp_path.glob(".*"))


def test_a_file_written_to_out_during_training_is_not_replaced_without_force(run, tmp_path, monkeypatch):
    import saliency_cli.training as training

    out = tmp_path / "m.npz"
    real = training.train_task

    def meanwhile(*args, **kwargs):
        result = real(*args, **kwargs)
        out.write_text("written by someone else during training")
        return result

    monkeypatch.setattr(training, "train_task", meanwhile)
    result = run("train", "--task", "blobs6x6", "--epochs", "1", "--out", out)
    assert result.exit_code == 2 and "not a valid model file" in result.stderr
    assert out.read_text() == "written by someone else during training"
    result = run("train", "--task", "blobs6x6", "--epochs", "1", "--out", out, "--force")
    assert result.exit_code == 0 and "kept the previous file as" in result.stderr
    assert (tmp_path / "m.npz.bak").read_text() == "written by someone else during training"
    assert load_model(out).task == "blobs6x6"


@pytest.mark.parametrize("kind", ["to a model", "dangling", "to a text file"])
@pytest.mark.parametrize("command", ["train", "sample", "sample --force", "train --force"])
def test_a_symlink_out_is_refused_and_left_alone(kind, command, run, tmp_path):
    target = tmp_path / "target.npz"
    if kind == "to a model":
        assert run("train", "--task", "blobs6x6", "--epochs", "1", "--out", target).exit_code == 0
    elif kind == "to a text file":
        target.write_text("precious")
    link = tmp_path / "link.npz"
    link.symlink_to(target)
    before = target.read_bytes() if target.exists() else None
    name, *flags = command.split()
    args = ["--task", "blobs6x6", "--epochs", "1"] if name == "train" else []
    result = run(name, *args, "--out", link, *flags)
    assert result.exit_code == 2 and "symbolic link" in result.stderr, result.stderr
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert (target.read_bytes() if target.exists() else None) == before


def test_write_new_and_commit_refuse_a_symlink_that_appears_late(tmp_path):
    path = tmp_path / "x.npy"
    check_target(str(path))
    path.symlink_to(tmp_path / "elsewhere")
    with pytest.raises(ValueError, match="exists"):
        write_new(path, b"data")
    with pytest.raises(ValueError, match="symbolic link"):
        commit_replacing(path, b"data")
    assert path.is_symlink() and not (tmp_path / "elsewhere").exists()


def test_the_lock_excludes_and_is_removed(tmp_path):
    path = tmp_path / "m.npz"
    order = []

    def second():
        with locked(path):
            order.append("second")

    with locked(path):
        thread = threading.Thread(target=second)
        thread.start()
        thread.join(0.3)
        order.append("first")
        assert thread.is_alive()
    thread.join(5)
    assert order == ["first", "second"]
    assert list(tmp_path.iterdir()) == []


def test_backup_names_fit_the_name_limit(tmp_path):
    path = tmp_path / ("m" * 255)
    path.write_text("x")
    backup = free_backup_path(path)
    assert len(backup.name) == 255 and backup.name.endswith(".bak")
    assert commit_replacing(path, b"new").name == backup.name
    assert free_backup_path(path).name.endswith(".bak.1")


@pytest.mark.parametrize(
    "args",
    [
        ["models", "--export", "{name}"],
        ["sample", "--count", "2", "--out", "{dir}/ok.npy", "--labels-out", "{name}"],
        ["sample", "--count", "2", "--out", "{dir}/ok.npy", "--masks-out", "{name}"],
    ],
)
@pytest.mark.parametrize("kind", ["long", "symlink"])
def test_every_writer_refuses_long_names_and_symlinks(args, kind, run, tmp_path):
    suffix = ".svg" if "--export" in args else ".npy"
    if kind == "long":
        name = tmp_path / ("n" * 300 + suffix)
    else:
        name = tmp_path / f"link{suffix}"
        name.symlink_to(tmp_path / f"elsewhere{suffix}")
    result = run(*[a.format(name=name, dir=tmp_path) for a in args])
    assert result.exit_code == 2 and result.stderr.count("\n") == 1, result.stderr
    assert ("too long" in result.stderr.lower()) if kind == "long" else ("symbolic link" in result.stderr)
    assert not (tmp_path / "ok.npy").exists() and not (tmp_path / f"elsewhere{suffix}").exists()
