"""The network's linear first layers: their input gradient is one linear map, so a linearly weighed method (IG, the
signed gradient) sums its rows' gradients before them and takes only the sums through them."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from saliency_cli.methods import gradients as G
from saliency_cli.methods import integrated as IG
from saliency_cli.nn.layers import Conv2d, Dense, Flatten, GlobalAvgPool, LeakyReLU, ReLU
from saliency_cli.nn.network import Network
from saliency_cli.tasks import TASKS

from .netgen import random_network
from .roundoff import assert_roundoff_close, backward_magnitude


def _batch(task: str, n: int, seed: int = 0) -> np.ndarray:
    return TASKS[task].sample(n, np.random.default_rng(seed), noise=0.4)[0]


@pytest.mark.parametrize(("task", "prefix"), [("blobs8x8", 1), ("blobs6x6", 2), ("blobs8x8-gap", 1)])
def test_backward_to_a_layer_then_through_the_linear_layers_is_the_whole_backward(task, prefix, shipped):
    net = shipped(task)
    assert net.linear_prefix == prefix
    x = _batch(task, 5)
    seed = np.random.default_rng(1).normal(size=(5, net.num_classes))
    net.forward(x, stop=net.logit_index)
    whole = net.backward(seed)
    net.forward(x, stop=net.logit_index)
    net.backward(seed, keep=True)  # layer by layer, each layer's output gradient kept
    kept = net.output_grads[prefix - 1]  # the gradient at the input of layer `prefix`
    net.forward(x, stop=net.logit_index)
    at_cut = net.backward(seed, stop=prefix)
    assert at_cut.shape == (5, *net.shapes[prefix - 1])
    # fused against layer by layer, and the linear layers apart: other products, the same to round-off
    top = net.logit_index + 1  # (a softmax after the logits is not part of the pass)
    assert_roundoff_close(at_cut, kept, *backward_magnitude(net, seed, stop=prefix, start=top))
    assert_roundoff_close(net.input_grad(at_cut, prefix), whole, *backward_magnitude(net, seed, start=top))


def test_input_grad_is_linear_and_takes_any_number_of_rows(shipped):
    net = shipped("blobs8x8")
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(2, 3, *net.shapes[0]))
    mag, k = backward_magnitude(net, np.abs(a) + 2.5 * np.abs(b), start=1)
    # a + 2.5 b rounds twice, and so do the sum and the scaling on the right
    assert_roundoff_close(net.input_grad(a + 2.5 * b, 1), net.input_grad(a, 1) + 2.5 * net.input_grad(b, 1), mag, k + 2)
    one = net.input_grad(a[:1], 1)
    assert one.shape == (1, *net.input_shape)
    # one row against three: GEMMs of other shapes
    assert_roundoff_close(one, net.input_grad(a, 1)[:1], *backward_magnitude(net, a[:1], start=1))


def test_input_grad_refuses_a_nonlinear_layer(shipped):
    net = shipped("blobs8x8")
    with pytest.raises(ValueError, match="not all linear"):
        net.input_grad(np.zeros((1, *net.shapes[1])), 2)


def test_linear_layers_are_the_affine_ones():
    assert [cls.linear for cls in (Conv2d, Dense, Flatten, GlobalAvgPool)] == [True] * 4
    assert not ReLU.linear and not LeakyReLU.linear
    net = Network([Flatten(), Dense(4, 3), Dense(3, 2)], (1, 2, 2))
    assert net.linear_prefix == 3  # all of them: the cut is then the score's layer (see _cut)


class _Counter:
    """Counts the rows that go through `net.input_grad` (the linear layers' backward after the cut)."""

    def __init__(self, net):
        self.rows: list[int] = []
        self._fn = net.input_grad
        net.input_grad = self

    def __call__(self, dy, start):
        self.rows.append(len(dy))
        return self._fn(dy, start)


@pytest.mark.parametrize("task", ["blobs8x8", "blobs6x6", "blobs8x8-gap"])
@pytest.mark.parametrize("batch_size", [None, 7])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_linear_sums_before_the_linear_layers_equal_the_row_by_row_sums(task, batch_size, dtype, shipped):
    net = shipped(task).astype(dtype)
    x = _batch(task, 3, seed=4).astype(dtype)
    alphas, weights = IG.quadrature_rule("gauss-legendre", 6)
    sums = [
        G.gradient_points(x),
        G.smoothgrad_points(x, G.noise_sigma(x, 0.2), 4, seed=1, abs=False),
        G.smoothgrad_points(x, G.noise_sigma(x, 0.2), 4, seed=1, abs=True),
        IG.path_points(x, np.zeros_like(x), alphas, weights),
    ]
    assert [p.weights is not None for p in sums] == [True, True, False, True]
    targets = [0, 1, 1]
    counter = _Counter(net)
    early = G.sum_over_points_many(net, sums, targets, "logit", batch_size)
    del net.input_grad
    # the same sums with every weighing declared nonlinear: each row's gradient taken to the input, then summed
    rows = G.sum_over_points_many(net, [replace(p, weights=None) for p in sums], targets, "logit", batch_size)
    rtol = 1e-12 if dtype == "float64" else 1e-5
    for a, b in zip(early[0], rows[0], strict=True):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * np.abs(b).max())
    for a, b in zip(early[1], rows[1], strict=True):  # IG's rows formed after the first layer: round-off apart
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * np.abs(b).max())
    if task != "blobs8x8":  # dense layers only, or a fused first pair: no early sums (they cost more than they save)
        assert counter.rows == []
    elif batch_size is None:  # one pass: 3 rows for each linear sum, and the 3 x 4 rows of the |gradient| one
        assert counter.rows == [3 + 3 + 12 + 3]
    else:
        assert sum(counter.rows) < 3 * (1 + 4 + 4 + 6)


def test_ig_through_the_early_sums_is_the_hand_written_sum_of_gradients(shipped):
    net = shipped("blobs8x8")
    x = _batch("blobs8x8", 2, seed=5)
    targets = [0, 1]
    got = IG.integrated_gradients(net, x, target=targets, steps=9, quadrature="middle")
    # sum_k w_k grad(a_k x) * x, each gradient from its own one-row pass (vanilla: no early sum)
    alphas, weights = IG.quadrature_rule("middle", 9)
    want = sum(w * G.saliency(net, a * x, target=targets, abs=False) for a, w in zip(alphas, weights, strict=True)) * x
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15 * np.abs(want).max())


@pytest.mark.parametrize("task", ["blobs8x8", "blobs8x8-gap"])
def test_a_forward_pass_from_a_layer_continues_the_whole_one(task, shipped):
    """By construction: four rows of these models fit one block of columns per convolution, so both passes run
    the same GEMMs (see tests/roundoff.py for passes cut into other blocks)."""
    net = shipped(task)
    x = _batch(task, 4, seed=6)
    whole = net.forward(x)
    at_one = net.forward(x, stop=0)
    np.testing.assert_array_equal(net.forward(at_one, start=1), whole)
    assert net.inputs[0] is None and net.outputs[0] is None  # layer 0 did not run in that pass
    with pytest.raises(RuntimeError, match="started at layer 1"):
        net.backward(np.ones_like(whole), stop=0)
    with pytest.raises(ValueError, match="layer 1's input shape"):
        net.forward(x, start=1)


@pytest.mark.parametrize("batch_size", [None, 1, 7, 23])
def test_path_points_formed_after_the_linear_layers_are_the_points_taken_through_them(batch_size, shipped):
    from saliency_cli.methods import pointsums as PS

    net = shipped("blobs8x8")
    x = _batch("blobs8x8", 3, seed=8)
    base = np.random.default_rng(9).normal(size=x.shape)
    alphas, weights = IG.quadrature_rule("trapezoid", 6)
    sums = [G.gradient_points(x), IG.path_points(x, base, alphas, weights)]
    total = sum(len(x) * p.n_points for p in sums)
    step = total if batch_size is None else batch_size
    for lo in range(0, total, step):  # the chunks of _sum_over_points, example by example within each method
        pieces, at = [], 0
        for i, p in enumerate(sums):
            size = len(x) * p.n_points
            a, b = max(lo - at, 0), min(lo + step - at, size)
            if a < b:
                ex, k = np.divmod(np.arange(a, b), p.n_points)
                pieces.append((i, ex, k, b - a == size))
            at += size
        formed, start = PS._rows(net, sums, pieces, 1)
        inputs = np.concatenate([sums[i].points(ex, k) for i, ex, k, _ in pieces])
        path = [ex for i, ex, _, _ in pieces if i == 1]
        # formed after the first layer when the two ends of each path take no more rows than its points
        assert start == (1 if path and 2 * (path[0][-1] - path[0][0] + 1) <= len(path[0]) else 0)
        direct = net.forward(inputs, stop=start - 1) if start else inputs
        np.testing.assert_allclose(formed, direct, rtol=1e-13, atol=1e-14 * np.abs(direct).max())
        first = PS._rows(net, sums, pieces, 0)
        np.testing.assert_array_equal(first[0], inputs)  # cut 0: the rows themselves
        assert first[1] == 0


@settings(max_examples=30, deadline=None)
@given(
    st.integers(0, 2**16),
    st.sampled_from(["relu", "leaky_relu"]),
    st.sampled_from([(3, 1, 1), (3, 2, 1), (2, 1, 0), (1, 1, 0)]),
    st.sampled_from([None, 5]),
    st.booleans(),
)
def test_random_conv_nets_give_the_row_by_row_sums(seed, act, conv, batch_size, gap):
    """Any first convolution (stride 2 and 1x1 ones go through the im2col engine), fused or not with its
    activation, chunked or not: the early sums and the formed path points give what every row's own gradient gives."""
    rng = np.random.default_rng(seed)
    head = "gap" if gap else "flatten"
    net = random_network(rng, 2, 6, 7, [(4, *conv), (3, 3, 1, 1)], 5, act=act, pool=not gap, head=head)
    x = rng.normal(size=(2, 2, 6, 7))
    base = rng.normal(size=x.shape)
    alphas, weights = IG.quadrature_rule("gauss-legendre", 5)
    sums = [G.gradient_points(x), G.smoothgrad_points(x, G.noise_sigma(x, 0.3), 3, seed=seed, abs=True)]
    sums.append(IG.path_points(x, base, alphas, weights))
    targets = rng.integers(0, 3, size=2)
    early = G.sum_over_points_many(net, sums, targets, "logit", batch_size)
    rows = G.sum_over_points_many(net, [replace(p, weights=None) for p in sums], targets, "logit", batch_size)
    for a, b in zip(early[0] + early[1], rows[0] + rows[1], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-13 * max(1.0, np.abs(b).max()))
