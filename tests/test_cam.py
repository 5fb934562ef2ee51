"""CAM, Grad-CAM, Grad-CAM++ and upsampling: identities, hand-written formulas, finite differences."""

from __future__ import annotations

import numpy as np
import pytest

from saliency_cli.inputs import Probe
from saliency_cli.methods import cam as C
from saliency_cli.nn.layers import Conv2d, Dense, GlobalAvgPool, LeakyReLU, ReLU, Softmax
from saliency_cli.nn.network import Network
from saliency_cli.reports.cam import cam_report
from saliency_cli.tasks import TASKS

from .gradcheck import numerical_gradient, relative_error


def gap_network(rng, c=2, h=5, w=6, widths=(3, 4), act=LeakyReLU, classes=3) -> Network:
    """conv -> act -> ... -> global_avg_pool -> dense (logits) -> softmax, random weights and biases."""
    layers, ch = [], c
    for out in widths:
        layers += [Conv2d(ch, out, 3, 1, 1), act()]
        ch = out
    layers += [GlobalAvgPool(), Dense(ch, classes), Softmax()]
    for layer in layers:
        for key, value in layer.params.items():
            layer.params[key] = rng.normal(scale=0.7, size=value.shape)
    return Network(layers, (c, h, w))


@pytest.mark.parametrize("seed", range(6))
def test_gradcam_is_cam_over_hw_on_random_gap_networks(seed):
    rng = np.random.default_rng(seed)
    net = gap_network(rng, act=LeakyReLU if seed % 2 else ReLU)
    x = rng.normal(size=(4, 2, 5, 6))
    for target in range(3):
        cam = C.class_maps(net, x, target, "cam")
        grad = C.class_maps(net, x, target, "gradcam")
        assert grad.maps_layer == cam.maps_layer == len(net.layers) - 4  # the activation feeding GAP
        # alpha_k = W[c, k] / (h w), so Grad-CAM's pre-ReLU map is CAM's divided by h w = 30.
        np.testing.assert_allclose(grad.weights * 30, net.layers[-2].params["weight"][[target] * 4], rtol=1e-12)
        np.testing.assert_allclose(grad.raw * 30, cam.raw, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(grad.map * 30, cam.map, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("probe", ["clean", "noisy"])
@pytest.mark.parametrize("target", [0, 1])
def test_gradcam_is_cam_over_64_on_the_shipped_gap_model(shipped, probe, target):
    net = shipped("blobs8x8-gap")
    x = TASKS["blobs8x8-gap"].probe(probe)[0]
    cam = C.class_maps(net, x, target, "cam")
    grad = C.class_maps(net, x, target, "gradcam")
    assert (net.layers[cam.layer].name, net.layers[cam.maps_layer].name) == ("conv3", "lrelu3")
    assert (grad.layer, grad.maps_layer) == (cam.layer, cam.maps_layer)
    factor = cam.raw / np.where(grad.raw == 0, np.nan, grad.raw)
    np.testing.assert_allclose(factor[np.isfinite(factor)], 64.0, rtol=1e-9)
    assert np.abs(grad.raw * 64 - cam.raw).max() <= 1e-10 * np.abs(cam.raw).max()


def test_gradcam_pp_matches_the_per_position_formula_on_random_maps(rng):
    a = rng.normal(size=(2, 3, 4, 5))
    g = rng.normal(size=(2, 3, 4, 5))
    g[0, 0, 1, 2] = 0.0  # alpha must be 0 where g is 0
    g[1, 2, 0, 0] = -0.0
    # a pole: 2 + g * sum(A) = 0 with g != 0 (the denominator vanishes); alpha is defined as 0 there.
    # Integer maps summing to 4 and g = -1/2 make the pole exact in any summation order.
    a[1, 1] = rng.integers(-3, 4, size=(4, 5))
    a[1, 1, 0, 0] += 4 - a[1, 1].sum()
    g[1, 1, 3, 4] = -0.5
    alpha = np.zeros_like(g)
    weights = np.zeros((2, 3))
    for n in range(2):
        for k in range(3):
            total = sum(a[n, k, i, j] for i in range(4) for j in range(5))
            for i in range(4):
                for j in range(5):
                    gij = g[n, k, i, j]
                    den = 2 * gij**2 + total * gij**3
                    alpha[n, k, i, j] = gij**2 / den if den != 0 else 0.0
                    weights[n, k] += alpha[n, k, i, j] * max(gij, 0.0)
    np.testing.assert_allclose(C.gradcam_pp_alpha(a, g), alpha, rtol=1e-12)
    assert C.gradcam_pp_alpha(a, g)[0, 0, 1, 2] == 0.0 and C.gradcam_pp_alpha(a, g)[1, 1, 3, 4] == 0.0
    np.testing.assert_allclose(C.gradcam_pp_weights(a, g), weights, rtol=1e-12)
    assert np.all(np.isfinite(C.gradcam_pp_weights(a, g)))


def test_gradcam_pp_map_is_relu_of_weighted_feature_maps(shipped):
    net = shipped("blobs8x8-gap")
    x = TASKS["blobs8x8-gap"].probe("noisy")[0]
    r = C.class_maps(net, x, 1, "gradcam++")
    w = C.gradcam_pp_weights(r.activations, r.gradients)[0]
    expected = sum(w[k] * r.activations[0, k] for k in range(len(w)))
    np.testing.assert_allclose(r.raw[0], expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(C.gradcam_plus_plus(net, x, target=1), np.maximum(r.raw[0], 0))


@pytest.mark.parametrize("layer", ["conv1", "lrelu2", "conv2", "conv3", "pool1"])
def test_layer_gradient_matches_finite_differences(rng, layer):
    widths = (3, 4, 2)
    net = gap_network(rng, widths=widths)
    if layer == "pool1":  # a non-conv spatial layer: its own output is used
        from saliency_cli.nn.layers import MaxPool2d

        net = Network([*net.layers[:2], MaxPool2d(2, 1), *net.layers[2:]], net.input_shape)
    x = rng.normal(size=(1, 2, 5, 6))
    _, maps_at = C.resolve_layer(net, layer)
    expected_maps = {"conv1": "lrelu1", "lrelu2": "lrelu2", "conv2": "lrelu2", "conv3": "lrelu3", "pool1": "pool1"}
    assert net.layers[maps_at].name == expected_maps[layer]
    target = 2
    _, a, g = C.layer_gradients(net, x, np.array([target]), maps_at)
    a = a.copy()

    def logit(z):
        for lyr in net.layers[maps_at + 1 : net.logit_index + 1]:
            z = lyr.forward(z)
        return float(z[0, target])

    numeric = numerical_gradient(logit, a)
    assert relative_error(g, numeric) < 1e-6, f"d logit / d {net.layers[maps_at].name}"


def test_nearest_upsampling_repeats_cells(rng):
    m = rng.normal(size=(2, 4, 3))
    up = C.upsample_nearest(m, (8, 9))
    np.testing.assert_array_equal(up, np.repeat(np.repeat(m, 2, axis=1), 3, axis=2))
    np.testing.assert_array_equal(C.upsample_nearest(m, (4, 3)), m)
    # non-integer factor: cell centres, every output cell copies one input cell
    assert C.nearest_index(5, 2).tolist() == [0, 0, 1, 1, 1]
    assert C.nearest_index(3, 1).tolist() == [0, 0, 0]


def test_bilinear_upsampling_is_exact_on_constants_and_linear_ramps():
    np.testing.assert_allclose(C.upsample_bilinear(np.full((3, 4), 2.5), (7, 11)), 2.5, rtol=0, atol=1e-15)
    rows, cols = np.mgrid[0:3, 0:4].astype(float)
    ramp = 0.5 * rows - 2.0 * cols + 1.0
    up = C.upsample_bilinear(ramp, (7, 10))
    # align corners: output (i, j) sits at source (i * 2/6, j * 3/9)
    r, c = np.mgrid[0:7, 0:10]
    np.testing.assert_allclose(up, 0.5 * r * 2 / 6 - 2.0 * c * 3 / 9 + 1.0, rtol=0, atol=1e-12)
    assert up[0, 0] == ramp[0, 0] and up[-1, -1] == ramp[-1, -1]  # corners coincide exactly
    # a bump is interpolated, not repeated: midway between cells is the mean of the two
    bump = np.array([[0.0, 4.0]])
    np.testing.assert_allclose(C.upsample_bilinear(bump, (1, 5)), [[0, 1, 2, 3, 4]])
    np.testing.assert_array_equal(C.upsample_bilinear(np.array([[3.0]]), (2, 2)), np.full((2, 2), 3.0))


@pytest.mark.parametrize("method", sorted(C.CAM_METHODS))
def test_peak_for_the_clean_probe_lies_in_the_class_0_region(shipped, method):
    net = shipped("blobs8x8-gap")
    x, label, mask = TASKS["blobs8x8-gap"].probe("clean")
    report = cam_report(net, Probe(x, "clean", label, mask), method=method)
    assert report.target == 0 and report.blob is not None
    assert report.blob[:3, :3].all() and report.blob.sum() == 9
    for peak in (report.peak_layer, report.peak_input):
        assert 0 <= peak.x <= 2 and 0 <= peak.y <= 2 and peak.in_blob is True
    assert report.weights_unchanged


def test_noisy_probe_peak_lies_in_the_class_1_region(shipped):
    net = shipped("blobs8x8-gap")
    x, label, mask = TASKS["blobs8x8-gap"].probe("noisy")
    report = cam_report(net, Probe(x, "noisy", label, mask), method="gradcam")
    assert report.target == 1 and 5 <= report.peak_layer.x <= 7 and 5 <= report.peak_layer.y <= 7
    assert report.peak_layer.in_blob is True


def test_cam_refuses_a_model_without_a_gap_head(shipped):
    net = shipped("blobs8x8")
    x = TASKS["blobs8x8"].probe("clean")[0]
    with pytest.raises(C.CamError, match="global_avg_pool"):
        C.class_activation_map(net, x)
    # Grad-CAM works on it; the default layer is conv1 (the last conv wider than 1x1), maps after relu1
    r = C.class_maps(net, x, None, "gradcam")
    assert (net.layers[r.layer].name, net.layers[r.maps_layer].name) == ("conv1", "relu1")


def test_layer_errors(shipped):
    net = shipped("blobs8x8-gap")
    with pytest.raises(C.CamError, match="no layer named"):
        C.resolve_layer(net, "conv9")
    with pytest.raises(C.CamError, match="no spatial output"):
        C.resolve_layer(net, "dense1")
    with pytest.raises(C.CamError, match="out of range"):
        C.resolve_layer(net, 42)
    with pytest.raises(C.CamError, match="feed global_avg_pool"):
        C.class_maps(net, TASKS["blobs8x8-gap"].probe("clean")[0], None, "cam", layer="conv1")
    assert C.resolve_layer(net, "-5") == (4, 5)  # negative index counts from the end (conv3)


def test_smoothing_with_sigma_zero_is_the_plain_map_and_batches_equal_single_copies(shipped):
    net = shipped("blobs8x8-gap")
    x = TASKS["blobs8x8-gap"].probe("noisy")[0]
    plain = C.class_maps(net, x, 1, "gradcam++")
    zero = C.smooth_class_maps(net, x, 1, "gradcam++", samples=3, sigma=0.0)
    np.testing.assert_allclose(zero.map, plain.map[0], rtol=1e-12)
    sm = C.smooth_class_maps(net, x, 1, "gradcam", samples=5, noise_frac=0.15, seed=3)
    assert sm.sigma == pytest.approx(0.15 * (x.max() - x.min()))
    eta = np.random.default_rng(3).standard_normal((5, *x.shape))
    one_by_one = [C.gradcam(net, x + sm.sigma * eta[k], target=1) for k in range(5)]
    np.testing.assert_allclose(sm.map, np.mean(one_by_one, axis=0), rtol=1e-10)
    assert not np.allclose(sm.map, C.gradcam(net, x, target=1))
    with pytest.raises(ValueError, match="sigma"):
        C.smooth_class_maps(net, x, 1, sigma=-1.0)


def test_weights_unchanged(shipped):
    net = shipped("blobs8x8-gap")
    before = net.params_hash()
    x = TASKS["blobs8x8-gap"].probe("clean")[0]
    for method in C.CAM_METHODS:
        C.class_maps(net, x, 1, method)
    C.smooth_class_maps(net, x, 0, "gradcam", samples=4)
    assert net.params_hash() == before
