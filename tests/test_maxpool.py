"""Max pooling's paths (non-overlapping windows copied into rows and merged as a tournament, the winners' scatter
in backward, strided views otherwise, argmax with NaN) against the definition, written here window by window."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from saliency_cli.nn import ops
from saliency_cli.nn.layers import MaxPool2d


def pool_reference(x: np.ndarray, k: int, s: int):
    """Window by window: the value and flat position of the first maximum in row-major order, as np.argmax
    (ties to the first; the first NaN wins); and the backward of dy routed to it, accumulated as 0.0 + dy."""
    n, c, h, w = x.shape
    ho, wo = (h - k) // s + 1, (w - k) // s + 1
    y, arg = np.zeros((n, c, ho, wo), dtype=x.dtype), np.zeros((n, c, ho, wo), dtype=np.intp)
    for a in range(n):
        for b in range(c):
            for i in range(ho):
                for j in range(wo):
                    window = [x[a, b, i * s + p, j * s + q] for p in range(k) for q in range(k)]
                    nan = [t for t, v in enumerate(window) if v != v]
                    best = nan[0] if nan else 0
                    if not nan:
                        for t, v in enumerate(window):
                            if v > window[best]:
                                best = t
                    arg[a, b, i, j], y[a, b, i, j] = best, window[best]
    return y, arg


def backward_reference(dy: np.ndarray, arg: np.ndarray, x_shape, k: int, s: int) -> np.ndarray:
    dx = np.zeros(x_shape, dtype=dy.dtype)
    n, c, ho, wo = dy.shape
    for a in range(n):
        for b in range(c):
            for i in range(ho):
                for j in range(wo):
                    p, q = divmod(int(arg[a, b, i, j]), k)
                    dx[a, b, i * s + p, j * s + q] += dy[a, b, i, j]
    return dx


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


CASES = [(2, 2), (3, 3), (2, 1), (3, 2), (2, 3), (1, 1), (4, 4)]


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from(CASES),
    st.integers(4, 9),
    st.integers(4, 9),
    st.sampled_from(["float64", "float32"]),
    st.booleans(),
    st.integers(0, 2**16),
)
def test_pooling_equals_the_window_by_window_definition(case, h, w, dtype, channel_major, seed):
    k, s = case
    rng = np.random.default_rng(seed)
    # few distinct values (many ties, signed zeros among them) so that the first-maximum rule is exercised
    values = np.array([-1.0, -0.0, 0.0, 0.5, 1.0, 2.0, np.inf, -np.inf])
    x = rng.choice(values, size=(3, 2, h, w)).astype(dtype)
    if channel_major:  # the conv engine's activations are (N, C, H, W) views of (C, N, H, W) arrays
        x = np.ascontiguousarray(x.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3)
    y, arg = ops.maxpool2d(x, k, s)
    want_y, want_arg = pool_reference(x, k, s)
    np.testing.assert_array_equal(arg, want_arg)
    assert same_bits(y, want_y)  # the winner's own element: -0.0 and 0.0 are told apart
    dy = rng.choice(values[:-2], size=y.shape).astype(dtype)  # finite, with -0.0
    dx = ops.maxpool2d_input_grad(dy, arg, x.shape, k, s)
    assert same_bits(dx, backward_reference(dy, arg, x.shape, k, s))


@pytest.mark.parametrize(("k", "s"), [(2, 2), (3, 3), (3, 1)])
def test_nan_wins_as_with_argmax(k, s, rng):
    x = rng.integers(0, 3, size=(2, 3, 7, 8)).astype(float)
    x[0, 1, 2, 3] = np.nan
    x[1, 2, 5, 6] = np.nan
    x[1, 2, 4, 6] = np.nan  # two NaN in one window when k = 3: the first wins
    y, arg = ops.maxpool2d(x, k, s)
    want_y, want_arg = pool_reference(x, k, s)
    np.testing.assert_array_equal(arg, want_arg)
    np.testing.assert_array_equal(y, want_y)  # NaN where the reference has NaN
    assert np.isnan(y).sum() > 0


def test_nan_in_dy_reaches_only_the_winner():
    x = np.array([[[[1.0, 3.0], [2.0, 0.0]]]])
    _, arg = ops.maxpool2d(x, 2, 2)
    dx = ops.maxpool2d_input_grad(np.array([[[[np.nan]]]]), arg, x.shape, 2, 2)
    assert np.isnan(dx[0, 0, 0, 1]) and np.count_nonzero(np.isnan(dx)) == 1 and np.all(dx[~np.isnan(dx)] == 0)


@pytest.mark.parametrize(("h", "w"), [(7, 8), (8, 7), (5, 5)])
def test_rows_and_columns_no_window_reaches_get_no_gradient(h, w, rng):
    x = rng.normal(size=(2, 3, h, w))
    layer = MaxPool2d(2)
    y = layer.forward(x)
    assert y.shape == (2, 3, h // 2, w // 2)
    dx = layer.backward(np.ones_like(y))
    assert dx.shape == x.shape
    assert not dx[:, :, 2 * (h // 2) :, :].any() and not dx[:, :, :, 2 * (w // 2) :].any()
    assert dx.sum() == y.size  # one winner per window
    np.testing.assert_array_equal(dx, backward_reference(np.ones_like(y), pool_reference(x, 2, 2)[1], x.shape, 2, 2))
