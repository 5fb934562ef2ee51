"""`saliency-cli cam`: JSON document, text report, smoothing and one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from saliency_cli.methods import cam as C
from saliency_cli.tasks import TASKS


def _doc(run, *args, **kwargs):
    result = run("cam", "--format", "json", *args, **kwargs)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_default_is_gradcam_on_the_gap_model_with_peak_on_the_class_0_blob(run, shipped):
    doc = _doc(run)
    assert doc["command"] == "cam" and doc["method"] == "gradcam" and doc["model"]["task"] == "blobs8x8-gap"
    assert (doc["layer"]["name"], doc["maps_layer"]["name"], doc["maps_layer"]["shape"]) == (
        "conv3",
        "lrelu3",
        [32, 8, 8],
    )
    assert doc["target"] == 0 and doc["label"] == 0 and doc["weights_unchanged"] is True
    raw, cmap = np.array(doc["map_raw"]), np.array(doc["map"])
    np.testing.assert_array_equal(cmap, np.maximum(raw, 0))
    assert np.shape(doc["upsampled"]["nearest"]) == np.shape(doc["upsampled"]["bilinear"]) == (8, 8)
    assert doc["peak"]["layer"]["in_blob"] is True and doc["peak"]["input"]["in_blob"] is True
    assert doc["peak"]["layer"]["x"] <= 2 and doc["peak"]["layer"]["y"] <= 2
    # the same numbers as the Python API
    net = shipped("blobs8x8-gap")
    expected = C.class_maps(net, TASKS["blobs8x8-gap"].probe("clean")[0], None, "gradcam")
    np.testing.assert_allclose(raw, expected.raw[0], rtol=1e-12)
    np.testing.assert_allclose(doc["channel_weights"], expected.weights[0], rtol=1e-12)


def test_gradcam_pp_text_report(run):
    result = run("cam", "--method", "gradcam++", "--task", "blobs8x8", "--layer", "pool1", "--no-color")
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    for needle in ("Grad-CAM++ 4x4", "pool1", "bilinear 8x8", "nearest 8x8", "peak (layer 4x4): x=0, y=0"):
        assert needle in out, needle
    assert "peak (input, bilinear): x=" in out
    assert "inside class 0's blob" in out and "model weights unchanged" in out


@pytest.mark.parametrize(
    ("args", "relu_idle", "identity"),
    [
        ((), True, True),  # blobs8x8-gap's conv3 is 8x8 and its clean map has no negative value: one panel
        (("--probe", "noisy"), False, True),
        (("--task", "blobs8x8", "--layer", "pool1"), True, False),
        (("--task", "blobs8x8", "--layer", "pool1", "--probe", "noisy", "--target", "0"), False, False),
    ],
)
def test_panels_that_repeat_the_map_are_left_out_saying_why(run, args, relu_idle, identity):
    """Before-ReLU, nearest and bilinear panels are shown only when they differ from the map."""
    doc = _doc(run, *args)
    raw, cmap = np.array(doc["map_raw"]), np.array(doc["map"])
    assert np.array_equal(raw, cmap) == relu_idle
    assert all(np.array_equal(np.array(v), cmap) for v in doc["upsampled"].values()) == identity
    out = run("cam", *args, "--no-color", env={"COLUMNS": "120"}).stdout
    assert ("before ReLU " in out) != relu_idle and (
        "before the ReLU: the same map (no value is negative)" in out
    ) == relu_idle
    assert ("nearest " in out and "bilinear " in out) != identity
    assert ("upsampled to the input: the same map" in out) == identity
    assert ("one panel for four:" in out) == (relu_idle and identity)
    assert ("peak (input, bilinear)" in out) != identity


def test_cam_on_the_gap_model_is_64_times_gradcam(run):
    cam, grad = _doc(run, "--method", "cam"), _doc(run)
    np.testing.assert_allclose(np.array(cam["map_raw"]), 64 * np.array(grad["map_raw"]), rtol=1e-9)


def test_upsampling_from_a_pooled_layer(run):
    doc = _doc(run, "--task", "blobs8x8", "--layer", "pool1", "--probe", "noisy")
    cmap = np.array(doc["map"])
    assert cmap.shape == (4, 4) and doc["maps_layer"]["name"] == "pool1"
    np.testing.assert_array_equal(doc["upsampled"]["nearest"], np.repeat(np.repeat(cmap, 2, 0), 2, 1))
    np.testing.assert_allclose(
        np.array(doc["upsampled"]["bilinear"])[[0, 0, 7, 7], [0, 7, 0, 7]], cmap[[0, 0, 3, 3], [0, 3, 0, 3]]
    )
    assert doc["target"] == 1 and doc["peak"]["layer"]["in_blob"] is True


def test_smooth_records_its_settings_and_differs_from_the_plain_map(run):
    doc = _doc(run, "--smooth", "8", "--probe", "noisy", "--seed", "2")
    x = np.array(doc["input"])
    assert doc["smooth"] == {
        "samples": 8,
        "sigma": pytest.approx(0.15 * (x.max() - x.min())),
        "noise_frac": 0.15,
        "seed": 2,
    }
    assert doc["channel_weights"] is None
    plain = _doc(run, "--probe", "noisy")
    assert not np.allclose(doc["map"], plain["map"])
    zero = _doc(run, "--smooth", "3", "--sigma", "0", "--probe", "noisy")
    np.testing.assert_allclose(zero["map"], plain["map"], rtol=1e-12)


def test_forced_target_uses_that_class_blob(run):
    doc = _doc(run, "--target", "1")
    blob = np.array(doc["blob"])
    assert doc["target"] == 1 and blob[5:, 5:].all() and blob.sum() == 9


def test_input_from_stdin(run):
    sample = run("sample", "--task", "blobs8x8", "--label", "1", "--seed", "4")
    doc = _doc(run, "--input", "-", input=sample.stdout_bytes)
    assert doc["label"] is None and doc["target"] == 1 and doc["peak"]["layer"]["in_blob"] is True


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--method", "cam", "--task", "blobs8x8"], "global_avg_pool"),
        (["--layer", "nope"], "no layer named"),
        (["--layer", "dense1"], "no spatial output"),
        (["--layer", "gap1"], "no spatial output"),
        (["--target", "5"], "out of range"),
        (["--smooth", "4", "--sigma", "-1"], "is not in the range 0 <= x"),
        (["--smooth", "4", "--noise-frac", "-0.1"], "is not in the range 0 <= x"),
        (["--sigma", "0.2"], "only applies with --smooth"),
        (["--smooth", "4", "--sigma", "0.1", "--noise-frac", "0.2"], "not both"),
        (["--method", "cam", "--layer", "conv1"], "feed global_avg_pool"),
    ],
)
def test_bad_options_are_one_line_and_exit_2(run, args, needle):
    result = run("cam", *args)
    assert result.exit_code == 2
    assert needle in result.stderr and "Traceback" not in result.stderr
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert result.stdout == ""
