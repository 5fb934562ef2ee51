"""CAM, Grad-CAM, Grad-CAM++ and features on imported graphs: PyTorch forward-hook references (float64, no torch)."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("onnx")

from saliency_cli.methods.cam import CamError, class_maps
from saliency_cli.methods.features import feature_maps
from saliency_cli.nn.modelfile import load_model

from .onnx_fixtures import FIXTURES, NAMES, reference, tool_input


def _gradcam_reference():
    with np.load(FIXTURES / "resnet_gradcam.npz") as data:
        return dict(data)


REF = _gradcam_reference()


@pytest.mark.parametrize("node", [str(n) for n in REF["nodes"]])
@pytest.mark.parametrize("method", ["gradcam", "gradcam++"])
def test_gradcam_at_a_named_node_equals_pytorch_forward_hooks(node, method):
    model = load_model(FIXTURES / "resnet.onnx")
    maps = class_maps(model, REF["x"], REF["targets"], method, layer=node)
    want = REF[f"{method}/{node}"]
    assert maps.raw.shape == want.shape
    assert np.abs(maps.raw - want).max() <= 1e-12 * np.abs(want).max()


def test_the_default_layer_is_the_last_spatial_node_and_cam_is_gradcam_times_the_pool_size():
    model = load_model(FIXTURES / "resnet.onnx")
    gradcam = class_maps(model, REF["x"], REF["targets"], "gradcam")
    assert model.layers[gradcam.maps_layer].name == "/l2/Relu_1"
    cam = class_maps(model, REF["x"], REF["targets"], "cam")
    assert cam.maps_layer == gradcam.maps_layer
    h, w = cam.raw.shape[1:]
    # the head is GlobalAveragePool -> Flatten -> Gemm: d logit / d A = W[c, k] / (h w) everywhere
    np.testing.assert_allclose(cam.raw, gradcam.raw * (h * w), rtol=1e-12, atol=1e-15 * np.abs(cam.raw).max())


def test_cam_refuses_a_graph_without_a_pooling_head():
    model = load_model(FIXTURES / "normalised.onnx")
    with pytest.raises(CamError, match="GlobalAveragePool"):
        class_maps(model, tool_input("normalised", reference("normalised")["x"]), method="cam")


@pytest.mark.parametrize("layer", [None, "/c/Gemm", "0"])
def test_a_model_without_feature_maps_says_so_not_to_pass_another_layer(layer):
    model = load_model(FIXTURES / "mlp.onnx")  # vectors only: no --layer can help
    with pytest.raises(CamError) as refused:
        class_maps(model, tool_input("mlp", reference("mlp")["x"]), method="gradcam", layer=layer)
    message = str(refused.value)
    assert "pass --layer" not in message and not message.rstrip().endswith(":"), message
    assert "this model has none" in message or "has no feature maps" in message, message


@pytest.mark.parametrize("name", [n for n in NAMES if n != "mlp"])
def test_features_of_any_node_are_its_output(name):
    model = load_model(FIXTURES / f"{name}.onnx")
    x = tool_input(name, reference(name)["x"])
    want = model.forward(x)
    spatial = [i for i, s in enumerate(model.shapes) if len(s) == 3]
    for i in spatial:
        got = feature_maps(model, x[0], model.layers[i].name)
        model.forward(x[:1])
        assert np.array_equal(got.maps, model.outputs[i][0])
        np.testing.assert_allclose(got.logits, want[0], rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("name", NAMES)
def test_cam_features_cost_and_lrp_commands_run_on_every_fixture(name, run, tmp_path):
    x = tool_input(name, reference(name)["x"])[0]
    np.save(tmp_path / "x.npy", x)
    model = FIXTURES / f"{name}.onnx"
    result = run("lrp", "--model", model, "--input", tmp_path / "x.npy", "--format", "json")
    assert result.exit_code == 0, result.stderr
    # cost: an imported model (a graph, or a chain on the sequential engine) is timed on a random input
    result = run("cost", "--model", model, "--methods", "vanilla,lrp,gradcam", "--repeats", "1", "--format", "json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["scaling"]["random_input"] and doc["input_shape"] == list(load_model(model).input_shape)
    rows = {row["method"]: row for row in doc["methods"]}
    assert rows["vanilla"]["seconds"] > 0 and rows["lrp"]["seconds"] > 0
    assert (rows["gradcam"]["skipped"] is None) == (name != "mlp")
    if name == "mlp":  # vectors only: no feature maps, refused in one line
        result = run("cam", "--model", model, "--input", tmp_path / "x.npy")
        assert result.exit_code == 2 and result.stderr.count("\n") == 1 and "spatial output" in result.stderr
        result = run("features", "--model", model, "--input", tmp_path / "x.npy")  # as on the tool's dense models
        assert (
            result.exit_code == 2 and result.stderr.count("\n") == 1 and "no layer with feature maps" in result.stderr
        )
        return
    for args in (("cam", "--methods", "gradcam,gradcam++"), ("features",)):
        result = run(*args, "--model", model, "--input", tmp_path / "x.npy", "--format", "json")
        assert result.exit_code == 0, (args, result.stderr)
