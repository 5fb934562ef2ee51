"""`train --data/--labels/--arch/--holdout`: training on a user's data, what the model file records, using the
model on the other commands, and every kind of bad data refused in one line before training."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile

import numpy as np
import pytest

from saliency_cli.nn.modelfile import load_model


def toy(n=120, classes=3, shape=(2, 6, 6), seed=0):
    """Separable images: class k lights up a 2x2 corner block of channel k % C."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % classes
    x = rng.uniform(0, 0.2, size=(n, *shape))
    for k in range(classes):
        x[y == k, k % shape[0], 2 * (k // shape[0]) : 2 * (k // shape[0]) + 2, :2] += 1.0
    return x, y


@pytest.fixture
def data(tmp_path):
    x, y = toy()
    path = tmp_path / "toy.npz"
    np.savez(path, x=x, y=y)
    return path


def test_trains_on_an_npz_and_the_model_records_the_data_and_the_spec(data, run, tmp_path):
    out = tmp_path / "m.npz"
    spec = "conv4:3,relu,maxpool2,flatten,dense3"
    result = run("train", "--data", data, "--arch", spec, "--epochs", "15", "--out", out, "--format", "json")
    assert result.exit_code == 0, result.stderr
    record = json.loads(result.stdout)["training"]
    assert record["held_out_accuracy"] == 1.0 and record["samples"] == 96 and record["held_out_samples"] == 24
    net = load_model(out)
    assert net.input_shape == (2, 6, 6) and net.num_classes == 3 and net.task is None
    assert net.training["arch"] == spec and net.training["data"]["classes"] == 3
    assert net.training["data"]["shape"] == [120, 2, 6, 6] and net.training["data"]["holdout"] == 0.2
    assert net.training["data"]["files"][0]["sha256"] == hashlib.sha256(data.read_bytes()).hexdigest()
    assert [layer.type for layer in net.layers][-1] == "softmax"
    again = tmp_path / "again.npz"
    run("train", "--data", data, "--arch", spec, "--epochs", "15", "--out", again)
    assert again.read_bytes() == out.read_bytes()  # the same seed: the same bytes


def test_trains_on_two_npy_files_with_the_default_network_and_a_holdout(run, tmp_path):
    x, y = toy(n=50, classes=5, shape=(1, 8, 8))
    np.save(tmp_path / "x.npy", x.astype(np.float32))
    np.save(tmp_path / "y.npy", y.astype(np.uint8))
    out = tmp_path / "m.npz"
    args = ["train", "--data", tmp_path / "x.npy", "--labels", tmp_path / "y.npy", "--holdout", "0.4", "--out", out]
    result = run(*args, "--epochs", "3")
    assert result.exit_code == 0, result.stderr
    assert "trained x.npy + y.npy" in result.stdout and "(20 examples)" in result.stdout
    net = load_model(out)
    assert net.training["arch"] == "conv8:3,relu,maxpool2,flatten,dense32,relu,dense5"
    assert len(net.training["data"]["files"]) == 2 and net.training["held_out_samples"] == 20


def test_the_model_explains_the_users_inputs_on_every_command(data, run, tmp_path):
    out = tmp_path / "m.npz"
    assert run("train", "--data", data, "--epochs", "3", "--out", out).exit_code == 0
    x, _ = toy()
    np.save(tmp_path / "one.npy", x[0])
    np.save(tmp_path / "batch.npy", x[:4])
    for command in (["saliency"], ["lrp"], ["cam", "--methods", "gradcam"], ["features"]):
        for probe in ("one.npy", "batch.npy"):
            result = run(*command, "--model", out, "--input", tmp_path / probe, "--format", "json")
            assert result.exit_code == 0, (command, result.stderr)


def test_evaluate_scores_the_users_model_on_the_users_inputs_without_masks(data, run, tmp_path):
    out = tmp_path / "m.npz"
    assert run("train", "--data", data, "--epochs", "5", "--out", out).exit_code == 0
    x, y = toy()
    np.save(tmp_path / "x.npy", x[:10])
    np.save(tmp_path / "y.npy", y[:10])
    args = ["evaluate", "--model", out, "--input", tmp_path / "x.npy", "--labels", tmp_path / "y.npy"]
    result = run(*args, "--methods", "ig,lrp:epsilon", "--resamples", "20", "--format", "json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["probes"] == 10 and doc["settings"]["ground_truth_masks"] is False
    assert "auc" not in doc["metrics"] and doc["methods"]["ig"]["conservation"]["mean"] < 1e-9


def _npz(path, **arrays):
    np.savez(path, **arrays)
    return path


X, Y = toy()


@pytest.mark.parametrize(
    "arrays, message",
    [
        ({"x": np.where(np.arange(X.size).reshape(X.shape) == 77, np.nan, X), "y": Y}, "1 NaN or infinite value(s)"),
        ({"x": np.where(np.arange(X.size).reshape(X.shape) == 80, np.inf, X), "y": Y}, "the first in example 1"),
        ({"x": X[:, 0], "y": Y}, "is not (N, C, H, W)"),
        ({"x": X, "y": Y[:, None]}, "is not (N,)"),
        ({"x": X, "y": Y.astype(np.float64)}, "labels must be integers 0..K-1"),
        ({"x": X, "y": Y - 1}, "label -1 (example 0) is negative"),
        ({"x": X, "y": np.where(Y == 1, 2, Y)}, "no example of class 1"),
        ({"x": X, "y": np.zeros_like(Y)}, "every label is 0"),
        ({"x": X[:3], "y": np.array([0, 1, 9])}, "3 examples for 10 classes"),
        ({"x": X, "y": Y[:-1]}, "x has 120 examples but"),
        ({"x": X}, "no array 'y'"),
        ({"x": X[:4], "y": np.array([0, 1, 2, 3])}, "holds out no example"),
        ({"x": X.astype(np.complex128), "y": Y}, "has dtype '<c16', expected real numbers"),
    ],
)
def test_bad_data_is_refused_in_one_line_before_training(arrays, message, run, tmp_path):
    data = _npz(tmp_path / "bad.npz", **arrays)
    out = tmp_path / "m.npz"
    result = run("train", "--data", data, "--out", out)
    assert result.exit_code == 2 and message in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert not out.exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--arch", "conv8:3,relu,dense3"], "layer 3 (dense3) gets shape (8, 6, 6)"),
        (["--arch", "conv8:7:p0,flatten,dense3"], "layer 1 (conv8:7:p0) does not fit the shape (2, 6, 6)"),
        (["--arch", "flatten,dense4"], "the data has 3 classes"),
        (["--task", "blobs6x6"], "--task picks a built-in task's data"),
        (["--examples", "100"], "--examples picks"),
        (["--labels", "y.npy"], "is an .npz archive, which holds x and y: drop --labels"),
        (["--holdout", "0"], "0 is not in the range"),
    ],
)
def test_bad_options_with_data_are_refused_in_one_line(args, message, data, run, tmp_path):
    result = run("train", "--data", data, "--out", tmp_path / "m.npz", *args)
    assert result.exit_code == 2 and message in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(("channels", "batch"), [(100_000, None), (1000, 5000)])
def test_a_batch_too_large_for_memory_is_refused_before_training(channels, batch, data, run, tmp_path, monkeypatch):
    """A batch's activations (its rows times the values one row computes) are bounded before anything is
    allocated, as in every other command: 100,000 channels on 6x6 inputs took gigabytes and minutes."""
    import saliency_cli.training as training
    from saliency_cli.cli.work import MAX_CHUNK_VALUES

    monkeypatch.setattr(training, "fit", lambda *a, **k: pytest.fail("trained"))
    args = ["--arch", f"conv{channels}:3,flatten,dense3"] + ([] if batch is None else ["--batch-size", batch])
    result = run("train", "--data", data, "--out", tmp_path / "m.npz", *args)
    per_row = 2 * 6 * 6 + 2 * channels * 6 * 6 + 3 + 3  # the input, conv (padded: 6x6) and flatten, dense, softmax
    assert f"--batch-size {batch or 32} would hold" in result.stderr and f"({per_row:,} per row;" in result.stderr
    assert result.exit_code == 2 and f"use --batch-size {MAX_CHUNK_VALUES // per_row} or less" in result.stderr
    assert result.stderr.count("\n") == 1 and not (tmp_path / "m.npz").exists()


def test_files_that_are_not_data_are_refused(data, run, tmp_path):
    np.save(tmp_path / "x.npy", X)
    cases = [
        (["--data", tmp_path / "x.npy"], "a .npy of x needs --labels"),
        (["--data", tmp_path / "missing.npz"], "no such file"),
        (["--data", data], "--data needs --out"),
        (["--arch", "dense3"], "--arch goes with --data"),
        (["--labels", tmp_path / "x.npy"], "--labels goes with --data"),
    ]
    pickled = tmp_path / "pickled.npz"
    buf = io.BytesIO()
    np.save(buf, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with zipfile.ZipFile(pickled, "w") as zf:
        zf.writestr("x.npy", buf.getvalue())
        zf.writestr("y.npy", buf.getvalue())
    cases.append((["--data", pickled], "'x' has dtype '|O'"))
    for args, message in cases:
        out = [] if "--data needs --out" in message else ["--out", tmp_path / "m.npz"]
        result = run("train", *args, *out)
        assert result.exit_code == 2 and message in result.stderr, (args, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1
