"""`saliency --baseline FILE`: read as one --input probe is (a .npy array or stdin, an image file, an imported
model's own layout), with the same checks and one-line errors, each naming --baseline."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from saliency_cli.tasks import TASKS

from .onnx_fixtures import FIXTURES, graph_input, reference, tool_input


def _ig(run, *args, input=None) -> dict:
    result = run("saliency", "--methods", "ig", "--format", "json", *args, input=input)
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    return doc["methods"]["integrated_gradients"]


@pytest.mark.parametrize("name", ["mlp", "keras_nhwc"])
def test_a_baseline_may_be_laid_out_as_an_imported_graphs_own_input(name, run, tmp_path):
    pytest.importorskip("onnx")
    x = tool_input(name, reference(name)["x"])
    base = np.random.default_rng(3).uniform(0.0, 0.5, size=x.shape[1:])  # (C, H, W)
    np.save(tmp_path / "x.npy", x[0])
    np.save(tmp_path / "tool.npy", base)
    np.save(tmp_path / "own.npy", graph_input(name, base[None])[0])  # (D,) or (H, W, C)
    model = ["--model", FIXTURES / f"{name}.onnx", "--input", tmp_path / "x.npy", "--quadrature", "right"]
    tool, own = (_ig(run, *model, "--baseline", tmp_path / f"{key}.npy") for key in ("tool", "own"))
    assert own["baseline"] == str(tmp_path / "own.npy") and tool["baseline"] == str(tmp_path / "tool.npy")
    assert own["attribution"] == tool["attribution"] and own["completeness"] == tool["completeness"]
    assert tool["completeness"]["score_baseline"] != _ig(run, *model)["completeness"]["score_baseline"]


def test_a_baseline_from_stdin_is_the_same_as_from_a_file(run, tmp_path):
    base = np.full((2, 8, 8), 0.25)
    np.save(tmp_path / "b.npy", base)
    buf = io.BytesIO()
    np.save(buf, base)
    from_file = _ig(run, "--baseline", tmp_path / "b.npy")
    from_stdin = _ig(run, "--baseline", "-", input=buf.getvalue())
    assert from_stdin["attribution"] == from_file["attribution"] and from_stdin["baseline"] == "stdin"


@pytest.fixture
def images(tmp_path):
    """A grey 8x8 and a grey 16x16 greyscale PNG, and an 8x8 ramp, for the digits model (1 channel)."""
    image = pytest.importorskip("PIL.Image")
    image.fromarray(np.full((8, 8), 128, np.uint8)).save(tmp_path / "grey.png")
    image.fromarray(np.full((16, 16), 128, np.uint8)).save(tmp_path / "big.png")
    image.fromarray((np.arange(64, dtype=np.uint8) * 3).reshape(8, 8)).save(tmp_path / "ramp.png")
    return tmp_path


def test_an_image_baseline_is_read_as_an_image_input_is(images, run):
    x, _ = TASKS["digits"].held_out()
    np.save(images / "x.npy", x[0])
    for scale, top in (("0-1", 255.0), ("0-255", 1.0)):
        np.save(images / "grey.npy", np.full((1, 8, 8), 128 / top))
        by_array = _ig(run, "--task", "digits", "--input", images / "ramp.png", "--input-scale", scale,
                       "--baseline", images / "grey.npy")  # fmt: skip
        by_image = _ig(run, "--task", "digits", "--input", images / "ramp.png", "--input-scale", scale,
                       "--baseline", images / "grey.png")  # fmt: skip
        assert by_image["attribution"] == by_array["attribution"]
        assert by_image["completeness"]["score_baseline"] == by_array["completeness"]["score_baseline"]
    # a .npy --input with an image baseline: the image's conversion options apply to the baseline
    resized = _ig(run, "--task", "digits", "--input", images / "x.npy", "--baseline", images / "big.png",
                  "--resize", "box")  # fmt: skip
    # NOTE: Pillow resizes float32 channels: equal pixels averaged by the box filter stay float32(128/255)
    np.save(images / "grey.npy", np.full((1, 8, 8), np.float32(128 / 255), dtype=np.float64))
    same = _ig(run, "--task", "digits", "--input", images / "x.npy", "--baseline", images / "grey.npy")
    assert resized["attribution"] == same["attribution"]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--baseline", "{d}/none.npy"], "--baseline {d}/none.npy: no such file"),
        (["--baseline", "{d}"], "--baseline {d}: is a directory"),
        (["--baseline", "{d}/wrong.npy"], "--baseline {d}/wrong.npy: shape (8, 8, 2) does not match the model's input"),
        (["--baseline", "{d}/nan.npy"], "--baseline {d}/nan.npy: contains 1 NaN or infinite value(s)"),
        (["--baseline", "{d}/text.npy"], "--baseline {d}/text.npy: not a .npy array file"),
        (["--baseline", "-"], "--baseline -: standard input is empty"),
        (["--baseline", "{d}/grey.png"], "--baseline {d}/grey.png: the model takes 2 input channels, and an image"),
        (["--baseline", "{d}/b.npy", "--resize", "box"], "--resize applies to an image --input"),
    ],
)
def test_bad_baselines_are_one_line_naming_baseline(args, words, run, tmp_path):
    np.save(tmp_path / "wrong.npy", np.zeros((8, 8, 2)))
    np.save(tmp_path / "nan.npy", np.where(np.arange(128).reshape(2, 8, 8) == 5, np.nan, 0.0))
    np.save(tmp_path / "b.npy", np.zeros((2, 8, 8)))
    (tmp_path / "text.npy").write_text("0 0 0\n")
    (tmp_path / "grey.png").write_bytes(b"")  # refused by the model's channels before it is read
    result = run("saliency", "--methods", "ig", *[a.format(d=tmp_path) for a in args], input=b"")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and words.format(d=tmp_path) in result.stderr, result.stderr
