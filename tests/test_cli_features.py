"""`saliency-cli features`: the arrays are the layer's output exactly; grid, ranges and errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from saliency_cli.methods.features import feature_maps
from saliency_cli.nn import ops
from saliency_cli.tasks import TASKS


def _doc(run, *args, **kwargs):
    result = run("features", "--format", "json", *args, **kwargs)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("layer", ["conv1", "lrelu1", "conv3", "4"])
def test_json_maps_are_the_layer_output_exactly(run, shipped, layer):
    """By construction: the command's forward pass is this one (one probe, the same shapes)."""
    net = shipped("blobs8x8-gap")
    x = TASKS["blobs8x8-gap"].probe("noisy")[0]
    doc = _doc(run, "--layer", layer, "--probe", "noisy")
    i = net.index(layer)
    net.forward(x[None])
    expected = net.outputs[i][0]
    assert doc["layer"] == {"index": i, "name": net.layers[i].name, "type": net.layers[i].type}
    assert doc["shape"] == list(net.shapes[i])
    np.testing.assert_array_equal(np.array(doc["maps"]), expected)
    np.testing.assert_array_equal(np.array(doc["ranges"]), np.stack([expected.min((1, 2)), expected.max((1, 2))], 1))
    assert doc["prediction"]["class"] == 1 and doc["label"] == 1


def test_conv1_by_hand(shipped):
    """conv1's output equals a direct 3x3 correlation with zero padding, written out here."""
    net = shipped("blobs8x8-gap")
    x = TASKS["blobs8x8-gap"].probe("clean")[0]
    w, b = net.layers[0].params["weight"], net.layers[0].params["bias"]
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1)))
    expected = np.zeros((8, 8, 8))
    for k in range(8):
        for i in range(8):
            for j in range(8):
                expected[k, i, j] = np.sum(w[k] * padded[:, i : i + 3, j : j + 3]) + b[k]
    result = feature_maps(net, x, "conv1")
    np.testing.assert_allclose(result.maps, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(result.probabilities, ops.softmax(result.logits[None])[0])


def test_text_grid_titles_every_channel_with_its_range(run, shipped):
    result = run("features", "--layer", "conv2", "--no-color")
    assert result.exit_code == 0, result.stderr
    net = shipped("blobs8x8-gap")
    maps = feature_maps(net, TASKS["blobs8x8-gap"].probe("clean")[0], "conv2").maps
    for k in range(16):
        assert f"ch {k} [{maps[k].min():.3g}, {maps[k].max():.3g}]" in result.stdout
    assert "16 channels of 8x8" in result.stdout
    assert max(len(line) for line in result.stdout.splitlines()) <= 80


def test_other_models_and_stdin(run):
    doc = _doc(run, "--task", "blobs8x8", "--layer", "pool1")
    assert doc["shape"] == [8, 4, 4]
    sample = run("sample", "--task", "blobs8x8", "--label", "1", "--seed", "2")
    doc = _doc(run, "--input", "-", input=sample.stdout_bytes)
    assert doc["label"] is None and doc["prediction"]["class"] == 1


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--layer", "conv7"], "no layer named"),
        (["--layer", "dense1"], "no spatial output"),
        (["--layer", "99"], "out of range"),
        (["--task", "blobs6x6", "--layer", "0"], "no spatial output"),
    ],
)
def test_bad_layers_are_one_line_and_exit_2(run, args, needle):
    result = run("features", *args)
    assert result.exit_code == 2 and needle in result.stderr
    assert result.stderr.strip().count("\n") == 0 and "Traceback" not in result.stderr
