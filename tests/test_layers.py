"""Every layer's backward against finite differences, and forward against direct definitions."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from saliency_cli.nn import ops
from saliency_cli.nn.layers import (
    Conv2d,
    Dense,
    Flatten,
    GlobalAvgPool,
    LeakyReLU,
    MaxPool2d,
    ReLU,
    ShapeError,
    Softmax,
)

from .gradcheck import check_layer_gradients

SETTINGS = settings(max_examples=25, deadline=None)


def away_from_kinks(x: np.ndarray, margin: float = 1e-3) -> np.ndarray:
    """Push values off 0 so that a finite-difference step never crosses a relu kink."""
    return np.where(np.abs(x) < margin, np.sign(x + 1e-12) * margin * 2, x)


def conv_reference(x, w, b, stride, padding):
    """Direct definition of cross-correlation, looping over output positions (test-only)."""
    n, _, h, wd = x.shape
    o, _, k, _ = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    ho, wo = (h + 2 * padding - k) // stride + 1, (wd + 2 * padding - k) // stride + 1
    y = np.zeros((n, o, ho, wo))
    for i in range(ho):
        for j in range(wo):
            patch = xp[:, :, i * stride : i * stride + k, j * stride : j * stride + k]
            y[:, :, i, j] = np.einsum("nckl,ockl->no", patch, w) + b
    return y


@st.composite
def conv_cases(draw):
    k = draw(st.integers(1, 3))
    stride = draw(st.integers(1, 3))
    padding = draw(st.integers(0, 2))
    h = draw(st.integers(max(1, k - 2 * padding), 6))
    w = draw(st.integers(max(1, k - 2 * padding), 6))
    return {
        "n": draw(st.integers(1, 2)),
        "c": draw(st.integers(1, 3)),
        "o": draw(st.integers(1, 3)),
        "h": h,
        "w": w,
        "k": k,
        "stride": stride,
        "padding": padding,
        "seed": draw(st.integers(0, 2**16)),
    }


@SETTINGS
@given(conv_cases())
def test_conv2d_forward_matches_direct_definition_and_backward_matches_finite_differences(case):
    rng = np.random.default_rng(case["seed"])
    layer = Conv2d(case["c"], case["o"], case["k"], case["stride"], case["padding"])
    layer.params = {
        "weight": rng.normal(size=(case["o"], case["c"], case["k"], case["k"])),
        "bias": rng.normal(size=case["o"]),
    }
    x = rng.normal(size=(case["n"], case["c"], case["h"], case["w"]))
    expected = conv_reference(x, layer.params["weight"], layer.params["bias"], case["stride"], case["padding"])
    np.testing.assert_allclose(layer.forward(x), expected, rtol=1e-12, atol=1e-12)
    assert layer.output_shape(x.shape[1:]) == expected.shape[1:]
    check_layer_gradients(layer, x, rng)


@SETTINGS
@given(st.integers(1, 3), st.integers(1, 3), st.integers(2, 7), st.integers(2, 7), st.integers(0, 2**16))
def test_maxpool2d_matches_window_max_and_routes_gradient_to_the_winner(k, stride, h, w, seed):
    rng = np.random.default_rng(seed)
    k = min(k, h, w)
    layer = MaxPool2d(k, stride)
    # Distinct values so that the winner is unique and finite differences do not cross a tie.
    x = rng.permutation(2 * 2 * h * w).reshape(2, 2, h, w).astype(float) / 10.0
    y = layer.forward(x)
    ho, wo = (h - k) // stride + 1, (w - k) // stride + 1
    for i in range(ho):
        for j in range(wo):
            np.testing.assert_array_equal(
                y[:, :, i, j], x[:, :, i * stride : i * stride + k, j * stride : j * stride + k].max(axis=(2, 3))
            )
    check_layer_gradients(layer, x, rng)


def test_maxpool2d_tie_sends_gradient_to_the_first_maximum_only():
    layer = MaxPool2d(2)
    x = np.ones((1, 1, 2, 2))
    layer.forward(x)
    dx = layer.backward(np.ones((1, 1, 1, 1)))
    np.testing.assert_array_equal(dx[0, 0], [[1.0, 0.0], [0.0, 0.0]])


@SETTINGS
@given(st.integers(1, 4), st.integers(1, 6), st.integers(1, 6), st.integers(0, 2**16))
def test_dense_backward_matches_finite_differences(n, fin, fout, seed):
    rng = np.random.default_rng(seed)
    layer = Dense(fin, fout)
    layer.params = {"weight": rng.normal(size=(fout, fin)), "bias": rng.normal(size=fout)}
    x = rng.normal(size=(n, fin))
    np.testing.assert_allclose(layer.forward(x), x @ layer.params["weight"].T + layer.params["bias"])
    check_layer_gradients(layer, x, rng)


@pytest.mark.parametrize(
    "layer", [ReLU(), LeakyReLU(0.1), Flatten(), GlobalAvgPool(), Softmax()], ids=lambda layer: layer.type
)
@SETTINGS
@given(seed=st.integers(0, 2**16))
def test_parameter_free_layers_backward_matches_finite_differences(layer, seed):
    rng = np.random.default_rng(seed)
    shape = (2, 5) if layer.type == "softmax" else (2, 3, 4, 5)
    x = away_from_kinks(rng.normal(size=shape))
    check_layer_gradients(layer, x, rng)


def test_activation_values():
    x = np.array([[-2.0, 0.0, 3.0]])
    np.testing.assert_array_equal(ReLU().forward(x), [[0.0, 0.0, 3.0]])
    np.testing.assert_array_equal(LeakyReLU(0.1).forward(x), [[-0.2, 0.0, 3.0]])
    p = Softmax().forward(x)
    np.testing.assert_allclose(p, np.exp(x) / np.exp(x).sum())
    np.testing.assert_allclose(ops.softmax(np.array([[1000.0, 0.0]])), [[1.0, 0.0]])


def test_flatten_uses_channel_row_column_order_like_torch():
    x = np.arange(2 * 3 * 2 * 2, dtype=float).reshape(2, 3, 2, 2)
    np.testing.assert_array_equal(Flatten().forward(x)[1], np.arange(12, 24))


def test_im2col_and_col2im_are_adjoint(rng):
    # <im2col(x), c> == <x, col2im(c)> for every x, c: the defining property of the adjoint.
    x = rng.normal(size=(2, 3, 5, 6))
    cols = ops.im2col(x, 3, 2, 1)
    c = rng.normal(size=cols.shape)
    lhs = float(np.sum(cols * c))
    rhs = float(np.sum(x * ops.col2im(c, x.shape, 3, 2, 1)))
    assert abs(lhs - rhs) < 1e-10 * max(1.0, abs(lhs))


@pytest.mark.parametrize(
    ("layer", "shape"),
    [
        (Conv2d(2, 4, 3), (3, 8, 8)),
        (Conv2d(2, 4, 5), (2, 3, 3)),
        (MaxPool2d(4), (1, 3, 3)),
        (Dense(10, 2), (11,)),
        (Dense(10, 2), (1, 10, 1)),
        (GlobalAvgPool(), (5,)),
        (Softmax(), (2, 3, 3)),
    ],
)
def test_output_shape_rejects_inputs_that_do_not_fit(layer, shape):
    with pytest.raises(ShapeError):
        layer.output_shape(shape)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("slope", [0.0, 0.01, 0.1, 1.0, 2.0])
def test_leaky_relu_backward_is_the_masked_copy_bit_for_bit(dtype, slope):
    """dy where x > 0, slope * dy elsewhere: signed zeros, infinities and NaN included, on a strided view."""
    rng = np.random.default_rng(7)
    x = rng.normal(size=(3, 4, 6, 6)).astype(dtype)[:, :, 1:5, 1:5].transpose(1, 0, 2, 3)
    dy = rng.normal(size=x.shape).astype(dtype)
    x[0, 0, 0, :4] = [0.0, -0.0, np.inf, -np.inf]
    dy[0, 0, 1, :4] = [0.0, -0.0, np.inf, np.nan]
    dy[0, 0, 0, :4] = [np.inf, -0.0, np.nan, -1e-30]
    layer = LeakyReLU(slope)
    with np.errstate(invalid="ignore"):  # inf * 0 where the slope is 0
        layer.forward(x)
        got = layer.backward(dy)
        want = np.where(x > 0, dy, dy * dtype(slope))
    assert got.dtype == dtype and got.shape == x.shape
    assert np.array_equal(got, want, equal_nan=True) and np.array_equal(np.signbit(got), np.signbit(want))
