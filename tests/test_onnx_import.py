"""ONNX import: the committed fixtures against onnx's reference evaluator and PyTorch autograd (float64)."""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")

from saliency_cli.methods.gradients import saliency  # noqa: E402
from saliency_cli.methods.integrated import integrated_gradients  # noqa: E402
from saliency_cli.nn.graph import Graph  # noqa: E402
from saliency_cli.nn.modelfile import load_model, save_model  # noqa: E402
from saliency_cli.nn.network import Network  # noqa: E402

from .gradcheck import relative_error  # noqa: E402
from .onnx_fixtures import FIXTURES, NAMES, PIECEWISE_LINEAR, as_float64, graph_input, reference, tool_input  # noqa: E402


def _model(name):
    return load_model(FIXTURES / f"{name}.onnx")


def _evaluate(model, x):
    from onnx.reference import ReferenceEvaluator

    sess = ReferenceEvaluator(model)
    feed = {sess.input_names[0]: x}
    return sess.run(None, feed)


def _logits_model(model):
    """The model's graph with the logits (the tool's explained tensor) as its only output."""
    net_logits = None
    for node in model.graph.node:
        if node.op_type == "Softmax":
            net_logits = node.input[0]
    if net_logits is None:
        return model
    model = onnx.ModelProto.FromString(model.SerializeToString())
    del model.graph.output[:]
    model.graph.output.append(onnx.helper.make_tensor_value_info(net_logits, onnx.TensorProto.FLOAT, None))
    return model


@pytest.mark.parametrize("name", NAMES)
def test_float64_logits_equal_the_reference_evaluator_on_the_float64_graph(name):
    ref = reference(name)
    net = _model(name)
    model = as_float64(_logits_model(onnx.load(FIXTURES / f"{name}.onnx")))
    x = ref["x"]
    expected = _evaluate(model, graph_input(name, tool_input(name, x)).astype(np.float64))[0]
    got = net.predict_logits(tool_input(name, x))
    assert relative_error(got, expected) <= 1e-12


@pytest.mark.parametrize("name", NAMES)
def test_float32_logits_equal_the_reference_evaluator_to_float32_round_off(name):
    ref = reference(name)
    net = _model(name).astype("float32")
    model = _logits_model(onnx.load(FIXTURES / f"{name}.onnx"))
    x = tool_input(name, ref["x"]).astype(np.float32)
    expected = _evaluate(model, graph_input(name, x))[0]
    got = net.predict_logits(x)
    assert got.dtype == np.float32
    # a few dozen float32 roundings along the longest path, each at most 2^-24 relative
    assert relative_error(got.astype(np.float64), expected.astype(np.float64)) <= 64 * 2.0**-24


@pytest.mark.parametrize("name", NAMES)
def test_input_gradients_and_ig_equal_pytorch_autograd_in_float64(name):
    ref = reference(name)
    net = _model(name)
    x, t = tool_input(name, ref["x"]), ref["targets"]
    assert relative_error(net.predict_logits(x), ref["logits"]) <= 1e-12
    assert relative_error(saliency(net, x, t, abs=False), ref["grad"].reshape(x.shape)) <= 1e-12
    ig = integrated_gradients(net, x, t, steps=16, quadrature="right")
    assert relative_error(ig, ref["ig_right_16"].reshape(x.shape)) <= 1e-12
    gl = integrated_gradients(net, x, t, steps=8, quadrature="gauss-legendre")
    assert relative_error(gl, ref["ig_gauss-legendre_8"].reshape(x.shape)) <= 1e-12


@pytest.mark.parametrize("name", PIECEWISE_LINEAR)
def test_exact_ig_on_imported_graphs_is_complete(name):
    ref = reference(name)
    net = _model(name)
    x = tool_input(name, ref["x"])
    ig, check = integrated_gradients(net, x, ref["targets"], exact=True, return_completeness=True)
    assert np.all(check.pieces > 1)
    assert np.all(np.abs(ig.reshape(len(x), -1).sum(axis=1) - check.delta) <= 1e-12 * np.abs(check.delta).max())
    if name in ("keras_nhwc", "normalised"):  # (small inputs: a fine quadrature is cheap)
        # and agrees with a fine quadrature, whose error is O(1/K) on a piecewise-linear path
        fine = integrated_gradients(net, x, ref["targets"], steps=4000, quadrature="middle")
        assert relative_error(ig, fine) < 1e-3


@pytest.mark.parametrize("name", ("avgconcat", "mlp"))
def test_exact_ig_refuses_naming_the_smooth_node(name):
    net = _model(name)
    x = tool_input(name, reference(name)["x"])
    with pytest.raises(ValueError, match=r"node /Tanh \(Tanh\) is not piecewise linear"):
        integrated_gradients(net, x, 0, exact=True)


def test_chains_of_layer_types_become_networks_and_others_graphs():
    assert type(_model("lenet")) is Network
    for name in ("resnet", "mlp", "normalised", "avgconcat", "keras_nhwc"):
        assert isinstance(_model(name), Graph)


@pytest.mark.parametrize("name", NAMES)
def test_convert_gives_the_same_maps_bit_for_bit(name, tmp_path):
    net = _model(name)
    save_model(net, tmp_path / "m.npz")
    back = load_model(tmp_path / "m.npz")
    x = tool_input(name, reference(name)["x"])
    t = reference(name)["targets"]
    assert np.array_equal(saliency(back, x, t, abs=False), saliency(net, x, t, abs=False))
    assert np.array_equal(integrated_gradients(back, x, t, steps=8), integrated_gradients(net, x, t, steps=8))
    assert back.params_hash() == net.params_hash()
    assert back.astype("float32").predict_logits(x).dtype == np.float32


def test_notes_say_what_is_explained():
    assert any("final Softmax" in n for n in _model("lenet").notes)
    assert any("NHWC" in n for n in _model("keras_nhwc").notes)
    assert any("[1, 1, 20]" in n for n in _model("mlp").notes)
