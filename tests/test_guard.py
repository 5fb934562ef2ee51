"""The last guard: an unexpected exception is one "internal error" line with exit code 70, and no known-bad
input ever reaches it (each has its own one-line message and exit code 2)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from saliency_cli.nn.layers import LAYER_TYPES
from saliency_cli.nn.modelfile import MAX_META_NESTING, model_bytes
from saliency_cli.nn.network import Network
from saliency_cli.tasks import TASKS


def one_line_error(result, code: int = 2) -> str:
    assert result.exit_code == code, (result.exit_code, result.stderr)
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("Error: "), result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    return result.stderr


def random_net(cfgs, shape, task, classes=None, training=None, seed=0) -> Network:
    rng = np.random.default_rng(seed)
    layers = [LAYER_TYPES[c["type"]].from_config(c) for c in cfgs]
    for layer in layers:
        for key, value in layer.params.items():
            layer.params[key] = rng.normal(0.0, 0.5, value.shape)
    return Network(layers, shape, task=task, classes=classes, training=training)


def nested(depth: int) -> dict:
    """A training record whose objects nest `depth` levels deep (the record itself is level 1)."""
    record: dict = {}
    inner = record
    for _ in range(depth - 1):
        inner["x"] = {}
        inner = inner["x"]
    return record


# -- the guard ---------------------------------------------------------------------------------


@pytest.fixture
def broken_models(monkeypatch):
    """`models` with a bug injected into its JSON rendering."""
    import saliency_cli.cli.models as models_cli

    def bug(net):
        raise RuntimeError("a bug\nsecond line")

    monkeypatch.setattr(models_cli, "models_info", bug)


def test_an_injected_bug_is_one_internal_error_line_with_exit_70(run, broken_models, monkeypatch):
    monkeypatch.delenv("SALIENCY_CLI_DEBUG", raising=False)
    result = run("models", "--task", "blobs6x6")
    assert result.exit_code == 70
    assert result.stderr == "internal error: RuntimeError: a bug; please report this\n"
    assert result.stdout == ""


def test_debug_shows_the_traceback(run, broken_models, monkeypatch):
    monkeypatch.delenv("SALIENCY_CLI_DEBUG", raising=False)
    result = run("--debug", "models", "--task", "blobs6x6")
    assert result.exit_code == 70
    assert "Traceback" in result.stderr and "def bug" not in result.stdout
    assert result.stderr.rstrip("\n").splitlines()[-1].startswith("internal error: RuntimeError")
    env = run("models", "--task", "blobs6x6", env={"SALIENCY_CLI_DEBUG": "1"})
    assert env.exit_code == 70 and "Traceback" in env.stderr
    # the flag does not stick to later runs in the same process
    assert run("models", "--task", "blobs6x6").stderr.count("\n") == 1


def test_an_exception_with_an_empty_message_is_named_by_its_repr(run, monkeypatch):
    import saliency_cli.cli.models as models_cli

    def bug(net):
        raise EOFError

    monkeypatch.setattr(models_cli, "models_info", bug)
    result = run("models", "--task", "blobs6x6")
    assert result.exit_code == 70
    assert result.stderr == "internal error: EOFError: EOFError(); please report this\n"


def test_ctrl_c_in_any_command_is_one_line_and_exit_130(run, monkeypatch):
    """Not click's blank line and "Aborted.": the same line as an interrupted batch's, in every command."""
    import saliency_cli.cli.models as models_cli

    def interrupted(net):
        raise KeyboardInterrupt

    monkeypatch.setattr(models_cli, "models_info", interrupted)
    result = run("models", "--task", "blobs6x6", "--format", "json")
    assert result.exit_code == 130
    assert result.stderr == "Error: interrupted\n" and result.stdout == ""


def test_the_installed_entry_point_exits_70_too(tmp_path):
    """A real process: the bug is injected through a sitecustomize on PYTHONPATH."""
    (tmp_path / "sitecustomize.py").write_text(
        "import saliency_cli.nn.network as n\n"
        "def bad(self):\n    raise ZeroDivisionError('injected')\n"
        "n.Network.num_parameters = bad\n"
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    env.pop("SALIENCY_CLI_DEBUG", None)
    proc = subprocess.run(
        [sys.executable, "-m", "saliency_cli", "models", "--task", "blobs6x6"], env=env, capture_output=True, text=True
    )
    assert proc.returncode == 70, proc.stderr
    assert proc.stderr == "internal error: ZeroDivisionError: injected; please report this\n"


# -- known-bad cases each have their own message -------------------------------------------------


@pytest.mark.parametrize("value", ["²", "-²", "①", "1²"])
def test_a_layer_or_unit_in_non_ascii_digits_is_a_clean_error(value, run):
    assert "no layer named" in one_line_error(run("features", "--layer", value))
    assert "no layer named" in one_line_error(run("cam", "--layer", value))
    assert "no layer named" in one_line_error(run("saliency", "--layer", value, "--unit", "1"))
    assert "give a flat index" in one_line_error(run("saliency", "--layer", "conv1", "--unit", value))
    assert "give a flat index" in one_line_error(run("saliency", "--layer", "conv1", "--unit", f"0,{value},1"))


def test_huge_layer_and_unit_indices_are_clean_errors(run):
    big = "9" * 40
    assert "out of range" in one_line_error(run("features", "--layer", big))
    assert "out of range" in one_line_error(run("saliency", "--layer", "conv1", "--unit", big))
    assert "does not index" in one_line_error(run("saliency", "--layer", "conv1", "--unit", f"{big},0,0"))


@pytest.mark.parametrize("command", ["train", "sample"])
def test_an_out_name_over_255_bytes_is_a_clean_error(command, run, tmp_path):
    name = tmp_path / ("m" * 300 + ".npz")
    args = ["--task", "blobs6x6", "--epochs", "1"] if command == "train" else []
    assert "too long" in one_line_error(run(command, *args, "--out", name))
    long_dir = tmp_path / ("d" * 300) / "m.npz"
    assert "too long" in one_line_error(run(command, *args, "--out", long_dir))
    assert not any(tmp_path.iterdir())


def test_a_255_byte_out_name_works(run, tmp_path):
    name = tmp_path / ("m" * 251 + ".npy")
    assert run("sample", "--out", name).exit_code == 0
    assert np.load(name).shape == (2, 8, 8)
    model = tmp_path / ("m" * 251 + ".npz")
    assert run("train", "--task", "blobs6x6", "--epochs", "1", "--out", model).exit_code == 0
    assert run("train", "--task", "blobs6x6", "--epochs", "2", "--out", model).exit_code == 0  # locks and backups too


@pytest.fixture
def gap3(tmp_path):
    """A 3-class model whose file says it is a blobs8x8-gap model (the task has 2 classes)."""
    cfgs = [dict(c) for c in TASKS["blobs8x8-gap"].layers]
    cfgs[-2] = {"type": "dense", "in_features": 32, "out_features": 3}
    path = tmp_path / "gap3.npz"
    path.write_bytes(model_bytes(random_net(cfgs, (2, 8, 8), "blobs8x8-gap", ["a", "b", "c"])))
    return path


def test_a_task_name_does_not_give_a_model_its_class_count(gap3, run, tmp_path):
    for args in (["cam", "--target", "2"], ["saliency", "--target", "2"], ["lrp", "--target", "2"], ["features"]):
        message = one_line_error(run(*args, "--model", gap3))
        assert "it has 3 classes, task blobs8x8-gap has 2" in message and "--input" in message
    assert "no built-in probe" in one_line_error(run("cost", "--model", gap3))
    assert "it has 3 classes" in one_line_error(run("evaluate", "--model", gap3, "--probes", "4"))
    probe = tmp_path / "p.npy"
    np.save(probe, TASKS["blobs8x8"].probe("clean")[0])
    result = run("cam", "--model", gap3, "--target", "2", "--input", probe, "--format", "json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["target"] == 2 and doc["blob"] is None and doc["peak"]["input"]["in_blob"] is None


def test_a_task_name_does_not_give_a_model_its_input_shape(run, tmp_path):
    cfgs = [{"type": "flatten"}, {"type": "dense", "in_features": 16, "out_features": 2}]
    path = tmp_path / "m.npz"
    path.write_bytes(model_bytes(random_net(cfgs, (1, 4, 4), "blobs6x6")))
    assert "is not task blobs6x6's" in one_line_error(run("lrp", "--model", path))


@pytest.mark.parametrize("depth", [MAX_META_NESTING, 493, 900])
def test_deeply_nested_training_records_are_refused_when_loading(depth, run, tmp_path):
    path = tmp_path / "deep.npz"
    net = random_net([dict(c) for c in TASKS["blobs6x6"].layers], (1, 6, 6), "blobs6x6", training=nested(depth))
    path.write_bytes(model_bytes(net))
    for fmt in ("json", "text"):
        result = run("models", path, "--format", fmt)
        if depth + 1 <= MAX_META_NESTING:  # the meta object holds the record: one level more
            assert result.exit_code == 0, result.stderr
        else:
            assert "levels deep" in one_line_error(result)


def test_the_deepest_allowed_record_renders(run, tmp_path):
    path = tmp_path / "deep.npz"
    net = random_net(
        [dict(c) for c in TASKS["blobs6x6"].layers], (1, 6, 6), "blobs6x6", training=nested(MAX_META_NESTING - 1)
    )
    path.write_bytes(model_bytes(net))
    for fmt in ("json", "text"):
        assert run("models", path, "--format", fmt).exit_code == 0


@pytest.mark.parametrize(
    "args",
    [
        ["features", "--layer", "²"],
        ["cam", "--layer", "-²"],
        ["saliency", "--layer", "conv1", "--unit", "1,²"],
        ["saliency", "--quadrature", "gauss-legendre", "--steps", "100000"],
        ["saliency", "--smooth", "100000"],
        ["cam", "--smooth", "100000"],
        ["cost", "--size", "128", "--steps", "4096", "--samples", "4096"],
        ["saliency", "--batch-size", "1000000000"],
        ["saliency", "--max-pieces", "3", "--quadrature", "right"],
        ["train", "--task", "blobs6x6", "--out", "x" * 256],
        ["sample", "--out", "y" * 256],
        ["models", "/nonexistent\x1b[2J.npz"],
    ],
)
def test_known_bad_cases_never_reach_the_guard(args, run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    message = one_line_error(run(*args))
    assert "\x1b" not in message
