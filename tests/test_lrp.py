"""LRP: each rule against a hand-written reference, LRP-0 = gradient x input, the ledger identity."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from saliency_cli.attribution import lrp
from saliency_cli.methods.lrp.composites import Composite, base_mapping
from saliency_cli.methods.lrp.rules import (
    PASS,
    RULES,
    AlphaBeta,
    Epsilon,
    Gamma,
    make_rule,
)
from saliency_cli.nn.layers import Conv2d, Dense, Flatten, GlobalAvgPool, ReLU, Softmax
from saliency_cli.nn.network import Network
from saliency_cli.tasks import TASKS

# -- hand-written references: explicit loops over samples n, inputs i and outputs j ----------------


def sign(z: float) -> float:
    return 1.0 if z >= 0 else -1.0  # sign(0) = +1


def ref_epsilon(a, w, b, r, eps):
    """R_i = sum_j a_i w_ji / (z_j + eps sign z_j) R_j, and the bias and stabiliser shares."""
    n_samples, n_in = a.shape
    out = np.zeros_like(a)
    bias = np.zeros(n_samples)
    stab = np.zeros(n_samples)
    for n in range(n_samples):
        for j in range(w.shape[0]):
            z = sum(a[n, i] * w[j, i] for i in range(n_in)) + b[j]
            d = z + eps * sign(z)
            for i in range(n_in):
                out[n, i] += a[n, i] * w[j, i] / d * r[n, j]
            bias[n] += b[j] * r[n, j] / d
            stab[n] += eps * sign(z) * r[n, j] / d
    return out, bias, stab


def ref_alpha_beta(a, w, b, r, alpha):
    """R_i = sum_j (alpha z+_ij / z+_j - beta z-_ij / z-_j) R_j with the bias folded in by its sign."""
    beta = alpha - 1
    n_samples, n_in = a.shape
    out = np.zeros_like(a)
    for n in range(n_samples):
        for j in range(w.shape[0]):
            zij = [a[n, i] * w[j, i] for i in range(n_in)]
            zp = sum(max(v, 0.0) for v in zij) + max(b[j], 0.0)
            zn = sum(min(v, 0.0) for v in zij) + min(b[j], 0.0)
            for i in range(n_in):
                if zp != 0:
                    out[n, i] += alpha * max(zij[i], 0.0) / zp * r[n, j]
                if zn != 0:
                    out[n, i] -= beta * min(zij[i], 0.0) / zn * r[n, j]
    return out


def dense_layer(rng, n_in, n_out, bias=True):
    layer = Dense(n_in, n_out)
    layer.params["weight"] = rng.normal(size=(n_out, n_in))
    layer.params["bias"] = rng.normal(size=n_out) if bias else np.zeros(n_out)
    return layer


@pytest.fixture
def dense_case(rng):
    layer = dense_layer(rng, 5, 4)
    a = rng.normal(size=(3, 5))  # negative inputs too
    assert (a < 0).any() and (layer.params["bias"] < 0).any()
    r = rng.normal(size=(3, 4))
    return layer, a, r


def test_epsilon_on_one_dense_layer_matches_the_formula(dense_case):
    layer, a, r = dense_case
    w, b = layer.params["weight"], layer.params["bias"]
    r_in, shares = Epsilon(eps=0.1).propagate(layer, a, r)
    want, bias, stab = ref_epsilon(a, w, b, r, 0.1)
    np.testing.assert_allclose(r_in, want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(shares.bias, bias, rtol=1e-12)
    np.testing.assert_allclose(shares.stabiliser, stab, rtol=1e-12)
    np.testing.assert_array_equal(shares.dropped, 0.0)


def test_gamma_on_one_dense_layer_matches_the_formula(dense_case):
    layer, a, r = dense_case
    w, b = layer.params["weight"], layer.params["bias"]
    r_in, shares = Gamma(gamma=0.5, eps=0.01).propagate(layer, a, r)
    want, bias, stab = ref_epsilon(a, w + 0.5 * np.maximum(w, 0), b + 0.5 * np.maximum(b, 0), r, 0.01)
    np.testing.assert_allclose(r_in, want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(shares.bias, bias, rtol=1e-12)
    np.testing.assert_allclose(shares.stabiliser, stab, rtol=1e-12)


def test_gamma_zero_is_epsilon(dense_case):
    layer, a, r = dense_case
    np.testing.assert_array_equal(
        Gamma(gamma=0.0, eps=0.01).propagate(layer, a, r)[0], Epsilon(eps=0.01).propagate(layer, a, r)[0]
    )


@pytest.mark.parametrize("alpha", [1.0, 2.0, 3.5])
def test_alpha_beta_on_one_dense_layer_matches_the_formula(dense_case, alpha):
    layer, a, r = dense_case
    r_in, shares = AlphaBeta(alpha=alpha).propagate(layer, a, r)
    want = ref_alpha_beta(a, layer.params["weight"], layer.params["bias"], r, alpha)
    np.testing.assert_allclose(r_in, want, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(shares.stabiliser, 0.0)


def test_no_bias_means_z_without_b(dense_case):
    layer, a, r = dense_case
    w = layer.params["weight"]
    r_in, shares = Epsilon(eps=0.1, bias=False).propagate(layer, a, r)
    want, _, _ = ref_epsilon(a, w, np.zeros(w.shape[0]), r, 0.1)
    np.testing.assert_allclose(r_in, want, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(shares.bias, 0.0)
    r_in, _ = AlphaBeta(alpha=2.0, bias=False).propagate(layer, a, r)
    np.testing.assert_allclose(r_in, ref_alpha_beta(a, w, np.zeros(w.shape[0]), r, 2.0), rtol=1e-12, atol=1e-12)


def test_alpha_beta_drops_zero_denominators_and_books_them():
    # All contributions positive and no bias: z-_j = 0, so the beta term is dropped for every j.
    layer = Dense(3, 2)
    layer.params["weight"] = np.array([[1.0, 2.0, 0.5], [0.25, 1.0, 1.0]])
    a = np.array([[1.0, 2.0, 4.0]])
    r = np.array([[3.0, -1.0]])
    r_in, shares = AlphaBeta(alpha=2.0).propagate(layer, a, r)
    np.testing.assert_allclose(r_in, 2.0 * ref_epsilon(a, layer.params["weight"], np.zeros(2), r, 0.0)[0])
    assert shares.dropped[0] == pytest.approx(-1.0 * r.sum())  # -beta R_j for each j
    assert r_in.sum() + shares.bias[0] + shares.dropped[0] == pytest.approx(r.sum(), abs=1e-12)


def test_epsilon_zero_drops_a_zero_denominator():
    layer = Dense(2, 2)
    layer.params["weight"] = np.array([[1.0, -1.0], [2.0, 1.0]])
    a = np.array([[1.0, 1.0]])  # z_0 = 0 exactly, z_1 = 3
    r = np.array([[5.0, 2.0]])
    r_in, shares = Epsilon(eps=0.0).propagate(layer, a, r)
    np.testing.assert_allclose(r_in, [[2.0 * 2.0 / 3.0, 1.0 * 2.0 / 3.0]])  # only j = 1: a_i w_1i / z_1 R_1
    assert shares.dropped[0] == 5.0 and shares.stabiliser[0] == 0.0


def test_rules_reject_bad_settings():
    with pytest.raises(ValueError, match="alpha"):
        AlphaBeta(alpha=0.5)
    with pytest.raises(ValueError, match="eps"):
        Epsilon(eps=-1e-3)
    with pytest.raises(ValueError, match="gamma"):
        Gamma(gamma=-0.1)
    with pytest.raises(ValueError, match="unknown LRP rule"):
        make_rule("zminus")


def test_registry_entries_have_a_summary():
    assert set(RULES) == {"epsilon", "gamma", "alpha-beta", "zplus"}
    for name, cls in RULES.items():
        assert cls.name == name and cls.summary and cls.__doc__


# -- networks ----------------------------------------------------------------------------------


def dense_net(rng, widths, input_shape=(1, 2, 3), bias=True, softmax=True):
    """flatten, dense, relu, ..., dense (+ softmax) with random weights."""
    layers = [Flatten()]
    n_in = int(np.prod(input_shape))
    for k, n_out in enumerate(widths):
        layers.append(dense_layer(rng, n_in, n_out, bias))
        if k < len(widths) - 1:
            layers.append(ReLU())
        n_in = n_out
    if softmax:
        layers.append(Softmax())
    return Network(layers, input_shape)


def test_relevance_at_the_output_is_the_target_logit(rng):
    net = dense_net(rng, [4, 3])
    x = rng.normal(size=(2, 1, 2, 3))
    _, ledger = lrp(net, x, target=[2, 0])
    logits = net.predict_logits(x)
    top = ledger.entries[0]
    assert top.type == "softmax" and top.rule is PASS
    np.testing.assert_array_equal(top.relevance_out, [logits[0, 2], logits[1, 0]])
    np.testing.assert_array_equal(ledger.target, [2, 0])


def test_epsilon_to_zero_on_a_bias_free_relu_net_is_gradient_times_input(rng):
    net = dense_net(rng, [7, 5, 3], bias=False)
    x = rng.normal(size=(4, 1, 2, 3))
    target = np.array([0, 1, 2, 1])
    logits = net.forward(x, stop=net.logit_index)
    grad = net.backward(np.eye(3)[target])
    want = grad * x
    assert np.abs(want).max() > 0.1 and logits.shape == (4, 3)
    r0, _ = lrp(net, x, target=target, eps=0.0)
    np.testing.assert_allclose(r0, want, rtol=1e-9, atol=1e-12)
    errors = [np.abs(lrp(net, x, target=target, eps=eps)[0] - want).max() for eps in (1e-2, 1e-4, 1e-6)]
    assert errors[0] > errors[1] > errors[2] and errors[2] < 1e-4


def _check_ledger(ledger, tol=1e-12):
    for entry in ledger.entries:
        s = entry.shares
        scale = 1.0 + max(
            np.abs(v).max() for v in (entry.relevance_out, entry.relevance_in, s.bias, s.stabiliser, s.dropped)
        )
        total = entry.relevance_in + s.bias + s.stabiliser + s.dropped
        assert np.abs(total - entry.relevance_out).max() <= tol * scale, f"ledger of {entry.name}"
        np.testing.assert_array_equal(np.abs(entry.unexplained), np.abs(entry.relevance_out - total))
    for a, b in zip(ledger.entries, ledger.entries[1:], strict=False):
        np.testing.assert_array_equal(a.relevance_in, b.relevance_out)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    widths=st.lists(st.integers(1, 6), min_size=1, max_size=4),
    batch=st.integers(1, 3),
    rule=st.sampled_from(sorted(RULES)),
    bias=st.booleans(),
    eps=st.sampled_from([1e-6, 1e-2, 0.5]),
    alpha=st.sampled_from([1.0, 2.0, 3.0]),
)
def test_ledger_closes_on_random_dense_networks(seed, widths, batch, rule, bias, eps, alpha):
    rng = np.random.default_rng(seed)
    net = dense_net(rng, widths)
    x = rng.normal(size=(batch, 1, 2, 3))
    relevance, ledger = lrp(net, x, rule=rule, eps=eps, alpha=alpha, bias=bias)
    assert relevance.shape == x.shape and ledger.complete
    _check_ledger(ledger)
    np.testing.assert_allclose(relevance.reshape(batch, -1).sum(1), ledger.entries[-1].relevance_in, rtol=1e-12)
    totals = ledger.totals(batch - 1)
    logit = totals["logit"]
    parts = totals["input"] + totals["bias"] + totals["stabiliser"] + totals["dropped"] + totals["unexplained"]
    assert parts == pytest.approx(logit, rel=1e-9, abs=1e-9)
    if not bias:
        assert all((e.shares.bias == 0).all() for e in ledger.entries)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), widths=st.lists(st.integers(3, 8), min_size=1, max_size=3))
def test_alpha2_beta1_without_bias_conserves_exactly_where_no_term_is_dropped(seed, widths):
    rng = np.random.default_rng(seed)
    net = dense_net(rng, widths, bias=True)  # biases exist but take no part
    x = rng.normal(size=(2, 1, 2, 3))
    _, ledger = lrp(net, x, rule="alpha-beta", alpha=2.0, bias=False)
    for entry in ledger.entries:
        clean = entry.shares.dropped == 0
        assert (entry.residual[clean] <= 1e-12 * (1 + np.abs(entry.relevance_out[clean]))).all(), entry.name


def test_alpha2_beta1_without_bias_on_the_shipped_model(shipped):
    net = shipped("blobs6x6")
    noisy, _, _ = TASKS["blobs6x6"].probe("noisy")
    _, ledger = lrp(net, noisy, rule="alpha-beta", bias=False)
    assert all(e.residual[0] <= 1e-12 for e in ledger.entries)
    assert ledger.entries[-1].relevance_in[0] == pytest.approx(ledger.entries[0].relevance_out[0], abs=1e-12)
    # On the clean probe one unit of dense2 has only positive contributions (z- = 0): its beta term is dropped
    # and the ledger books exactly that, so nothing is unexplained.
    clean, _, _ = TASKS["blobs6x6"].probe("clean")
    _, ledger = lrp(net, clean, rule="alpha-beta", bias=False)
    dense2 = next(e for e in ledger.entries if e.name == "dense2")
    assert dense2.shares.dropped[0] < -1.0
    assert dense2.residual[0] == pytest.approx(-dense2.shares.dropped[0], abs=1e-12)
    assert ledger.max_unexplained < 1e-12


def test_epsilon_without_bias_leaves_only_the_stabiliser(shipped):
    net = shipped("blobs6x6")
    x, _, _ = TASKS["blobs6x6"].probe("clean")
    for eps in (1e-2, 1e-4):
        _, ledger = lrp(net, x, eps=eps, bias=False)
        for entry in ledger.entries:
            assert entry.shares.bias[0] == 0.0
            assert entry.residual[0] == pytest.approx(abs(entry.shares.stabiliser[0]), abs=1e-12)
        assert ledger.totals()["stabiliser"] < 20 * eps * ledger.totals()["logit"]  # O(eps)


@pytest.mark.parametrize("rule", sorted(RULES))
@pytest.mark.parametrize("bias", [True, False])
def test_weights_unchanged_after_every_rule(shipped, rule, bias):
    for task in ("blobs6x6", "blobs8x8"):
        net = shipped(task)
        before = {k: v.copy() for k, v in net.parameters().items()}
        hash_before = net.params_hash()
        x, _, _ = TASKS[task].probe("clean")
        _, ledger = lrp(net, x, rule=rule, bias=bias)
        assert ledger.weights_unchanged and net.params_hash() == hash_before == ledger.hash_after
        for key, value in net.parameters().items():
            np.testing.assert_array_equal(value, before[key], err_msg=key)


def test_a_batch_equals_the_samples_one_by_one(rng):
    net = dense_net(rng, [6, 4, 3])
    x = rng.normal(size=(3, 1, 2, 3))
    batch, ledger = lrp(net, x, rule="gamma")
    for n in range(3):
        single, single_ledger = lrp(net, x[n], rule="gamma")
        assert single.shape == x.shape[1:]
        np.testing.assert_allclose(batch[n], single, rtol=1e-12, atol=1e-14)
        assert single_ledger.target[0] == ledger.target[n] == net.forward(x[n : n + 1]).argmax()


def test_bad_inputs_and_targets_are_refused(rng):
    net = dense_net(rng, [3, 2])
    with pytest.raises(ValueError, match=r"inputs of shape \(2, 3\): expected \(1, 2, 3\)"):
        lrp(net, np.zeros((2, 3)))
    with pytest.raises(ValueError, match="out of range"):
        lrp(net, np.zeros((1, 2, 3)), target=2)


# -- layers without a rule: every shipped layer type has one now, so a composite leaves one out --------


def test_the_conv_model_is_walked_to_the_input(shipped):
    net = shipped("blobs8x8")
    x, _, _ = TASKS["blobs8x8"].probe("clean")
    relevance, ledger = lrp(net, x)
    assert relevance.shape == x.shape and ledger.complete and ledger.stopped is None
    rules = {e.name: (e.status, e.rule.name) for e in ledger.entries}
    assert rules == {
        "softmax1": ("rule", "pass-through"),
        "dense2": ("rule", "epsilon"),
        "relu2": ("rule", "pass-through"),
        "dense1": ("rule", "epsilon"),
        "flatten1": ("rule", "pass-through"),
        "pool1": ("rule", "winner-take-all"),
        "relu1": ("rule", "pass-through"),
        "conv1": ("rule", "epsilon"),
    }
    assert ledger.max_unexplained < 1e-12 and ledger.totals()["input"] == pytest.approx(relevance.sum(), abs=1e-12)


def _without(composite_types, rule):
    """A composite giving `rule` to dense and conv2d and the base rules to every type not in `composite_types`."""
    entries = [("dense", rule), ("conv2d", rule), *base_mapping()]
    return Composite([(kind, r) for kind, r in entries if kind not in composite_types])


def test_a_layer_without_a_rule_that_changes_the_shape_stops_the_walk_and_says_so(shipped):
    net = shipped("blobs8x8")
    x, _, _ = TASKS["blobs8x8"].probe("clean")
    relevance, ledger = lrp(net, x, composite=_without({"maxpool2d"}, Epsilon(0.01)))
    assert relevance is None and not ledger.complete
    status = {e.name: e.status for e in ledger.entries}
    assert status == {
        "softmax1": "rule",
        "dense2": "rule",
        "relu2": "rule",
        "dense1": "rule",
        "flatten1": "rule",
        "pool1": "stopped",
        "relu1": "not reached",
        "conv1": "not reached",
    }
    assert ledger.stopped.name == "pool1" and "(8, 4, 4)" in ledger.reason and "(8, 8, 8)" in ledger.reason
    rows = {row["name"]: row for row in ledger.rows()}
    assert rows["pool1"]["skipped"] and rows["pool1"]["rule"] is None and rows["pool1"]["relevance_in"] is None
    assert rows["pool1"]["relevance_out"] == pytest.approx(rows["flatten1"]["relevance_in"])
    assert ledger.max_unexplained < 1e-12
    assert ledger.totals()["input"] is None


def test_a_layer_without_a_rule_that_keeps_the_shape_passes_relevance_unchanged(rng):
    conv = Conv2d(1, 1, kernel_size=1)
    conv.params["weight"] = np.full((1, 1, 1, 1), 2.0)
    net = Network([conv, ReLU(), Flatten(), dense_layer(rng, 6, 3), Softmax()], (1, 2, 3))
    x = np.abs(rng.normal(size=(1, 2, 3))) + 0.1
    relevance, ledger = lrp(net, x, composite=_without({"conv2d"}, Epsilon(0.01)))
    skipped = ledger.entries[-1]
    assert skipped.name == "conv1" and skipped.status == "skipped" and skipped.rule is None
    np.testing.assert_array_equal(skipped.relevance_in, skipped.relevance_out)
    # the relevance at the conv's output, carried over unchanged
    dense = net.layers[3]
    want, _, _ = ref_epsilon(net.inputs[3], dense.params["weight"], dense.params["bias"], _seed(net, ledger), 0.01)
    np.testing.assert_allclose(relevance.reshape(1, -1), want, rtol=1e-12)


def _seed(net, ledger):
    r = np.zeros_like(ledger.logits)
    r[0, ledger.target[0]] = ledger.logits[0, ledger.target[0]]
    return r


def test_global_average_pooling_without_a_rule_stops_the_walk(rng):
    net = Network([GlobalAvgPool(), dense_layer(rng, 2, 2)], (2, 3, 3))
    x = rng.normal(size=(2, 3, 3))
    relevance, ledger = lrp(net, x, composite=_without({"global_avg_pool"}, Epsilon(0.01)))
    assert relevance is None and ledger.stopped.type == "global_avg_pool"
    relevance, ledger = lrp(net, x)  # with its rule: proportional
    assert ledger.complete and ledger.entries[-1].rule.name == "proportional" and relevance.shape == x.shape


def test_composite_first_match_wins_and_unmatched_layers_are_skipped(rng):
    net = dense_net(rng, [4, 3])
    x = rng.normal(size=(1, 1, 2, 3))
    composite = Composite([("dense", Epsilon(0.05)), ("dense", AlphaBeta(2.0)), ("flatten", PASS)])
    relevance, ledger = lrp(net, x, composite=composite)
    want, _ = lrp(net, x, rule=Epsilon(0.05))
    np.testing.assert_array_equal(relevance, want)
    status = {e.type: e.status for e in ledger.entries}
    assert status["relu"] == "skipped" and status["softmax"] == "skipped" and status["dense"] == "rule"


def test_sign_of_zero_is_plus_one_in_the_stabiliser():
    layer = Dense(2, 1)
    layer.params["weight"] = np.array([[1.0, -1.0]])
    a = np.array([[2.0, 2.0]])  # z = 0 exactly: the denominator is 0 + eps * (+1)
    r = np.array([[1.0]])
    r_in, shares = Epsilon(eps=0.5).propagate(layer, a, r)
    np.testing.assert_allclose(r_in, [[4.0, -4.0]])  # a_i w_i / (+0.5)
    assert shares.stabiliser[0] == 1.0 and shares.dropped[0] == 0.0
    want, _, stab = ref_epsilon(a, layer.params["weight"], np.zeros(1), r, 0.5)
    np.testing.assert_allclose(r_in, want)
    np.testing.assert_allclose(shares.stabiliser, stab)
