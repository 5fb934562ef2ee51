"""Commands shared concerns: help everywhere, version, `models`, `sample`, bad model files."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from saliency_cli import __version__
from saliency_cli.cli import COMMANDS, cli


def test_version(run):
    result = run("--version")
    assert result.exit_code == 0 and __version__ in result.stdout


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_has_help_ending_with_an_example(name, run):
    result = run(name, "-h")
    assert result.exit_code == 0
    command = cli.get_command(None, name)
    assert command.help and "Example:" in command.help
    assert "saliency-cli" in command.help.rsplit("Example:", 1)[1]
    for param in command.params:
        if param.param_type_name == "option":
            assert param.help, f"{name} {param.opts[0]} has no help text"


def test_models_shows_layers_shapes_and_parameter_counts(run):
    result = run("models", "models/blobs8x8.npz", "--format", "json")
    assert result.exit_code == 0
    info = json.loads(result.stdout)
    assert [layer["output_shape"] for layer in info["layers"]][:3] == [[8, 8, 8], [8, 8, 8], [8, 4, 4]]
    assert info["parameters"] == (2 * 9 * 8 + 8) + (128 * 16 + 16) + (16 * 2 + 2)
    text = run("models", "--task", "blobs6x6")
    assert text.exit_code == 0 and "dense1" in text.stdout and "held_out_accuracy" in text.stdout


def test_models_text_writes_shapes_one_way_and_settings_as_given(run):
    """Shapes as 2x8x8 (the title's input too), lr 0.01 (not 0.01000) and the training count as examples."""
    out = run("models", "models/blobs8x8.npz", "--no-color", env={"COLUMNS": "120"}).stdout
    assert "input 2x8x8)" in out and "(2, 8, 8)" not in out and "8x4x4" in out
    record = dict(line.split() for line in out.splitlines() if line.startswith(("lr ", "examples ", "noise ")))
    assert record == {"lr": "0.01", "examples": "2000", "noise": "0.1"}
    assert "held_out_examples" in out and "samples" not in out


@pytest.mark.parametrize(
    ("methods", "title"), [(None, "vanilla, SmoothGrad, Integrated Gradients"), ("ig", "Integrated Gradients")]
)
def test_saliency_has_a_title_line_as_lrp_and_cam(run, methods, title):
    extra = () if methods is None else ("--methods", methods)
    first = {
        c: run(c, *extra if c == "saliency" else (), "--no-color").stdout.splitlines()[0].strip()
        for c in ("saliency", "lrp", "cam")
    }
    assert first == {
        "saliency": f"Saliency: {title}",
        "lrp": "Layer-wise Relevance Propagation",
        "cam": "Class activation maps",
    }


def test_sample_writes_a_probe_that_round_trips(run, tmp_path):
    result = run("sample", "--task", "blobs8x8", "--label", "1", "--noise", "0.3", "--seed", "5")
    assert result.exit_code == 0
    x = np.load(io.BytesIO(result.stdout_bytes), allow_pickle=False)
    assert x.shape == (2, 8, 8) and x[1, 5:8, 5:8].min() >= 1.0 and x[0].max() < 0.3
    out = tmp_path / "p.npy"
    assert run("sample", "--label", "1", "--noise", "0.3", "--seed", "5", "--out", out).exit_code == 0
    np.testing.assert_array_equal(np.load(out), x)
    bad = run("sample", "--label", "7")
    assert bad.exit_code == 2 and "out of range" in bad.stderr


@pytest.mark.parametrize("content", [b"", b"garbage", b"PK\x03\x04broken"])
def test_models_on_a_corrupt_file_is_one_line_and_exit_2(content, run, tmp_path):
    path = tmp_path / "m.npz"
    path.write_bytes(content)
    result = run("models", path)
    assert result.exit_code == 2
    assert result.stderr.strip().count("\n") == 0 and str(path) in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["saliency", "--steps", "0"],
        ["saliency", "--bogus"],
        ["no-such-command"],
        ["train", "--epochs", "x"],
        ["saliency", "--probe", "dirty"],
    ],
)
def test_click_usage_errors_are_one_line_with_exit_2(args, run):
    result = run(*args)
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("Error: ") and "--help" in result.stderr
    assert result.stdout == ""
