"""What is explained (scores), channel reduction, batch reports and SmoothGrad over IG: library level."""

from __future__ import annotations

import numpy as np
import pytest

from saliency_cli.attribution import integrated_gradients, saliency, smoothgrad
from saliency_cli.errors import UserError
from saliency_cli.inputs import Probe
from saliency_cli.methods.gradients import reduce_channels, score_gradient
from saliency_cli.methods.integrated import smooth_integrated_gradients
from saliency_cli.methods.scores import (
    ClassLogit,
    LayerUnit,
    LogitDifference,
    as_score,
    parse_unit,
)
from saliency_cli.reports.saliency import ReportOptions, saliency_report, saliency_reports
from saliency_cli.tasks import TASKS

from .gradcheck import numerical_gradient, relative_error
from .netgen import piece_of


def _batch(n=6, seed=1, noise=0.3):
    x, y, _ = TASKS["blobs8x8"].sample(n, np.random.default_rng(seed), noise=noise)
    return x, y


# -- channel reduction --------------------------------------------------------------------------


def test_reduce_max_and_mean_are_over_channels_of_the_absolute_gradient(shipped):
    net = shipped("blobs8x8")
    x, _ = _batch(3)
    g = saliency(net, x, abs=False)
    want_max, want_mean = np.zeros((3, 1, 8, 8)), np.zeros((3, 1, 8, 8))
    for n in range(3):  # hand-written: per pixel, over the two channels
        for i in range(8):
            for j in range(8):
                want_max[n, 0, i, j] = max(abs(g[n, 0, i, j]), abs(g[n, 1, i, j]))
                want_mean[n, 0, i, j] = (abs(g[n, 0, i, j]) + abs(g[n, 1, i, j])) / 2
    np.testing.assert_array_equal(reduce_channels(g, "max"), want_max)
    np.testing.assert_allclose(reduce_channels(g, "mean"), want_mean, rtol=1e-15)
    np.testing.assert_array_equal(reduce_channels(g[0], "none"), g[0])
    with pytest.raises(ValueError, match="reduction"):
        reduce_channels(g, "sum")


@pytest.mark.parametrize("how", ["max", "mean"])
def test_report_maps_are_reduced_and_keep_a_channel_axis(how, shipped):
    net = shipped("blobs8x8")
    x, label, mask = TASKS["blobs8x8"].probe("clean")
    r = saliency_report(net, Probe(x, "clean", label, mask), reduce=how, quadrature="exact")
    g = saliency(net, x, abs=False)
    reduce = np.max if how == "max" else np.mean
    np.testing.assert_allclose(r.methods["vanilla"].attribution, reduce(np.abs(g), axis=0, keepdims=True))
    # the signed gradient stays (C, H, W); the report's rows go through in one batch with SmoothGrad's, so
    # it equals the single-row gradient to round-off
    np.testing.assert_allclose(r.methods["vanilla"].signed, g, rtol=1e-12, atol=1e-15)
    ig = integrated_gradients(net, x, quadrature="exact")
    np.testing.assert_allclose(r.methods["integrated_gradients"].attribution, reduce(np.abs(ig), axis=0)[None])
    for result in r.methods.values():
        assert result.attribution.shape == (1, 8, 8) and result.mass.shape == (1,)
    assert r.top_k[0]["channel"] is None and r.top_k[0]["value"] == pytest.approx(
        r.methods["vanilla"].attribution.max()
    )
    assert r.completeness.gap_rel < 1e-12  # completeness is of the unreduced map


# -- scores -------------------------------------------------------------------------------------


@pytest.mark.parametrize("target, against", [(0, 1), (1, 0)])
def test_logit_diff_is_the_difference_of_the_two_signed_saliency_maps(target, against, shipped):
    net = shipped("blobs8x8")
    x, _ = _batch(4)
    diff = saliency(net, x, target=target, abs=False, score=LogitDifference(against))
    want = saliency(net, x, target=target, abs=False) - saliency(net, x, target=against, abs=False)
    np.testing.assert_allclose(diff, want, rtol=1e-13, atol=1e-15)
    _, values = score_gradient(net, x, np.full(4, target), LogitDifference(against))
    z = net.predict_logits(x)
    np.testing.assert_allclose(values, z[:, target] - z[:, against], rtol=1e-14)


@pytest.mark.parametrize(
    "layer, unit",
    [("conv1", (3, 2, 1)), ("conv1", 77), (2, (5, 1, 3)), ("dense1", 7), ("relu2", 3), ("dense2", 1), ("softmax1", 0)],
)
def test_unit_gradient_equals_finite_differences_of_that_unit(layer, unit, shipped):
    net = shipped("blobs8x8")
    x = TASKS["blobs8x8"].probe("noisy")[0]
    score = LayerUnit(layer, unit)
    stop = score.stop(net)
    k = score.flat_unit(net)

    def f(v):
        return float(net.forward(v[None], stop=stop)[0].ravel()[k])

    g, values = score_gradient(net, x[None], [0], score)
    assert values[0] == pytest.approx(f(x), rel=1e-14)
    piece = piece_of(net, stop)
    numeric = numerical_gradient(f, x.copy(), h=1e-4, piece=lambda v: piece(v[None]))
    assert relative_error(g[0], numeric) < 1e-7, (layer, unit)


def test_unit_as_tuple_and_flat_index_are_the_same_unit(shipped):
    net = shipped("blobs8x8")
    x, _ = _batch(3)
    flat = int(np.ravel_multi_index((3, 2, 1), net.shapes[0]))
    a = saliency(net, x, abs=False, score=LayerUnit("conv1", (3, 2, 1)))
    np.testing.assert_array_equal(a, saliency(net, x, abs=False, score=LayerUnit(0, flat)))
    # conv1 is linear: d unit / d x is the filter, placed at the unit's position (padding 1)
    w = net.layers[0].params["weight"][3]  # (2, 3, 3)
    want = np.zeros((2, 10, 10))
    want[:, 2:5, 1:4] = w  # output (y=2, x=1) sees padded rows 2..4, columns 1..3
    np.testing.assert_array_equal(a[0], want[:, 1:9, 1:9])  # exact: one nonzero term per sum, in any order


@pytest.mark.parametrize(
    "score",
    [LogitDifference(1), LayerUnit("dense1", 5), LayerUnit("conv1", (2, 4, 4)), LayerUnit("pool1", (6, 1, 2))],
    ids=["logit-diff", "dense1 unit", "conv1 unit", "pool1 unit"],
)
def test_exact_ig_completeness_at_round_off_for_any_linear_score(score, shipped):
    net = shipped("blobs8x8")
    x, _ = _batch(5, seed=2)
    ig, c = integrated_gradients(net, x, target=0, score=score, exact=True, return_completeness=True)
    assert np.all(c.gap_abs <= 1e-12 * np.maximum(1.0, np.abs(c.delta))), c.gap_abs
    right = integrated_gradients(net, x, target=0, score=score, steps=4000, quadrature="middle")
    np.testing.assert_allclose(ig, right, atol=2e-3 * np.abs(ig).max())


def test_exact_ig_refuses_a_unit_after_a_softmax_and_the_probability(shipped):
    net = shipped("blobs8x8")
    x = TASKS["blobs8x8"].probe("clean")[0]
    with pytest.raises(UserError, match="softmax1"):
        integrated_gradients(net, x, score=LayerUnit("softmax1", 0), exact=True)
    with pytest.raises(UserError, match="not piecewise linear"):
        integrated_gradients(net, x, score="probability", exact=True)


def test_score_objects_check_themselves(shipped):
    net = shipped("blobs8x8")
    with pytest.raises(UserError, match="same as --against"):
        LogitDifference(1).check(net, np.array([0, 1]))
    with pytest.raises(UserError, match="out of range"):
        LogitDifference(5).check(net)
    with pytest.raises(UserError, match=r"units 0\.\.15"):
        LayerUnit("dense1", 16).check(net)
    with pytest.raises(UserError, match="shape 8x8x8"):
        LayerUnit("conv1", (1, 2)).check(net)
    with pytest.raises(UserError, match="no layer named"):
        LayerUnit("conv9", 0).check(net)
    with pytest.raises(ValueError, match="needs parameters"):
        as_score("logit-diff")
    assert as_score("logit") == ClassLogit() and parse_unit("3,2,1") == (3, 2, 1) and parse_unit("7") == 7
    with pytest.raises(ValueError):
        parse_unit("a,1")


# -- batches equal probes one by one -------------------------------------------------------------


@pytest.mark.parametrize("quadrature", ["exact", "right"])
@pytest.mark.parametrize("per_probe_targets", [False, True])
def test_batch_reports_equal_the_per_probe_reports(quadrature, per_probe_targets, shipped):
    net = shipped("blobs8x8")
    x, y = _batch(7, seed=5)
    targets = (1 - y) if per_probe_targets else None  # the *other* class: not the prediction
    options = ReportOptions(quadrature=quadrature, steps=9, samples=5, reduce="none", batch_size=11)
    probes = [Probe(x[i], f"b[{i}]") for i in range(len(x))]
    batch = saliency_reports(net, probes, targets, options, block=3)
    for i, r in enumerate(batch):
        one = saliency_report(net, probes[i], target=None if targets is None else int(targets[i]), **vars(options))
        assert r.target == one.target == (int(targets[i]) if per_probe_targets else one.predicted)
        for key, m in one.methods.items():
            np.testing.assert_allclose(r.methods[key].attribution, m.attribution, rtol=1e-12, atol=1e-14, err_msg=key)
        assert [(p["channel"], p["x"], p["y"]) for p in r.top_k] == [(p["channel"], p["x"], p["y"]) for p in one.top_k]
        np.testing.assert_allclose([p["value"] for p in r.top_k], [p["value"] for p in one.top_k], rtol=1e-13)
        assert r.completeness.pieces == one.completeness.pieces
        assert r.completeness.score_input == pytest.approx(one.completeness.score_input, rel=1e-14)
        assert r.score_value == pytest.approx(one.score_value, rel=1e-14)


# -- SmoothGrad over IG -------------------------------------------------------------------------


@pytest.mark.parametrize("quadrature", ["right", "exact"])
def test_smooth_ig_with_sigma_zero_is_ig(quadrature, shipped):
    net = shipped("blobs8x8")
    x, _ = _batch(3)
    ig, c = integrated_gradients(net, x, steps=6, quadrature=quadrature, return_completeness=True)
    sm, cs = smooth_integrated_gradients(
        net, x, smooth=4, sigma=0.0, steps=6, quadrature=quadrature, return_completeness=True
    )
    np.testing.assert_allclose(sm, ig, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(cs.score_input, c.score_input, rtol=1e-14)
    np.testing.assert_allclose(cs.score_clean, c.score_input, rtol=1e-14)


def test_smooth_ig_is_the_mean_of_ig_over_the_noisy_copies(shipped):
    net = shipped("blobs8x8")
    x = TASKS["blobs8x8"].probe("clean")[0]
    eta = np.random.default_rng(9).standard_normal((5, *x.shape))
    maps, deltas = [], []
    for k in range(5):  # by hand: one noisy copy at a time, baseline zero, target 0
        ig, c = integrated_gradients(net, x + 0.2 * eta[k], target=0, exact=True, return_completeness=True)
        maps.append(ig)
        deltas.append(float(c.delta))
    sm, c = smooth_integrated_gradients(
        net, x, target=0, smooth=5, sigma=0.2, seed=9, exact=True, return_completeness=True
    )
    np.testing.assert_allclose(sm, np.mean(maps, axis=0), rtol=1e-10, atol=1e-13)
    assert float(c.delta) == pytest.approx(np.mean(deltas), rel=1e-12)  # completeness vs the copies' mean
    assert float(c.gap_abs) < 1e-12
    assert float(c.score_clean) == pytest.approx(net.predict_logits(x[None])[0, 0], rel=1e-14)


def test_smoothgrad_and_smooth_ig_share_their_noise(shipped):
    net = shipped("blobs8x8")
    x, _ = _batch(2)
    a = smoothgrad(net, x, target=0, samples=3, sigma=0.1, seed=4, abs=False)
    b = smooth_integrated_gradients(net, x, target=0, smooth=3, sigma=0.1, seed=4, steps=1)  # one step: grad * x
    eta = np.random.default_rng(4).standard_normal((3, *x.shape[1:]))
    copies = x[:, None] + 0.1 * eta[None]
    rows = copies.reshape(-1, 2, 8, 8)
    grads = saliency(net, rows, target=0, abs=False)
    np.testing.assert_allclose(b, (grads * rows).reshape(2, 3, 2, 8, 8).mean(axis=1), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(a, grads.reshape(2, 3, 2, 8, 8).mean(axis=1), rtol=1e-12, atol=1e-15)
