"""The float32 compute mode, and the saliency report's one batch against each method on its own."""

from __future__ import annotations

import json

import numpy as np
import pytest

from saliency_cli.inputs import make_probe
from saliency_cli.methods import gradients as G
from saliency_cli.methods import integrated as IG
from saliency_cli.nn.layers import Conv2d, Dense, GlobalAvgPool, LeakyReLU
from saliency_cli.nn.network import Network
from saliency_cli.reports.saliency import saliency_report


def rel(a, b) -> float:
    return float(np.abs(np.asarray(a) - b).max() / np.abs(b).max())


def conv_net(size: int = 12, seed: int = 0) -> Network:
    rng = np.random.default_rng(seed)
    layers = [Conv2d(1, 4, 3, padding=1), LeakyReLU(0.1), Conv2d(4, 6, 3, padding=1), LeakyReLU(0.1)]
    layers += [GlobalAvgPool(), Dense(6, 3)]
    for layer in layers:
        for key, value in layer.params.items():
            layer.params[key] = rng.normal(0.0, 0.5, size=value.shape)
    return Network(layers, (1, size, size))


@pytest.mark.parametrize("which", ["blobs8x8", "blobs8x8-gap", "blobs6x6", "conv"])
def test_float32_maps_agree_with_float64_to_1e5_relative(which, shipped):
    net = conv_net() if which == "conv" else shipped(which)
    x = np.random.default_rng(1).uniform(size=(2, *net.input_shape))
    for method, options in [
        (G.saliency, {}),
        (G.smoothgrad, {"samples": 4}),
        (IG.integrated_gradients, {"steps": 20}),
        (IG.smooth_integrated_gradients, {"smooth": 2, "steps": 8}),
    ]:
        a64 = method(net, x, target=1, **options)
        a32 = method(net, x, target=1, dtype="float32", **options)
        assert a32.dtype == np.float64  # results stay float64 arrays; only the passes ran in float32
        assert 0 < rel(a32, a64) < 1e-5, method.__name__


def test_float32_completeness_is_that_of_the_float32_network(shipped):
    net = shipped("blobs8x8-gap")
    x = make_probe(net, "clean").x
    _, c64 = IG.integrated_gradients(net, x, steps=50, return_completeness=True)
    _, c32 = IG.integrated_gradients(net, x, steps=50, return_completeness=True, dtype="float32")
    assert float(c32.score_input) == float(np.float32(c32.score_input))  # a float32 score
    assert abs(float(c32.delta) - float(c64.delta)) < 1e-5 * abs(float(c64.delta))
    assert abs(float(c32.gap_abs) - float(c64.gap_abs)) < 1e-4 * abs(float(c64.delta))


def test_exact_ig_refuses_float32_and_the_network_copy_leaves_the_original_alone(shipped):
    net = shipped("blobs8x8")
    x = make_probe(net, "clean").x
    with pytest.raises(ValueError, match="float64"):
        IG.integrated_gradients(net, x, exact=True, dtype="float32")
    before = net.params_hash()
    net32 = net.astype("float32")
    assert net32 is net.astype(np.float32) and net.astype("float64") is net
    assert all(p.dtype == np.float32 for p in net32.parameters().values())
    assert all(p.dtype == np.float64 for p in net.parameters().values()) and net.params_hash() == before
    with pytest.raises(ValueError):
        net.astype("float16")


@pytest.mark.parametrize("quadrature", ["right", "gauss-legendre"])
def test_the_report_batch_gives_what_each_method_gives_alone(quadrature, shipped):
    net = shipped("blobs8x8-gap")
    probe = make_probe(net, "noisy")
    report = saliency_report(net, probe, target=1, steps=12, quadrature=quadrature, samples=5, baseline="mean")
    x = probe.x
    np.testing.assert_allclose(report.methods["vanilla"].signed, G.saliency(net, x, 1, abs=False), rtol=1e-12)
    sg = G.smoothgrad(net, x, 1, samples=5, sigma=report.methods["smoothgrad"].settings["sigma"])
    np.testing.assert_allclose(report.methods["smoothgrad"].attribution, sg, rtol=1e-12)
    ig, c = IG.integrated_gradients(
        net, x, 1, baseline="mean", steps=12, quadrature=quadrature, return_completeness=True
    )
    np.testing.assert_allclose(report.methods["integrated_gradients"].attribution, ig, rtol=1e-12, atol=1e-15)
    assert report.completeness.score_input == pytest.approx(float(c.score_input), rel=1e-13)
    assert report.completeness.score_baseline == pytest.approx(float(c.score_baseline), rel=1e-13)
    assert report.completeness.gap_abs == pytest.approx(float(c.gap_abs), rel=1e-9, abs=1e-13)
    assert report.score_value == pytest.approx(float(G.scores(net, x[None], [1])[0]), rel=1e-13)


def test_cli_dtype_float32_says_so_and_exact_ig_stays_float64(run):
    result = run("saliency", "--dtype", "float32", "--quadrature", "right", "--format", "json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["dtype"] == "float32" and doc["methods"]["integrated_gradients"]["dtype"] == "float32"
    assert doc["methods"]["integrated_gradients"]["completeness"]["gap_rel"] < 0.05
    ref = json.loads(run("saliency", "--quadrature", "right", "--format", "json").stdout)
    assert ref["dtype"] == "float64"
    a32 = np.array(doc["methods"]["smoothgrad"]["attribution"])
    a64 = np.array(ref["methods"]["smoothgrad"]["attribution"])
    assert 0 < rel(a32, a64) < 1e-5

    result = run("saliency", "--dtype", "float32", "--format", "json")
    assert result.exit_code == 0 and "exact IG computes in float64" in result.stderr
    doc = json.loads(result.stdout)
    assert doc["dtype"] == "float32" and doc["methods"]["integrated_gradients"]["dtype"] == "float64"


# -- cam and lrp ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["cam", "gradcam", "gradcam++"])
def test_cam_maps_in_float32_agree_with_float64_to_1e5_relative(method, shipped):
    from saliency_cli.methods.cam import class_maps, smooth_class_maps

    net = shipped("blobs8x8-gap")
    x = np.random.default_rng(2).uniform(size=(3, *net.input_shape))
    m64, m32 = class_maps(net, x, 1, method), class_maps(net, x, 1, method, dtype="float32")
    for name in ("logits", "activations", "raw") + (() if method == "cam" else ("gradients", "weights")):
        a32, a64 = getattr(m32, name), getattr(m64, name)
        assert a32.dtype == np.float64, name  # only the passes ran in float32
        assert 0 < rel(a32, a64) < 1e-5, name
    if method == "cam":  # the head's dense weights, read from the float64 network
        np.testing.assert_array_equal(m32.weights, m64.weights)
    s64 = smooth_class_maps(net, x, 1, method, samples=4)
    s32 = smooth_class_maps(net, x, 1, method, samples=4, dtype="float32")
    assert 0 < rel(s32.map, s64.map) < 1e-5


def test_cli_cam_dtype_float32_says_so(run):
    result = run("cam", "--methods", "gradcam++", "--dtype", "float32", "--format", "json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    ref = json.loads(run("cam", "--methods", "gradcam++", "--format", "json").stdout)
    assert doc["dtype"] == "float32" and ref["dtype"] == "float64"
    assert 0 < rel(doc["map_raw"], np.array(ref["map_raw"])) < 1e-5
    text = run("cam", "--dtype", "float32", "--no-color")
    assert text.exit_code == 0 and "compute     float32" in text.stdout
    assert "compute" not in run("cam", "--no-color").stdout


def test_cli_lrp_refuses_float32_and_takes_float64(run):
    refused = run("lrp", "--dtype", "float32")
    assert refused.exit_code == 2 and refused.stdout == ""
    assert refused.stderr.strip().count("\n") == 0 and "conservation ledger" in refused.stderr
    assert run("lrp", "--dtype", "float64", "--format", "json").stdout == run("lrp", "--format", "json").stdout


@pytest.mark.parametrize("command", ["saliency", "cam"])
@pytest.mark.parametrize("batch", [False, True])
def test_an_input_beyond_float32_is_refused_in_float32_not_explained_as_another(command, batch, run, tmp_path):
    """1e300 is a fine float64 input but infinite in float32: its forward pass there is inf - inf = NaN, which a
    ReLU made 0, so float32 explained a different input (logit 0.055, not 9e300) and said nothing."""
    x = np.full((3, 2, 8, 8) if batch else (2, 8, 8), 1e300)
    x[..., 0, 0] = 0.5
    np.save(tmp_path / "x.npy", x)
    task = ["--task", "blobs8x8"] if command == "saliency" else []
    result = run(command, *task, "--input", tmp_path / "x.npy", "--dtype", "float32", "--format", "json")
    assert result.exit_code == 2 and result.stdout == "", result.stdout[:200]
    assert result.stderr.count("\n") == 1 and "overflow float32" in result.stderr, result.stderr
    assert "x.npy[0]" in result.stderr if batch else "x.npy:" in result.stderr
    assert run(command, *task, "--input", tmp_path / "x.npy", "--format", "json").exit_code == 0  # float64 can


def test_a_baseline_beyond_float32_is_refused_in_float32(run, tmp_path):
    """Its score in float32 was that of another input (0.046 for 9e300), and IG's sum 0."""
    np.save(tmp_path / "b.npy", np.full((2, 8, 8), 1e300))
    args = ["saliency", "--task", "blobs8x8", "--methods", "ig", "--quadrature", "right"]
    args += ["--baseline", tmp_path / "b.npy"]
    result = run(*args, "--dtype", "float32")
    assert result.exit_code == 2 and result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(f"Error: --baseline {tmp_path / 'b.npy'}: ") and "overflow float32" in result.stderr
    assert run(*args).exit_code == 0
