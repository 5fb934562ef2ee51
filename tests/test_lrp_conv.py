"""LRP through convolution and pooling: each conv rule against the layer written as an explicit matrix,
first-layer rules and pooling rules against hand-written formulas, LRP-0 = gradient x input on a conv
net, and the ledger on the shipped conv models and on random conv networks."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from saliency_cli.attribution import lrp
from saliency_cli.methods.lrp.composites import COMPOSITES
from saliency_cli.methods.lrp.first import FIRST_RULES, Flat, WSquare, ZBox
from saliency_cli.methods.lrp.pool import POOL_RULES, ProportionalAverage, ProportionalMax, WinnerTakeAll
from saliency_cli.methods.lrp.rules import RULES, AlphaBeta, Epsilon, Gamma, ZPlus
from saliency_cli.nn import ops
from saliency_cli.nn.layers import Conv2d, Dense, Flatten, GlobalAvgPool, MaxPool2d, ReLU, Softmax
from saliency_cli.nn.network import Network
from saliency_cli.tasks import TASKS

from .netgen import random_network
from .test_lrp import _check_ledger, ref_alpha_beta, ref_epsilon

# -- the conv layer as an explicit matrix ---------------------------------------------------------


def conv_matrix(weight, x_shape, stride, padding):
    """(O * Ho * Wo, C * H * W): column k is the bias-free conv of the k-th unit input."""
    size = int(np.prod(x_shape))
    units = np.eye(size).reshape(size, *x_shape)
    out = ops.conv2d(units, weight, None, stride, padding)  # (size, O, Ho, Wo)
    return out.reshape(size, -1).T, out.shape[1:]


def as_dense(conv, x_shape):
    """The conv layer as a Dense layer on flattened inputs (bias repeated over the output positions)."""
    w = conv.params["weight"]
    m, out_shape = conv_matrix(w, x_shape, conv.stride, conv.padding)
    dense = Dense(m.shape[1], m.shape[0])
    dense.params["weight"] = m
    dense.params["bias"] = np.repeat(conv.params["bias"], out_shape[1] * out_shape[2])
    return dense, out_shape


CONVS = [(3, 1, 1), (3, 2, 1), (2, 1, 0), (3, 2, 0)]  # (kernel, stride, padding)


@pytest.fixture(params=CONVS, ids=lambda c: f"k{c[0]}s{c[1]}p{c[2]}")
def conv_case(request, rng):
    k, s, p = request.param
    conv = Conv2d(2, 3, k, s, p)
    conv.params["weight"] = rng.normal(size=conv.params["weight"].shape)
    conv.params["bias"] = rng.normal(size=3)
    x_shape = (2, 5, 5)
    a = rng.normal(size=(2, *x_shape))  # negative inputs too
    out_shape = conv.output_shape(x_shape)
    r = rng.normal(size=(2, *out_shape))
    return conv, a, r


# Flat is not here: on a dense layer it spreads over every input, on a conv only over the receptive field;
# it has its own connection-matrix test below.
RULE_OBJECTS = [
    Epsilon(0.1),
    Epsilon(0.01, bias=False),
    Gamma(0.5, 0.01),
    Gamma(0.25, 0.1, bias=False),
    AlphaBeta(1.0),
    AlphaBeta(2.0),
    AlphaBeta(3.0, bias=False),
    ZPlus(),
    ZPlus(bias=False),
    WSquare(),
    WSquare(bias=False),
    ZBox(eps=0.01),
    ZBox(low=-3.0, high=4.0, eps=0.0),
]


@pytest.mark.parametrize("rule", RULE_OBJECTS, ids=repr)
def test_every_conv_rule_equals_the_dense_rule_on_the_conv_matrix(conv_case, rule):
    conv, a, r = conv_case
    dense, _ = as_dense(conv, a.shape[1:])
    n = len(a)
    r_in, shares = rule.propagate(conv, a, r)
    want, want_shares = rule.propagate(dense, a.reshape(n, -1), r.reshape(n, -1))
    assert r_in.shape == a.shape
    np.testing.assert_allclose(r_in.reshape(n, -1), want, rtol=1e-10, atol=1e-12)
    for key in ("bias", "stabiliser", "dropped"):
        np.testing.assert_allclose(getattr(shares, key), getattr(want_shares, key), rtol=1e-10, atol=1e-12)


def test_epsilon_on_a_conv_layer_matches_the_hand_written_matrix_loop(conv_case):
    conv, a, r = conv_case
    dense, _ = as_dense(conv, a.shape[1:])
    n = len(a)
    r_in, shares = Epsilon(eps=0.1).propagate(conv, a, r)
    want, bias, stab = ref_epsilon(
        a.reshape(n, -1), dense.params["weight"], dense.params["bias"], r.reshape(n, -1), 0.1
    )
    np.testing.assert_allclose(r_in.reshape(n, -1), want, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(shares.bias, bias, rtol=1e-10)
    np.testing.assert_allclose(shares.stabiliser, stab, rtol=1e-10)


@pytest.mark.parametrize("alpha", [1.0, 2.0])
def test_alpha_beta_on_a_conv_layer_matches_the_hand_written_matrix_loop(conv_case, alpha):
    conv, a, r = conv_case
    dense, _ = as_dense(conv, a.shape[1:])
    n = len(a)
    r_in, _ = AlphaBeta(alpha).propagate(conv, a, r)
    want = ref_alpha_beta(a.reshape(n, -1), dense.params["weight"], dense.params["bias"], r.reshape(n, -1), alpha)
    np.testing.assert_allclose(r_in.reshape(n, -1), want, rtol=1e-10, atol=1e-12)
    if alpha == 1.0:
        np.testing.assert_allclose(ZPlus().propagate(conv, a, r)[0], r_in, rtol=1e-12, atol=1e-14)


# -- first-layer rules against hand-written formulas ----------------------------------------------


def test_flat_spreads_over_the_receptive_field(conv_case):
    conv, a, r = conv_case
    n = len(a)
    ones_w = np.ones_like(conv.params["weight"])
    conn, _ = conv_matrix(ones_w, a.shape[1:], conv.stride, conv.padding)  # 0/1: is input i in unit j's field
    count = conn.sum(axis=1)  # real (unpadded) inputs per unit
    want = (r.reshape(n, -1) / count) @ conn
    r_in, shares = Flat().propagate(conv, a, r)
    np.testing.assert_allclose(r_in.reshape(n, -1), want, rtol=1e-12, atol=1e-14)
    assert (shares.bias == 0).all() and (shares.stabiliser == 0).all() and (shares.dropped == 0).all()
    np.testing.assert_allclose(r_in.reshape(n, -1).sum(1), r.reshape(n, -1).sum(1), rtol=1e-12)


def test_flat_books_a_window_wholly_in_the_padding_as_dropped(rng):
    conv = Conv2d(1, 1, kernel_size=2, stride=1, padding=2)  # the outer ring of windows sees only padding
    a = rng.normal(size=(1, 1, 3, 3))
    r = rng.normal(size=(1, *conv.output_shape((1, 3, 3))))  # (1, 1, 6, 6)
    r_in, shares = Flat().propagate(conv, a, r)
    empty = np.ones((6, 6), dtype=bool)
    empty[1:5, 1:5] = False
    assert shares.dropped[0] == pytest.approx(r[0, 0][empty].sum(), abs=1e-14) and shares.dropped[0] != 0
    assert r_in.sum() + shares.dropped[0] == pytest.approx(r.sum(), abs=1e-12)


def test_flat_on_a_dense_layer_is_the_mean(rng):
    layer = Dense(4, 3)
    a, r = rng.normal(size=(2, 4)), rng.normal(size=(2, 3))
    r_in, _ = Flat().propagate(layer, a, r)
    np.testing.assert_allclose(r_in, np.repeat(r.sum(1, keepdims=True) / 4, 4, axis=1), rtol=1e-12)


def test_wsquare_matches_the_formula(rng):
    layer = Dense(4, 3)
    w, b = rng.normal(size=(3, 4)), rng.normal(size=3)
    layer.params["weight"], layer.params["bias"] = w, b
    a, r = rng.normal(size=(2, 4)), rng.normal(size=(2, 3))
    r_in, shares = WSquare().propagate(layer, a, r)
    want = np.zeros_like(a)
    bias = np.zeros(2)
    for n in range(2):
        for j in range(3):
            den = sum(w[j, i] ** 2 for i in range(4)) + b[j] ** 2
            for i in range(4):
                want[n, i] += w[j, i] ** 2 / den * r[n, j]
            bias[n] += b[j] ** 2 / den * r[n, j]
    np.testing.assert_allclose(r_in, want, rtol=1e-12)
    np.testing.assert_allclose(shares.bias, bias, rtol=1e-12)
    r_in, shares = WSquare(bias=False).propagate(layer, a, r)
    np.testing.assert_allclose(r_in, (r / (w**2).sum(1)) @ w**2, rtol=1e-12)
    assert (shares.bias == 0).all()


@pytest.mark.parametrize(("low", "high"), [(None, None), (-2.5, 3.0)])
def test_zbox_matches_the_formula(rng, low, high):
    layer = Dense(4, 3)
    w = rng.normal(size=(3, 4))
    layer.params["weight"], layer.params["bias"] = w, rng.normal(size=3)  # the bias cancels in z-box
    a, r = rng.normal(size=(2, 4)), rng.normal(size=(2, 3))
    eps = 0.05
    r_in, shares = ZBox(low=low, high=high, eps=eps).propagate(layer, a, r)
    want = np.zeros_like(a)
    stab = np.zeros(2)
    for n in range(2):
        lo = a[n].min() if low is None else low
        hi = a[n].max() if high is None else high
        for j in range(3):
            zij = [a[n, i] * w[j, i] - lo * max(w[j, i], 0) - hi * min(w[j, i], 0) for i in range(4)]
            assert min(zij) >= 0  # inside the box every term is non-negative
            den = sum(zij) + eps  # sign(z) = +1
            for i in range(4):
                want[n, i] += zij[i] / den * r[n, j]
            stab[n] += eps / den * r[n, j]
    np.testing.assert_allclose(r_in, want, rtol=1e-12)
    np.testing.assert_allclose(shares.stabiliser, stab, rtol=1e-12)
    assert (shares.bias == 0).all() and (shares.dropped == 0).all()


def test_zbox_refuses_inverted_bounds():
    with pytest.raises(ValueError, match="low < high"):
        ZBox(low=1.0, high=0.0)


def test_registries_have_summaries():
    assert set(FIRST_RULES) == {"flat", "wsquare", "zbox"}
    assert set(POOL_RULES) == {"winner", "proportional"}
    for registry in (RULES, FIRST_RULES, POOL_RULES):
        for cls in registry.values():
            assert cls.summary and cls.__doc__


# -- pooling --------------------------------------------------------------------------------------


def ref_maxpool(a, r, k, s, proportional):
    """Hand-written loop over samples, channels and windows."""
    out = np.zeros_like(a)
    n_, c_, ho, wo = r.shape
    for n in range(n_):
        for c in range(c_):
            for y in range(ho):
                for x in range(wo):
                    win = a[n, c, y * s : y * s + k, x * s : x * s + k]
                    pos = np.maximum(win, 0)
                    if proportional and pos.sum() > 0:
                        share = pos / pos.sum()
                    else:
                        share = np.zeros_like(win)
                        share.flat[win.argmax()] = 1.0
                    out[n, c, y * s : y * s + k, x * s : x * s + k] += share * r[n, c, y, x]
    return out


@pytest.mark.parametrize(("k", "s"), [(2, 2), (2, 1), (3, 2)])
@pytest.mark.parametrize("proportional", [False, True])
def test_max_pooling_rules_match_the_loop_and_conserve_exactly(rng, k, s, proportional):
    pool = MaxPool2d(k, s)
    a = rng.normal(size=(2, 3, 7, 7))
    a[0, 0, :3, :3] = -np.abs(a[0, 0, :3, :3])  # a window with no positive input: winner-take-all fallback
    r = rng.normal(size=(2, *pool.output_shape((3, 7, 7))))
    rule = ProportionalMax() if proportional else WinnerTakeAll()
    r_in, shares = rule.propagate(pool, a, r)
    np.testing.assert_allclose(r_in, ref_maxpool(a, r, k, s, proportional), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(r_in.reshape(2, -1).sum(1), r.reshape(2, -1).sum(1), rtol=1e-13)
    assert (shares.dropped == 0).all() and (shares.bias == 0).all() and (shares.stabiliser == 0).all()
    if not proportional:  # winner-take-all is the gradient routing of the engine
        _, arg = ops.maxpool2d(a, k, s)
        np.testing.assert_array_equal(r_in, ops.maxpool2d_input_grad(r, arg, a.shape, k, s))


def test_global_average_pooling_is_proportional_and_books_a_zero_sum(rng):
    a = rng.normal(size=(2, 3, 4, 4))
    a[1, 2] = 0.0  # a channel summing to exactly 0
    r = rng.normal(size=(2, 3))
    r_in, shares = ProportionalAverage().propagate(GlobalAvgPool(), a, r)
    for n in range(2):
        for c in range(3):
            total = a[n, c].sum()
            want = a[n, c] / total * r[n, c] if total != 0 else np.zeros((4, 4))
            np.testing.assert_allclose(r_in[n, c], want, rtol=1e-12)
    assert shares.dropped[0] == 0 and shares.dropped[1] == r[1, 2]
    np.testing.assert_allclose(r_in.reshape(2, -1).sum(1) + shares.dropped, r.sum(1), rtol=1e-12)


# -- networks -------------------------------------------------------------------------------------


def bias_free_conv_net(rng):
    layers = [
        Conv2d(2, 3, 3, 1, 1),
        ReLU(),
        Conv2d(3, 4, 3, 2, 1),
        ReLU(),
        MaxPool2d(2, 1),
        Flatten(),
        Dense(4 * 2 * 2, 5),
        ReLU(),
        Dense(5, 3),
        Softmax(),
    ]
    for layer in layers:
        if "weight" in layer.params:
            layer.params["weight"] = rng.normal(size=layer.params["weight"].shape)
    return Network(layers, (2, 6, 6))


def test_lrp_zero_on_a_bias_free_relu_conv_net_is_gradient_times_input(rng):
    net = bias_free_conv_net(rng)
    x = rng.normal(size=(3, 2, 6, 6))
    target = np.array([0, 2, 1])
    net.forward(x, stop=net.logit_index)
    want = net.backward(np.eye(3)[target]) * x
    assert np.abs(want).max() > 0.1
    r0, ledger = lrp(net, x, target=target, eps=0.0)
    np.testing.assert_allclose(r0, want, rtol=1e-9, atol=1e-12)
    assert ledger.complete and ledger.max_unexplained < 1e-12
    assert {e.type: e.rule.name for e in ledger.entries}["maxpool2d"] == "winner-take-all"
    errors = [np.abs(lrp(net, x, target=target, eps=eps)[0] - want).max() for eps in (1e-4, 1e-6, 1e-8)]
    assert errors[0] > 50 * errors[1] > 2500 * errors[2] and errors[2] < 1e-5  # O(eps)


PLANS = (
    [{"rule": name} for name in sorted(RULES)]
    + [{"rule": "epsilon", "pool": "proportional"}, {"rule": "gamma", "bias": False}]
    + [{"composite": name} for name in sorted(COMPOSITES)]
    + [{"composite": "epsilon-gamma-box", "pool": "proportional", "low": 0.0, "high": 1.5}]
    + [{"rule": "alpha-beta", "first": name} for name in sorted(FIRST_RULES)]
)


@pytest.mark.parametrize("plan", PLANS, ids=lambda p: ",".join(f"{k}={v}" for k, v in p.items()))
@pytest.mark.parametrize("task", ["blobs8x8", "blobs8x8-gap"])
def test_ledger_closes_on_the_shipped_conv_models(shipped, task, plan):
    net = shipped(task)
    before = net.params_hash()
    for probe in ("clean", "noisy"):
        x, _, _ = TASKS[task].probe(probe)
        relevance, ledger = lrp(net, x, **plan)
        assert relevance.shape == x.shape and ledger.complete
        assert all(e.status == "rule" for e in ledger.entries)
        _check_ledger(ledger)
        assert ledger.max_unexplained < 1e-12
        assert relevance.sum() == pytest.approx(ledger.entries[-1].relevance_in[0], abs=1e-12)
    assert net.params_hash() == before and ledger.weights_unchanged


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    convs=st.lists(
        st.tuples(st.integers(1, 4), st.integers(1, 3), st.integers(1, 2), st.integers(0, 1)), min_size=1, max_size=2
    ),
    act=st.sampled_from(["relu", "leaky_relu"]),
    pool=st.booleans(),
    head=st.sampled_from(["flatten", "gap"]),
    plan=st.sampled_from(PLANS[:-1]),
    batch=st.integers(1, 2),
)
def test_ledger_closes_on_random_conv_networks(seed, convs, act, pool, head, plan, batch):
    rng = np.random.default_rng(seed)
    try:
        net = random_network(rng, 2, 7, 7, convs, hidden=4, act=act, pool=pool, head=head)
    except ValueError:  # a kernel that does not fit after striding
        return
    x = rng.uniform(0, 1.2, size=(batch, 2, 7, 7))
    relevance, ledger = lrp(net, x, **plan)
    assert relevance.shape == x.shape and ledger.complete
    _check_ledger(ledger)
    totals = ledger.totals(batch - 1)
    parts = totals["input"] + totals["bias"] + totals["stabiliser"] + totals["dropped"] + totals["unexplained"]
    assert parts == pytest.approx(totals["logit"], rel=1e-9, abs=1e-9)
