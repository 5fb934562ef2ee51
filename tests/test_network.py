"""The sequential network: shape chaining, cached activations, and input gradients vs finite differences."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from saliency_cli.locate import find_default_model
from saliency_cli.nn.layers import Conv2d, Dense, Flatten, ReLU, ShapeError
from saliency_cli.nn.modelfile import load_model
from saliency_cli.nn.network import Network
from saliency_cli.nn.train import TrainConfig, fit
from saliency_cli.tasks import TASKS

from .gradcheck import directional_derivative, numerical_gradient, relative_error
from .netgen import piece_of, random_network


@st.composite
def networks(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    c, h, w = draw(st.integers(1, 2)), draw(st.integers(4, 6)), draw(st.integers(4, 6))
    specs = [
        (draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 2)), draw(st.integers(0, 1)))
        for _ in range(draw(st.integers(1, 2)))
    ]
    act = draw(st.sampled_from(["relu", "leaky_relu"]))
    head = draw(st.sampled_from(["flatten", "gap"]))
    try:
        net = random_network(rng, c, h, w, specs, 4, act=act, pool=draw(st.booleans()), head=head)
    except ShapeError:
        net = random_network(rng, c, h, w, [(2, 3, 1, 1)], 4, act=act, pool=False, head=head)
    return net, rng.normal(size=(2, c, h, w))


@settings(max_examples=30, deadline=None)
@given(networks())
def test_input_gradient_of_any_output_vector_matches_finite_differences(case):
    net, x = case
    directions = np.random.default_rng(1).normal(size=(3, *x.shape))
    for stop in (net.logit_index, len(net.layers) - 1):
        v = np.random.default_rng(0).normal(size=net.forward(x, stop=stop).shape)
        net.forward(x, stop=stop)
        grad = net.backward(v)

        def f(z, stop=stop, v=v):
            return float(np.sum(net.forward(z, stop=stop) * v))

        # Wide steps kept on the piece of x: no kink is straddled, and round-off stays small even where
        # a saturated softmax makes the gradient tiny.
        h = 1e-3
        # NOTE: central differences cannot resolve a derivative below their round-off, about eps * |f| / h
        # (a saturated softmax makes the whole gradient ~1e-8, where that floor is ~1e-13 absolute).
        floor = 64 * np.finfo(float).eps * max(1.0, abs(f(x))) / h
        # Along three random unit directions d, not every coordinate (gradcheck.directional_derivative), to 1e-6
        # of the sum's size, sum |grad * d|: an error e in the gradient moves grad . d by e . d (spread |e| /
        # sqrt(n)). On 40 random networks of this kind it caught every single-coordinate error of 1e-3 max |grad|
        # that the coordinate-by-coordinate check caught (those above the round-off floor), at a twentieth of the cost.
        for d in (d / np.linalg.norm(d) for d in directions):
            numeric = directional_derivative(f, x.copy(), d, h=h, piece=piece_of(net, stop))
            err = abs(float(np.sum(grad * d)) - numeric)
            bound = 1e-6 * float(np.sum(np.abs(grad * d))) + floor
            assert err <= bound, f"network input gradient (stop={stop}) along a random direction: {err:.3g}"


def test_gradient_with_respect_to_a_layer_output_is_kept(rng):
    net = random_network(rng, 2, 6, 6, [(3, 3, 1, 1)], 5)
    x = rng.normal(size=(1, 2, 6, 6))
    v = np.array([[1.0, 0.0, 0.0]])
    net.forward(x, stop=net.logit_index)
    net.backward(v, keep=True)
    i = net.index("conv1")
    a = net.outputs[i].copy()

    def f(z):  # logit 0 as a function of conv1's output
        out = z
        for layer in net.layers[i + 1 : net.logit_index + 1]:
            out = layer.forward(out)
        return float(out[0, 0])

    assert relative_error(net.output_grads[i], numerical_gradient(f, a)) < 1e-6


def test_forward_caches_each_layers_input_and_output(rng):
    net = random_network(rng, 1, 5, 5, [(2, 3, 1, 1)], 4, pool=False)
    x = rng.normal(size=(3, 1, 5, 5))
    y = net.forward(x)
    assert len(net.inputs) == len(net.outputs) == len(net.layers)
    np.testing.assert_array_equal(net.inputs[0], x)
    for i in range(1, len(net.layers)):
        np.testing.assert_array_equal(net.inputs[i], net.outputs[i - 1])
    np.testing.assert_array_equal(net.outputs[-1], y)
    np.testing.assert_allclose(y.sum(axis=1), 1.0)
    # the relu's pre-activation is the conv's output
    assert net.layers[1].type == "relu"
    np.testing.assert_array_equal(net.outputs[1], np.maximum(net.inputs[1], 0))


def test_names_indices_and_logit_index(rng):
    net = random_network(rng, 1, 5, 5, [(2, 3, 1, 1), (2, 3, 1, 1)], 4)
    assert net.names[:4] == ["conv1", "relu1", "conv2", "relu2"]
    assert net.names[-3:] == ["relu3", "dense2", "softmax1"]
    assert net.index("conv2") == 2 and net.index(-1) == len(net.layers) - 1 and net.index("3") == 3
    assert net.logit_index == len(net.layers) - 2
    with pytest.raises(KeyError):
        net.index("conv9")
    with pytest.raises(KeyError):
        net.index(99)


def test_layers_that_do_not_chain_are_rejected():
    with pytest.raises(ShapeError, match="layer 1"):
        Network([Flatten(), Dense(10, 2)], (1, 3, 3))
    with pytest.raises(ShapeError, match="vector"):
        Network([Conv2d(1, 2, 3)], (1, 3, 3))
    with pytest.raises(ShapeError, match="input shape"):
        Network([Flatten(), Dense(9, 2)], (1, 3, 3)).forward(np.zeros((1, 1, 4, 4)))


def test_params_hash_changes_with_any_parameter(rng):
    net = random_network(rng, 1, 5, 5, [(2, 3, 1, 1)], 4, pool=False)
    before = net.params_hash()
    assert before == net.params_hash()
    net.layers[0].params["bias"][1] += 1e-12
    assert net.params_hash() != before


def _hash_by_definition(net) -> str:
    """SHA-256 over each parameter's key, shape and float64 bytes, in order (written out here)."""
    digest = hashlib.sha256()
    for i, layer in enumerate(net.layers):
        for name, value in layer.params.items():
            digest.update(f"{i}.{name}".encode())
            digest.update(str(tuple(value.shape)).encode())
            digest.update(np.asarray(value, dtype=np.float64).tobytes(order="C"))
    return digest.hexdigest()


def test_params_hash_is_never_stale_after_in_place_changes(rng):
    net = random_network(rng, 1, 5, 5, [(2, 3, 1, 1)], 4, pool=False)
    seen = {net.params_hash()}
    assert net.params_hash() == _hash_by_definition(net)
    weight = net.layers[0].params["weight"]
    changes = [
        lambda: weight.__setitem__((1, 0, 2, 2), np.nextafter(weight[1, 0, 2, 2], np.inf)),  # one ulp, in place
        lambda: net.layers[-2].params["bias"].__setitem__(0, 0.0),  # the last layer's parameters too
        lambda: net.layers[-2].params["bias"].__setitem__(0, -0.0),  # equal as a number, not as bytes
        lambda: weight.__setitem__(slice(None), weight[::-1].copy()),  # the same bytes permuted
        lambda: net.layers[0].params.__setitem__("weight", weight.reshape(1, 2, 3, 3).copy()),  # a new shape
    ]
    for change in changes:
        change()
        h = net.params_hash()
        assert h == _hash_by_definition(net) and h not in seen
        seen.add(h)
        assert net.params_hash() == h  # served again while nothing changes
    net.layers[0].params["weight"] = net.layers[0].params["weight"].copy()  # a new array, the same values
    assert net.params_hash() == h


def test_params_hash_sees_training_steps_and_float32_copies_hash_their_own_values(shipped):
    net = shipped("blobs8x8")
    before = net.params_hash()
    assert before == _hash_by_definition(net)
    n32 = net.astype("float32")
    assert n32.params_hash() == _hash_by_definition(n32) != before  # float32 values, widened to float64
    x, y, _ = TASKS["blobs8x8"].sample(8, np.random.default_rng(0), noise=0.1)
    trained = load_model(find_default_model("blobs8x8")[0])
    assert trained.params_hash() == before
    fit(trained, x, y, TrainConfig(epochs=1, batch_size=4))  # Adam's steps change the parameters in place
    assert trained.params_hash() == _hash_by_definition(trained) != before


def test_relu_repr_and_summary(rng):
    net = Network([Flatten(), Dense(4, 2), ReLU(), Dense(2, 2)], (1, 2, 2))
    rows = net.summary()
    assert [r["output_shape"] for r in rows] == [[4], [2], [2], [2]]
    assert [r["parameters"] for r in rows] == [0, 10, 0, 6]
    assert net.num_parameters() == 16
    assert "dense1" in repr(net) and "in_features=4" in repr(net)
    assert list(rows[1]) == ["index", "name", "type", "output_shape", "parameters"]  # no "inputs": a chain
    assert [(r["index"], r["name"], r["type"]) for r in rows] == [
        (0, "flatten1", "flatten"),
        (1, "dense1", "dense"),
        (2, "relu1", "relu"),
        (3, "dense2", "dense"),
    ]
    assert repr(net).splitlines() == [
        "Network(input_shape=(1, 2, 2),",
        *(f"  ({layer.name}): {layer!r}" for layer in net.layers),
        ")",
    ]
    assert repr(net.layers[1]) == "Dense(in_features=4, out_features=2)"
