"""Deletion, insertion and ABPC: hand-computed curves on a linear model, substrates, step-count invariance."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from saliency_cli.evaluation import faithfulness as F
from saliency_cli.evaluation import substrates
from saliency_cli.nn.layers import LAYER_TYPES, Dense, Softmax
from saliency_cli.nn.network import Network


def sum_model(weights, shape=(1, 2, 2)) -> Network:
    """logit_0 = <weights, x>, logit_1 = 0: p_0 = sigmoid(<weights, x>)."""
    dense = Dense(int(np.prod(shape)), 2)
    dense.params["weight"] = np.stack([np.ravel(weights), np.zeros(np.size(weights))]).astype(float)
    return Network([LAYER_TYPES["flatten"](), dense, Softmax()], shape)


def sigmoid(v):
    return 1.0 / (1.0 + np.exp(-np.asarray(v, float)))


def curves(net, x, maps, steps, substrate="zero", tiebreak=None):
    x, maps = np.asarray(x, float), np.asarray(maps, float)
    sub = substrates.SUBSTRATES[substrate](x)
    t = np.zeros(len(x), dtype=np.int64)
    keys = np.zeros(maps.reshape(len(x), -1).shape) if tiebreak is None else tiebreak
    ends = F.endpoint_scores(net, x, sub, t)
    return F.perturbation_curves(net, x, sub, maps, t, steps, keys, ends, batch_size=3)


def test_curves_and_areas_by_hand():
    net = sum_model(np.ones(4))
    x = np.array([1.0, 1.0, 0.0, 0.0]).reshape(1, 1, 2, 2)
    maps = np.array([4.0, 3.0, 2.0, 1.0]).reshape(1, 1, 2, 2)
    c = curves(net, x, maps, steps=4)
    # MoRF removes 4, 3, 2, 1 in turn: sums 2, 1, 0, 0, 0; insertion restores them: 0, 1, 2, 2, 2; LeRF: 2, 2, 2, 1, 0
    expect = {"deletion": [2, 1, 0, 0, 0], "insertion": [0, 1, 2, 2, 2], "lerf": [2, 2, 2, 1, 0]}
    for name, sums in expect.items():
        np.testing.assert_allclose(c.probability[name][0], sigmoid(sums), rtol=1e-15, err_msg=name)
        np.testing.assert_allclose(c.logit[name][0], sums, atol=1e-15, err_msg=name)
    s = sigmoid([0, 1, 2])
    scores = F.faithfulness_scores(c)
    assert scores["deletion"][0] == pytest.approx((s[2] + 2 * s[1] + 2 * s[0] + 2 * s[0] + s[0]) / 8, rel=1e-14)
    assert scores["insertion"][0] == pytest.approx((s[0] + 2 * s[1] + 2 * s[2] + 2 * s[2] + s[2]) / 8, rel=1e-14)
    lerf = (s[2] + 2 * s[2] + 2 * s[2] + 2 * s[1] + s[0]) / 8
    assert scores["abpc"][0] == pytest.approx(lerf - scores["deletion"][0], rel=1e-14)


def test_batched_probes_and_chunks_give_each_probe_its_own_curve():
    rng = np.random.default_rng(1)
    net = sum_model(rng.normal(size=8), shape=(2, 2, 2))
    x, maps = rng.random((5, 2, 2, 2)), rng.normal(size=(5, 2, 2, 2))
    both = curves(net, x, maps, steps=4)
    for i in range(5):
        one = curves(net, x[i : i + 1], maps[i : i + 1], steps=4)
        for name in F.CURVES:
            np.testing.assert_allclose(both.probability[name][i], one.probability[name][0], rtol=1e-14)


def test_spatial_maps_remove_whole_pixels():
    net = sum_model(np.ones(8), shape=(2, 2, 2))
    x = np.ones((1, 2, 2, 2))
    c = curves(net, x, np.array([[[[4.0, 3.0], [2.0, 1.0]]]]), steps=2)  # (1, 1, 2, 2): 4 pixels of 2 channels
    np.testing.assert_allclose(c.logit["deletion"][0], [8, 4, 0])


def test_area_does_not_grow_with_the_step_count():
    # Quantus defect: a deletion AUC that grows with the number of steps.
    for steps in (1, 4, 16, 400):
        assert F.area(np.ones((1, steps + 1)))[0] == pytest.approx(1.0, rel=1e-14)
        assert F.area(np.linspace(0, 1, steps + 1)[None])[0] == pytest.approx(0.5, rel=1e-14)
    net = sum_model(np.ones(16), shape=(1, 4, 4))
    x, maps = np.ones((1, 1, 4, 4)) / 4, np.arange(16.0).reshape(1, 1, 4, 4)
    areas = [F.faithfulness_scores(curves(net, x, maps, steps))["deletion"][0] for steps in (4, 8, 16)]
    assert max(areas) - min(areas) < 0.02 and max(areas) < 1


def test_step_counts_and_ties_broken_by_the_keys_not_by_position():
    np.testing.assert_array_equal(F.step_counts(10, 4), [0, 2, 5, 7, 10])
    flat = np.zeros((1, 4))
    np.testing.assert_array_equal(F.relevance_ranks(flat, np.array([[0.9, 0.1, 0.5, 0.3]])), [[3, 0, 2, 1]])
    np.testing.assert_array_equal(
        F.relevance_ranks(np.array([[1.0, 5, 3, 3]]), np.array([[0, 0, 0.9, 0.1]])), [[3, 0, 2, 1]]
    )


def test_substrates():
    x = np.arange(8.0).reshape(1, 2, 2, 2)
    np.testing.assert_array_equal(substrates.zero(x), 0)
    np.testing.assert_array_equal(substrates.mean(x)[0, :, 0, 0], [1.5, 5.5])
    assert substrates.gaussian_kernel(1.5, 4).sum() == pytest.approx(1.0)
    # the blur is a convolution with zero padding whose sigma is the image's longer side (5 here), radius 15
    assert substrates.blur_sigma((2, 3, 5, 4)) == 5.0
    impulse = np.zeros((1, 1, 5, 4))
    impulse[0, 0, 2, 1] = 1.0
    k = substrates.gaussian_kernel(5.0, 15)
    np.testing.assert_allclose(substrates.blur(impulse)[0, 0], np.outer(k[13:18], k[14:18]), rtol=1e-14)
    # separable and linear: a constant c blurs to c * (kernel mass inside the image) in each direction
    inside = np.outer([k[15 - i : 20 - i].sum() for i in range(5)], [k[15 - j : 19 - j].sum() for j in range(4)])
    want = np.broadcast_to(2.5 * inside, (2, 3, 5, 4))
    np.testing.assert_allclose(substrates.blur(np.full((2, 3, 5, 4), 2.5)), want, rtol=1e-14)


def test_insertion_restores_into_its_own_canvas():
    net = sum_model(np.ones(4))
    x = np.array([1.0, 1.0, 0.0, 0.0]).reshape(1, 1, 2, 2)
    maps = np.array([4.0, 3.0, 2.0, 1.0]).reshape(1, 1, 2, 2)
    sub, canvas = np.zeros_like(x), np.full_like(x, 0.5)  # deletion's zeros; insertion's canvas of 0.5s
    t = np.zeros(1, dtype=np.int64)
    ends = F.endpoint_scores(net, x, sub, t, canvas=canvas)
    assert len(ends) == 6
    c = F.perturbation_curves(net, x, sub, maps, t, 4, np.zeros((1, 4)), ends, batch_size=2, canvas=canvas)
    # insertion restores 4, 3, 2, 1 into 0.5s: sums 2, 2.5, 3, 2.5, 2; deletion and LeRF as on zeros
    expect = {"deletion": [2, 1, 0, 0, 0], "insertion": [2, 2.5, 3, 2.5, 2], "lerf": [2, 2, 2, 1, 0]}
    for name, sums in expect.items():
        np.testing.assert_allclose(c.logit[name][0], sums, atol=1e-15, err_msg=name)


@settings(max_examples=20, deadline=None)
@given(st.lists(st.floats(-2, 2), min_size=4, max_size=4), st.lists(st.floats(0, 1), min_size=4, max_size=4))
def test_random_control_deletion_and_insertion_agree_in_expectation(weights, x):
    # Over every ordering of the positions (the random control's distribution), E[deletion] = E[insertion]:
    # deleting a random k-set leaves a random (P - k)-set, which is what insertion has at P - k.
    net = sum_model(np.array(weights))
    x = np.array(x).reshape(1, 1, 2, 2)
    orders = np.array(list(itertools.permutations(range(4))), dtype=float)
    xs = np.repeat(x, len(orders), axis=0)
    scores = F.faithfulness_scores(curves(net, xs, orders.reshape(-1, 1, 2, 2), steps=4))
    assert scores["deletion"].mean() == pytest.approx(scores["insertion"].mean(), abs=1e-12)


def test_lerf_equals_reversed_insertion_whether_copied_or_computed():
    # 10 positions, 4 steps: k = 0, 2, 5, 7, 10, so k_1 + k_3 = 9 != 10 (computed) but k_2 + k_2 = 10 (copied)
    rng = np.random.default_rng(4)
    net = sum_model(rng.normal(size=10), shape=(1, 2, 5))
    x, maps = rng.random((3, 1, 2, 5)), rng.normal(size=(3, 1, 2, 5))
    c = curves(net, x, maps, steps=4)
    np.testing.assert_array_equal(c.probability["lerf"][:, 2], c.probability["insertion"][:, 2])
    w = net.layers[1].params["weight"][0]
    for i in range(3):
        order = np.argsort(-maps[i].ravel(), kind="stable")
        for j, kj in enumerate((0, 2, 5, 7, 10)):
            kept = np.ones(10, bool)
            kept[order[10 - kj :]] = False  # LeRF removes the kj least relevant
            assert c.logit["lerf"][i, j] == pytest.approx(float(w @ (x[i].ravel() * kept)), abs=1e-12)
