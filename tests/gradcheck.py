"""Independent reference for every backward: float64 central finite differences."""

from __future__ import annotations

import numpy as np


def numerical_gradient(f, x: np.ndarray, h: float = 1e-5, piece=None) -> np.ndarray:
    """d f(x) / d x for a scalar function f: central differences with Richardson extrapolation.

    D(h) = (f(x + h) - f(x - h)) / 2h has error O(h^2); (4 D(h/2) - D(h)) / 3 cancels it to O(h^4), so a
    wide step keeps round-off small without truncation error. For a piecewise function, `piece(x)`
    returns a hashable description of the piece at x (an activation pattern): the step is halved until
    x - h and x + h lie on the piece of x (pieces are convex, so x +- h/2 do too).
    """
    grad = np.zeros_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    home = piece(x) if piece else None

    def at(i, value):
        flat[i] = value
        return f(x), (piece(x) if piece else None)

    for i in range(flat.size):
        old, step = flat[i], h
        while True:
            (up, up_piece), (down, down_piece) = at(i, old + step), at(i, old - step)
            if (up_piece == home and down_piece == home) or step < 1e-10:
                break
            step /= 2
        (up2, _), (down2, _) = at(i, old + step / 2), at(i, old - step / 2)
        flat[i] = old
        wide, narrow = (up - down) / (2 * step), (up2 - down2) / step
        gflat[i] = (4 * narrow - wide) / 3
    return grad


def directional_derivative(f, x: np.ndarray, d: np.ndarray, h: float = 1e-5, piece=None) -> float:
    """d f(x + t d) / dt at t = 0: `numerical_gradient` along the line through x in direction d.

    Checking a gradient g against it (g . d) along a few random directions keeps a full check's power at a
    fraction of its cost: an error e in g shows as e . d, Gaussian with spread |e| / sqrt(n) for a unit d drawn
    from a normal distribution, so it hides below a tolerance t only with probability about t sqrt(n) / |e|.
    """
    on_line = (lambda t: piece(x + t[0] * d)) if piece else None
    return float(numerical_gradient(lambda t: f(x + t[0] * d), np.zeros(1), h=h, piece=on_line)[0])


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    """Normwise relative error max|a - b| / max(max|a|, max|b|), 0 when both are 0."""
    if a.shape != b.shape:
        raise AssertionError(f"shapes differ: {a.shape} vs {b.shape}")
    scale = max(float(np.max(np.abs(a), initial=0.0)), float(np.max(np.abs(b), initial=0.0)))
    return float(np.max(np.abs(a - b), initial=0.0)) / scale if scale > 0 else 0.0


def check_layer_gradients(layer, x: np.ndarray, rng: np.random.Generator, tol: float = 1e-6) -> None:
    """Assert that layer.backward matches finite differences for the input and every parameter.

    The scalar checked is sum(forward(x) * v) for a fixed random v, so every output element counts.
    """
    v = rng.normal(size=layer.forward(x).shape)
    layer.forward(x)
    dx = layer.backward(v.copy(), param_grads=True)
    analytic = {"input": dx, **{k: g.copy() for k, g in layer.grads.items()}}

    def scalar(_):
        return float(np.sum(layer.forward(x) * v))

    numeric = {"input": numerical_gradient(scalar, x)}
    for key, param in layer.params.items():
        numeric[key] = numerical_gradient(scalar, param)
    for key in numeric:
        err = relative_error(analytic[key], numeric[key])
        assert err < tol, f"{layer!r} backward, {key}: relative error {err:.3g}"
