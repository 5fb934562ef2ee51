"""evaluate and explore on imported graphs; MPRT's re-initialisation of a graph's learned parameters."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("onnx")

from saliency_cli.evaluation.sanity import mprt_models, parameter_layers, randomised
from saliency_cli.nn.modelfile import load_model

from .onnx_fixtures import FIXTURES, reference, tool_input
from .svgtext import svg_lines


def test_mprt_redraws_learned_parameters_in_reverse_topological_order_keeping_running_statistics():
    model = load_model(FIXTURES / "resnet.onnx")
    order = [model.layers[i].name for i in parameter_layers(model)]
    with_params = [n.name for n in model.layers if n.type in ("Conv", "Gemm", "BatchNormalization")]
    assert order == with_params[::-1]
    # the residual block's shortcut (written last in the file) is re-drawn before its main branch
    assert order.index("/l2/down/down.0/Conv") < order.index("/l2/c2/Conv")
    x = tool_input("resnet", reference("resnet")["x"])
    want = model.forward(x).copy()
    for i in parameter_layers(model):
        fresh = randomised(model, [i], seed=0)
        node, old = fresh.layers[i], model.layers[i]
        if node.type == "BatchNormalization":
            assert np.array_equal(node.params["mean"], old.params["mean"])
            assert np.array_equal(node.params["var"], old.params["var"])
            assert not np.array_equal(node.params["scale"], old.params["scale"])
        else:
            assert not np.array_equal(node.params["weight"], old.params["weight"])
        got = fresh.forward(x)
        assert np.isfinite(got).all() and not np.allclose(got, want)
    assert np.array_equal(model.forward(x), want)  # the original is untouched
    steps = mprt_models(model)
    assert [label for label, _ in steps] == order


def test_evaluate_runs_on_an_imported_graph(run, tmp_path):
    np.save(tmp_path / "x.npy", tool_input("resnet", reference("resnet")["x"]))
    args = ["--methods", "vanilla,lrp:epsilon,gradcam", "--draws", "1", "--steps", "4", "--format", "json"]
    result = run("evaluate", "--model", FIXTURES / "resnet.onnx", "--input", tmp_path / "x.npy", *args)
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["command"] == "evaluate"
    text = json.dumps(doc)
    assert "/stem/stem.0/Conv" in text and "lrp:epsilon" in text


def test_explore_draws_an_imported_graph(run, tmp_path):
    np.save(tmp_path / "x.npy", tool_input("resnet", reference("resnet")["x"]))
    out = tmp_path / "s.svg"
    model = FIXTURES / "resnet.onnx"
    result = run("explore", "--model", model, "--input", tmp_path / "x.npy", "--index", "1", "--screenshot", out)
    assert result.exit_code == 0, result.stderr
    assert "sample 1 of 0..1" in "\n".join(svg_lines(out.read_text()))
