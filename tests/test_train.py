"""Training: it learns both tasks, it is deterministic, and `train` writes files safely."""

from __future__ import annotations

import json

import numpy as np
import pytest

from saliency_cli.nn.modelfile import load_model
from saliency_cli.nn.train import Adam, cross_entropy

from .gradcheck import numerical_gradient, relative_error


def test_cross_entropy_gradient_matches_finite_differences(rng):
    logits, y = rng.normal(size=(4, 3)), np.array([0, 2, 1, 2])
    loss, grad = cross_entropy(logits, y)
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    assert loss == pytest.approx(-np.log(p[np.arange(4), y]).mean(), rel=1e-12)
    assert relative_error(grad, numerical_gradient(lambda z: cross_entropy(z, y)[0], logits)) < 1e-6


def test_adam_first_step_moves_each_parameter_by_lr_against_the_gradient_sign():
    params = {"w": np.array([1.0, -2.0, 3.0])}
    Adam(params, lr=0.1).step(params, {"w": np.array([0.5, -4.0, 0.0])})
    np.testing.assert_allclose(params["w"], [0.9, -1.9, 3.0], atol=1e-7)


@pytest.mark.parametrize("task", ["blobs8x8", "blobs6x6"])
def test_train_reaches_held_out_accuracy_and_is_byte_identical_for_a_seed(task, run, tmp_path):
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    first = run("train", "--task", task, "--out", a, "--format", "json")
    assert first.exit_code == 0, first.stderr
    report = json.loads(first.stdout)
    assert report["training"]["held_out_accuracy"] >= 0.99
    assert run("train", "--task", task, "--out", b).exit_code == 0
    assert a.read_bytes() == b.read_bytes()
    assert load_model(a).training["seed"] == 0
    assert run("train", "--task", task, "--out", b, "--seed", "1").exit_code == 0
    assert a.read_bytes() != b.read_bytes()


def test_the_accuracies_go_through_the_network_a_batch_at_a_time_not_all_at_once(monkeypatch):
    """The memory a run needs is a batch's (--batch-size rows), also for the accuracies after training: 1e5
    examples of blobs8x8-gap at once would be 15 GB."""
    from saliency_cli.nn.network import Network
    from saliency_cli.nn.train import TrainConfig
    from saliency_cli.tasks import TASKS
    from saliency_cli.training import train_task

    rows, forward = [], Network.predict_logits

    def counted(self, x, *args, **kwargs):
        rows.append(len(x))
        return forward(self, x, *args, **kwargs)

    monkeypatch.setattr(Network, "predict_logits", counted)
    _, record = train_task(TASKS["blobs6x6"], TrainConfig(epochs=1, batch_size=8, samples=100))
    assert record["samples"] == 100 and record["held_out_samples"] == 20
    assert max(rows) == 8 and sum(rows) == 100 + 100 + 20  # an epoch, then the two accuracies


def test_train_keeps_a_different_previous_model_and_refuses_to_clobber_other_files(run, tmp_path):
    out = tmp_path / "m.npz"
    assert run("train", "--task", "blobs6x6", "--out", out, "--epochs", "1").exit_code == 0
    old = out.read_bytes()
    result = run("train", "--task", "blobs6x6", "--out", out, "--epochs", "2")
    assert result.exit_code == 0 and "kept the previous model" in result.stderr
    assert (tmp_path / "m.npz.bak").read_bytes() == old and out.read_bytes() != old

    precious = tmp_path / "notes.npz"
    precious.write_text("my notes")
    result = run("train", "--task", "blobs6x6", "--out", precious)
    assert result.exit_code == 2 and "refusing to overwrite" in result.stderr
    assert precious.read_text() == "my notes"
    assert run("train", "--task", "blobs6x6", "--out", precious, "--force").exit_code == 0
    assert load_model(precious).task == "blobs6x6"


def test_no_temporary_files_are_left_behind(run, tmp_path):
    assert run("train", "--task", "blobs6x6", "--out", tmp_path / "m.npz", "--epochs", "1").exit_code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz"]


@pytest.mark.parametrize("name", ["m.onnx", "M.ONNX"])
def test_an_onnx_name_is_refused_before_training_as_no_command_could_load_it(name, run, tmp_path):
    """A model file is an .npz archive; every command reads a name ending in .onnx as an ONNX graph."""
    result = run("train", "--task", "blobs6x6", "--epochs", "1", "--out", tmp_path / name)
    assert result.exit_code == 2 and result.stderr.count("\n") == 1, result.stderr
    assert "would be read as an ONNX graph" in result.stderr and not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    "args", [["--epochs", "0"], ["--lr", "-1"], ["--batch-size", "0"], ["--samples", "3"], ["--task", "mnist"]]
)
def test_bad_training_options_exit_2(args, run, tmp_path):
    result = run("train", "--out", tmp_path / "m.npz", *args)
    assert result.exit_code == 2 and "Error" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "m.npz").exists()
