"""Exact Integrated Gradients for piecewise-linear networks (the idea of ExactLine, Sotoudeh & Thakur 2019).

On the straight path x(t) = x' + t (x - x'), t in [0, 1], a network made of affine layers, relu/leaky_relu
and max-pooling is affine in t between the points where some unit changes its linear piece: a relu
pre-activation crosses zero, or a max-pool window changes its winner. The gradient is constant on each
piece, so the path integral is a finite sum, exact up to float64 round-off:

    IG = (x - x') * sum_p (t_{p+1} - t_p) * grad(x(m_p)),   m_p the midpoint of piece p.

The walk carries each unit's value and its derivative along the path (a forward-mode pass with the pattern
that holds just after t) and jumps to the first point where any unit changes piece.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import UserError
from ..nn import ops

#: Layers whose output is an affine function of their input.
_AFFINE = {"dense", "conv2d", "flatten", "global_avg_pool"}
_KINKED = {"relu", "leaky_relu"}
EXACT_LAYERS = frozenset(_AFFINE | _KINKED | {"maxpool2d"})

# NOTE: after a jump the unit that triggered it sits at ~1e-16 of its scale instead of 0; values within
# this relative tolerance of a kink are treated as *on* it, and their side is chosen by the direction.
_TOL = 1e-12
#: Default cap on the linear pieces of one path. Each piece costs one step of the walk (a pass through the
#: network for all unfinished paths) and one gradient row: a 16-layer "tent map" network of 2x2 dense layers
#: has 2^16 pieces along one path, 20 layers a million. Past the cap the walk stops (TooManyPieces).
MAX_PIECES = 10_000


class TooManyPieces(UserError):
    """A path has more linear pieces than the cap: exact IG would cost too much (the walk stopped there)."""

    def __init__(self, cap: int, path: int):
        super().__init__(f"exact IG needs more than {cap:,} linear pieces along a path")
        self.cap, self.path = cap, path


@dataclass
class ExactPath:
    """The breakpoints t_0 = 0 < ... < t_P = 1 of one path and the gradient on each piece (P, *input)."""

    breakpoints: np.ndarray
    gradients: np.ndarray

    @property
    def pieces(self) -> int:
        return len(self.breakpoints) - 1


def check_exact(net, stop: int) -> None:
    """Refuse, naming the layer, when layers 0..stop are not all piecewise linear."""
    for layer in net.layers[: stop + 1]:
        if layer.type not in EXACT_LAYERS:
            raise UserError(
                f"exact Integrated Gradients needs a piecewise-linear network up to the explained output, "
                f"but layer {layer.name} ({layer.type}) is not piecewise linear; explain a logit or use a "
                f"quadrature such as --quadrature right"
            )


def _linear_part(layer, d: np.ndarray) -> np.ndarray:
    """The layer's derivative along direction `d` (its linear part: no bias)."""
    match layer.type:
        case "dense":
            return d @ layer.params["weight"].T
        case "conv2d":
            return ops.conv2d(d, layer.params["weight"], None, layer.stride, layer.padding)
        case "flatten":
            return d.reshape(d.shape[0], -1)
        case "global_avg_pool":
            return d.mean(axis=(2, 3))
    raise AssertionError(layer.type)


def _row_tol(z: np.ndarray) -> np.ndarray:
    """_TOL times each row's scale (at least 1), shaped to broadcast against z (N, ...)."""
    scale = np.abs(z).reshape(len(z), -1).max(axis=1, initial=0.0)
    return (_TOL * np.maximum(1.0, scale)).reshape(-1, *[1] * (z.ndim - 1))


def _row_min(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Per row, the smallest of `values` where `mask` holds (inf where it never does)."""
    return np.where(mask, values, np.inf).reshape(len(values), -1).min(axis=1, initial=np.inf)


def _first_event(z: np.ndarray, dz: np.ndarray, near: np.ndarray) -> np.ndarray:
    """Per row, the smallest s > 0 with z + s dz = 0 among units not already on their kink."""
    crossing = ~near & (np.signbit(z) != np.signbit(dz)) & (z != 0) & (dz != 0)  # NOTE: z * dz may overflow
    with np.errstate(over="ignore"):  # a ratio past float64's range is a crossing beyond the path: inf is right
        ratio = np.divide(-z, dz, out=np.full(z.shape, np.inf), where=crossing)
    return _row_min(ratio, crossing)


def _step_rows(net, x: np.ndarray, d: np.ndarray, stop: int) -> np.ndarray:
    """From points x (N, *input) in directions d: per row, the largest s such that the pattern holds on (0, s).

    Rows are independent paths (each with its own tolerance), so walking N paths at once gives
    exactly what walking each alone gives.
    """
    z, dz, s = x, d, np.full(len(x), np.inf)
    for layer in net.layers[: stop + 1]:
        if layer.type in _AFFINE:
            z, dz = layer.forward(z), _linear_part(layer, dz)
        elif layer.type in _KINKED:
            near = np.abs(z) <= _row_tol(z)
            active = np.where(near, (dz > 0) | ((dz == 0) & (z > 0)), z > 0)
            s = np.minimum(s, _first_event(z, dz, near))
            slope = 0.0 if layer.type == "relu" else layer.negative_slope
            z, dz = np.where(active, z, slope * z), np.where(active, dz, slope * dz)
        else:  # maxpool2d
            k, stride = layer.kernel_size, layer.stride
            v = ops.windows(z, k, stride).reshape(*z.shape[:2], -1, k * k)
            dv = ops.windows(dz, k, stride).reshape(*z.shape[:2], -1, k * k)
            tol = _row_tol(v)
            top = v.max(axis=-1, keepdims=True)
            # The winner just after t: the largest value, ties (within tol) to the one growing fastest.
            contenders = v >= top - tol
            w = np.where(contenders, dv, -np.inf).argmax(axis=-1)[..., None]
            vw, dvw = np.take_along_axis(v, w, -1), np.take_along_axis(dv, w, -1)
            # A rival j overtakes the winner when v_j + s dv_j = v_w + s dv_w with dv_j > dv_w.
            gap, closing = vw - v, dv - dvw
            overtakes = (closing > 0) & ~contenders
            s = np.minimum(
                s, _row_min(np.divide(gap, closing, out=np.full(v.shape, np.inf), where=overtakes), overtakes)
            )
            ho, wo = layer.output_shape(z.shape[1:])[1:]
            z, dz = vw[..., 0].reshape(*z.shape[:2], ho, wo), dvw[..., 0].reshape(*z.shape[:2], ho, wo)
    return s


def _advance(t: np.ndarray, s: np.ndarray) -> np.ndarray:
    # NOTE: a jump never shorter than a few ulps of t, so a unit sitting on its kink cannot stall the walk.
    return np.minimum(1.0, t + np.maximum(np.maximum(s, 4 * np.spacing(np.maximum(t, 1e-300))), 1e-15))


def breakpoints(net, x: np.ndarray, baseline: np.ndarray, stop: int, max_pieces: int = MAX_PIECES) -> np.ndarray:
    """All t in [0, 1] where a unit of layers 0..stop changes its linear piece, with 0 and 1 (sorted)."""
    return breakpoints_many(net, x[None], baseline[None], stop, max_pieces)[0]


def exact_path(
    net, x, baseline, v, stop: int, batch_size: int | None = None, max_pieces: int = MAX_PIECES
) -> ExactPath:
    """Breakpoints and per-piece gradients of <v, output of layer `stop`> along the path.

    The gradients at all piece midpoints go through the network as one batch (chunks of `batch_size`).
    """
    ts = breakpoints(net, x, baseline, stop, max_pieces)
    mids = 0.5 * (ts[:-1] + ts[1:])
    grads = np.empty((len(mids), *x.shape))
    step = batch_size or len(mids)
    for start in range(0, len(mids), step):
        m = mids[start : start + step].reshape(-1, *[1] * x.ndim)
        net.forward((1.0 - m) * baseline[None] + m * x[None], stop=stop)
        grads[start : start + step] = net.backward(np.broadcast_to(v, (len(m), *v.shape)).copy())
    return ExactPath(ts, grads)


def exact_integrated_gradients(
    net, x, baseline, v, stop: int, batch_size: int | None = None, max_pieces: int = MAX_PIECES
):
    """Exact IG of the score <v, output of layer `stop`> for one input x (C, H, W).

    Returns the attribution (C, H, W) and the `ExactPath` (breakpoints, per-piece gradients).
    """
    path = exact_path(net, x, baseline, v, stop, batch_size, max_pieces)
    widths = np.diff(path.breakpoints).reshape(-1, *[1] * x.ndim)
    return (x - baseline) * (widths * path.gradients).sum(axis=0), path


def breakpoints_many(
    net, x: np.ndarray, baseline: np.ndarray, stop: int, max_pieces: int = MAX_PIECES, first: int = 0
) -> list[np.ndarray]:
    """`breakpoints` of N paths (x and baseline (N, *input)) walked side by side: one step of every
    unfinished path per pass through the network, instead of one path at a time.

    Raises TooManyPieces (naming path `first` + i) as soon as a path has more than `max_pieces` pieces,
    so the walk costs at most `max_pieces` passes.
    """
    check_exact(net, stop)
    d = x - baseline
    t = np.zeros(len(x))
    ts: list[list[float]] = [[0.0] for _ in range(len(x))]
    todo = np.flatnonzero(t < 1.0)
    while len(todo):
        a = t[todo].reshape(-1, *[1] * (x.ndim - 1))
        s = _step_rows(net, baseline[todo] + a * d[todo], d[todo], stop)
        t[todo] = _advance(t[todo], s)
        for i in todo:
            ts[i].append(float(t[i]))
            if len(ts[i]) > max_pieces + 1:
                raise TooManyPieces(max_pieces, first + int(i))
        todo = todo[t[todo] < 1.0]
    return [np.array(row) for row in ts]


def exact_integrated_gradients_many(
    net, x, baseline, v, stop: int, batch_size: int | None = None, max_pieces: int = MAX_PIECES
):
    """Exact IG of <v_i, output of layer `stop`> for N inputs x (N, *input) at once.

    The N paths are walked side by side (`breakpoints_many`) and the gradients at every piece's
    midpoint, of all paths together, go through the network as one batch (chunks of `batch_size`,
    default 1024 rows).

    Returns the attributions (N, *input) and the number of linear pieces of each path (N,).
    """
    group = batch_size or 1024  # NOTE: paths walked together, to bound the walk's memory as rows do
    paths = [
        ts
        for g in range(0, len(x), group)
        for ts in breakpoints_many(net, x[g : g + group], baseline[g : g + group], stop, max_pieces, g)
    ]
    owner = np.concatenate([np.full(len(ts) - 1, i) for i, ts in enumerate(paths)])
    mids = np.concatenate([0.5 * (ts[:-1] + ts[1:]) for ts in paths])
    widths = np.concatenate([np.diff(ts) for ts in paths])
    avg = np.zeros_like(x)
    step = batch_size or 1024
    for start in range(0, len(mids), step):
        rows = slice(start, start + step)
        i = owner[rows]
        m = mids[rows].reshape(-1, *[1] * (x.ndim - 1))
        net.forward((1.0 - m) * baseline[i] + m * x[i], stop=stop)
        g = net.backward(v[i])
        np.add.at(avg, i, widths[rows].reshape(m.shape) * g)
    return (x - baseline) * avg, np.array([len(ts) - 1 for ts in paths])
