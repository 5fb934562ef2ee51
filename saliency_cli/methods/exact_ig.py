"""Exact Integrated Gradients for piecewise-linear networks (the idea of ExactLine, Sotoudeh & Thakur 2019).

On the straight path x(t) = x' + t (x - x'), t in [0, 1], a network made of affine layers, relu/leaky_relu
and max-pooling is affine in t between the points where some unit changes its linear piece: a relu
pre-activation crosses zero, or a max-pool window changes its winner. The gradient is constant on each
piece, so the path integral is a finite sum, exact up to float64 round-off:

    IG = (x - x') * sum_p (t_{p+1} - t_p) * grad(x(m_p)),   m_p the midpoint of piece p.

The walk carries each unit's value and its derivative along the path (a forward-mode pass with the pattern
that holds just after t) and jumps to the first point where any unit changes piece. The path is cut into
segments walked side by side, so that one pass through the network steps many of them (`breakpoints_many`).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from typing import NamedTuple

import numpy as np

from ..errors import UserError
from ..nn import blas, ops
from .batching import default_rows

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

    def __reduce__(self):  # NOTE: raised in a worker process, it comes back by pickling
        return (type(self), (self.cap, self.path))


class ExactPath(NamedTuple):
    """The breakpoints t_0 = 0 < ... < t_P = 1 of one path and the gradient on each piece (P, *input)."""

    breakpoints: np.ndarray
    gradients: np.ndarray

    @property
    def pieces(self) -> int:
        return len(self.breakpoints) - 1


#: Node kinds of the graph engine that are piecewise linear (see `nn.graph.base.Node.kind`).
EXACT_KINDS = frozenset({"affine", "kink", "maxpool"})


def check_exact(net, stop: int) -> None:
    """Refuse, naming the layer, when layers 0..stop are not all piecewise linear."""
    if hasattr(net, "plan"):  # a graph: the nodes the explained output depends on
        for i in net.plan(stop):
            node = net.layers[i]
            if node.kind not in EXACT_KINDS:
                raise UserError(
                    f"exact Integrated Gradients needs a piecewise-linear network up to the explained output, "
                    f"but node {node.name} ({node.type}) is not piecewise linear; use a quadrature such as "
                    f"--quadrature right"
                )
        return
    for layer in net.layers[: stop + 1]:
        if layer.type not in EXACT_LAYERS:
            raise UserError(
                f"exact Integrated Gradients needs a piecewise-linear network up to the explained output, "
                f"but layer {layer.name} ({layer.type}) is not piecewise linear; explain a logit or use a "
                f"quadrature such as --quadrature right"
            )


def _affine(layer, zz: np.ndarray, n: int) -> np.ndarray:
    """The layer on values and directions stacked as rows (2N, ...): its affine map on the first N rows (the
    values) and its linear part, without the bias, on the last N (the directions), in one call."""
    match layer.type:
        case "dense":
            out = zz @ layer.params["weight"].T
            out[:n] += layer.params["bias"]
            return out
        case "conv2d":
            out = ops.conv2d(zz, layer.params["weight"], None, layer.stride, layer.padding)
            out[:n] += layer.params["bias"][:, None, None]
            return out
        case "flatten":
            return zz.reshape(len(zz), -1)
        case "global_avg_pool":
            return zz.mean(axis=(2, 3))
    raise AssertionError(layer.type)


#: Values (one row's units at a time) a block of the relu step holds: small enough for the cache.
KINK_BLOCK = 1 << 16


def _kink_step(zz: np.ndarray, n: int, slope: float) -> tuple[np.ndarray, np.ndarray]:
    """A relu (slope 0) or leaky relu on values and directions stacked (2N, ...): its output just after the
    point, stacked alike, and per row the smallest s > 0 at which a unit not already on its kink crosses it.

    Rows are independent, so they go in cache-sized blocks shared out over the cores.
    """
    out, s = np.empty(zz.shape, dtype=zz.dtype), np.empty(n)
    rows = max(1, KINK_BLOCK // max(1, zz[0].size))
    blocks = [slice(a, min(n, a + rows)) for a in range(0, n, rows)]

    def run(_, part):
        for r in part:
            out[r], out[n + r.start : n + r.stop], s[r] = _kink_rows(zz[r], zz[n + r.start : n + r.stop], slope)

    workers = min(blas.threads(), len(blocks))
    blas.run_parts(run, [blocks[i::workers] for i in range(workers)])
    return out, s


def _kink_rows(z: np.ndarray, dz: np.ndarray, slope: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`_kink_step` on rows of values z and directions dz: (values out, directions out, smallest s per row).

    A unit within _TOL of its kink (relative to its row's scale) is *on* it: it takes the side it moves to.
    """
    n = len(z)
    size = np.abs(z)
    tol = _TOL * np.maximum(1.0, size.reshape(n, -1).max(axis=1, initial=0.0))
    near = size <= tol.reshape(-1, *[1] * (z.ndim - 1))
    active = z > 0
    if (on := np.flatnonzero(near)).size:  # NOTE: few units sit on a kink: fix those few, not every unit
        # NOTE: take/put index in C order whatever the layout (the conv engine's outputs are strided views)
        z_on, dz_on = np.take(z, on), np.take(dz, on)
        np.put(active, on, (dz_on > 0) | ((dz_on == 0) & (z_on > 0)))
    # The crossing at s = -z / dz > 0. NOTE: the ratio of every unit, then masked (a masked divide is slower):
    # 0/0 is nan and x/0 is inf, never a smallest s; a ratio past float64's range is a crossing beyond the
    # path (inf is right); and off the kink |z| > 1e-12, so a crossing's ratio cannot underflow to 0.
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        ratio = np.negative(z) / dz
    np.putmask(ratio, near, np.inf)
    s = np.where(ratio > 0, ratio, np.inf).reshape(n, -1).min(axis=1, initial=np.inf)
    if slope == 0.0:
        return np.where(active, z, 0.0), np.where(active, dz, 0.0), s
    return np.where(active, z, slope * z), np.where(active, dz, slope * dz), s


def _taps(z: np.ndarray, k: int, stride: int) -> np.ndarray:
    """Every k x k window of z (N, C, H, W) tap by tap: (k * k, N, C, windows), taps in row-major order."""
    n, c, h, w = z.shape
    if stride == k:  # NOTE: tiled windows by a reshape: ~5x cheaper than a sliding window view on small maps
        ho, wo = h // k, w // k
        tiles = z[:, :, : ho * k, : wo * k].reshape(n, c, ho, k, wo, k)
        return tiles.transpose(3, 5, 0, 1, 2, 4).reshape(k * k, n, c, ho * wo)
    win = ops.windows(z, k, stride)  # (N, C, Ho, Wo, k, k)
    return win.transpose(4, 5, 0, 1, 2, 3).reshape(k * k, n, c, -1)


def _pool_step(taps: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Max-pool windows of values and directions stacked (k * k, 2N, C, P): the winners' values and directions
    stacked (2N, C, P), and per row the largest s for which no window changes its winner on (0, s)."""
    v, dv = taps[:, :n], taps[:, n:]
    tol = (_TOL * np.maximum(1.0, np.abs(v).max(axis=(0, 2, 3)))).reshape(n, 1, 1)
    # The winner just after t: the largest value, ties (within tol) to the one growing fastest, the first of those.
    contenders = v >= v.max(axis=0) - tol
    best = np.where(contenders[0], dv[0], -np.inf)
    vw, dvw = v[0], dv[0]
    for j in range(1, len(taps)):
        rate = np.where(contenders[j], dv[j], -np.inf)
        better = rate > best
        best = np.where(better, rate, best)
        vw, dvw = np.where(better, v[j], vw), np.where(better, dv[j], dvw)
    # A rival j overtakes the winner when v_j + s dv_j = v_w + s dv_w with dv_j > dv_w.
    closing = dv - dvw
    overtakes = (closing > 0) & ~contenders
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):  # only the overtakers' ratios are read
        ratio = (vw - v) / closing
    s = np.where(overtakes, ratio, np.inf).min(axis=(0, 2, 3), initial=np.inf)
    return np.concatenate([vw, dvw]), s


def _step_rows(net, x: np.ndarray, d: np.ndarray, stop: int) -> np.ndarray:
    """From points x (N, *input) in directions d: per row, the largest s such that the pattern holds on (0, s).

    Rows are independent paths (each with its own tolerance), so walking N paths at once gives
    exactly what walking each alone gives. Values and directions go through each layer as one stacked batch.
    """
    if hasattr(net, "plan"):
        return _step_graph(net, x, d, stop)
    n = len(x)
    zz, s = np.concatenate([x, d]), np.full(n, np.inf)
    for layer in net.layers[: stop + 1]:
        if layer.type in _AFFINE:
            zz = _affine(layer, zz, n)
            continue
        if layer.type in _KINKED:
            zz, event = _kink_step(zz, n, 0.0 if layer.type == "relu" else layer.negative_slope)
            s = np.minimum(s, event)
        else:  # maxpool2d
            winners, event = _pool_step(_taps(zz, layer.kernel_size, layer.stride), n)
            s = np.minimum(s, event)
            zz = winners.reshape(len(zz), *layer.output_shape(zz.shape[1:]))
    return s


def _step_graph(net, x: np.ndarray, d: np.ndarray, stop: int) -> np.ndarray:
    """`_step_rows` on a graph: values and directions stacked (2N, ...) through the nodes node `stop` needs."""
    n = len(x)
    values, s = {net.input_name: np.concatenate([x, d])}, np.full(n, np.inf)
    for i in net.plan(stop):
        node = net.layers[i]
        zz = [values[name] for name in node.inputs]
        if node.kind == "affine":
            out = node.tangent(zz, n)
        elif node.kind == "kink":
            out, event = _kink_step(zz[0], n, node.slope)
            s = np.minimum(s, event)
        else:  # maxpool
            out, event = _graph_pool_step(node, zz[0], n)
            s = np.minimum(s, event)
        values[node.output] = out
    return s


def _graph_pool_step(node, zz: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """A graph's MaxPool on values and directions stacked (2N, C, H, W): `_pool_step` on its windows.

    NOTE: padding never wins: where windows reach into it, each row's values are shifted up by a constant so
    that all lie above 1 and the padding (read as 0) below them; a shift changes no winner and no crossing."""
    z, dz = zz[:n], zz[n:]
    shift = None
    if any(node.pads) or node.geometry.padded(*z.shape[2:]) != tuple(z.shape[2:]):
        lo = z.reshape(n, -1).min(axis=1)
        shift = (lo - 1.0 - (z.reshape(n, -1).max(axis=1) - lo)).reshape(n, 1, 1, 1)
        z = z - shift
    taps = np.concatenate([node.taps(z, 0.0), node.taps(dz, 0.0)], axis=1)
    kk, rows, c, ho, wo = taps.shape
    winners, s = _pool_step(taps.reshape(kk, rows, c, ho * wo), n)
    winners = winners.reshape(rows, c, ho, wo)
    if shift is not None:
        winners[:n] += shift
    return winners, s


def breakpoints(net, x: np.ndarray, baseline: np.ndarray, stop: int, max_pieces: int = MAX_PIECES) -> np.ndarray:
    """All t in [0, 1] where a unit of layers 0..stop changes its linear piece, with 0 and 1 (sorted)."""
    return breakpoints_many(net, x[None], baseline[None], stop, max_pieces)[0]


def exact_path(
    net, x, baseline, v, stop: int, batch_size: int | None = None, max_pieces: int = MAX_PIECES
) -> ExactPath:
    """Breakpoints and per-piece gradients of <v, output of layer `stop`> along the path.

    The gradients at all piece midpoints go through the network as one batch (chunks of `batch_size`, default
    `batching.default_rows(net)`).
    """
    ts = breakpoints(net, x, baseline, stop, max_pieces)
    mids = 0.5 * (ts[:-1] + ts[1:])
    grads = np.empty((len(mids), *x.shape))
    step = batch_size or default_rows(net)
    for start in range(0, len(mids), step):
        m = mids[start : start + step].reshape(-1, *[1] * x.ndim)
        net.forward((1.0 - m) * baseline[None] + m * x[None], stop=stop, lean=True)
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


#: A segment's last step must pass the cut that ends it by this much (in t) for the cut to be dropped; nearer,
#: the cut is kept as a breakpoint, which is harmless: the integral is the same with an extra breakpoint.
_CUT_MARGIN = 1e-9
#: Segments each path's walk starts with.
START = 8
#: Segments shorter than this are never split.
_MIN_SPLIT = 1e-6
#: Where cuts go, as a fraction of a gap: off the simple fractions where kinks of symmetric networks sit, so
#: that a cut rarely lands on a kink (which would be correct, the cut only kept).
_JITTER = 0.3819660112501051


class _Segments:
    """The walk's open segments: segment k walks [pos[k], end[k]) of path[k]'s t axis; end_cut[k] is the cut
    that ends it (an index into the walk's list of cuts), or -1 when it ends at t = 1."""

    __slots__ = ("end", "end_cut", "path", "pos")

    def __init__(self, path: np.ndarray, pos: np.ndarray, end: np.ndarray, end_cut: np.ndarray):
        self.path, self.pos, self.end, self.end_cut = path, pos, end, end_cut

    def __len__(self) -> int:
        return len(self.path)

    def take(self, which: np.ndarray) -> _Segments:
        return _Segments(self.path[which], self.pos[which], self.end[which], self.end_cut[which])


def _split(seg: _Segments, new: int, cuts_t: list[float], cuts_path: list[int]) -> _Segments:
    """`seg` with about `new` more segments, cut from the open ones in proportion to what remains of them.

    Every cut is appended to `cuts_t` / `cuts_path`; a segment cut c times becomes c + 1 segments.
    """
    remaining = np.where(seg.end - seg.pos >= _MIN_SPLIT, seg.end - seg.pos, 0.0)
    total = remaining.sum()
    if new < 1 or total <= 0.0:
        return seg
    count = np.floor(remaining / total * new).astype(np.int64)
    if not count.any():
        count[np.argmax(remaining)] = 1
    owner = np.repeat(np.arange(len(seg)), count)
    j = np.arange(len(owner)) - np.repeat(np.cumsum(count) - count, count) + 1  # 1..count within each owner
    at = seg.pos[owner] + (j - _JITTER) / (count[owner] + 1) * remaining[owner]
    ids = np.arange(len(cuts_t), len(cuts_t) + len(owner))
    cuts_t.extend(at.tolist())
    cuts_path.extend(seg.path[owner].tolist())
    # Every start, the old segment's own first, then its cuts in order; each segment ends where the next
    # start of the same old segment begins, the last one where the old segment ended.
    group = np.concatenate([np.arange(len(seg)), owner])
    pos = np.concatenate([seg.pos, at])
    start_cut = np.concatenate([np.full(len(seg), -1), ids])
    order = np.lexsort((pos, group))
    group, pos, start_cut = group[order], pos[order], start_cut[order]
    last = np.append(group[1:] != group[:-1], True)
    end = np.where(last, seg.end[group], np.append(pos[1:], 1.0))
    end_cut = np.where(last, seg.end_cut[group], np.append(start_cut[1:], -1))
    return _Segments(seg.path[group], pos, end, end_cut)


def breakpoints_many(
    net,
    x: np.ndarray,
    baseline: np.ndarray,
    stop: int,
    max_pieces: int = MAX_PIECES,
    first: int = 0,
    rows: int | None = None,
) -> list[np.ndarray]:
    """`breakpoints` of N paths (x and baseline (N, *input)), all walked together.

    Each path's [0, 1] is cut into segments that are walked side by side, one step of every open segment per
    pass through the network (about `rows` of them, default `batching.default_rows(net)`, and at least one
    per path). A segment that reaches its end without a kink is closed and its slot refilled by cutting the
    open ones, so the walk takes about pieces / rows passes instead of one pass per piece. A cut that turns
    out to lie inside a linear piece is dropped (see `_CUT_MARGIN`), so the breakpoints are the kinks.

    Raises TooManyPieces (naming path `first` + i) as soon as a path has more than `max_pieces` pieces; the
    walk costs at most `max_pieces` + 1 passes, and its rows at most twice the kinks found plus `START` per path.
    """
    check_exact(net, stop)
    n = len(x)
    if rows is None:
        rows = default_rows(net)
    budget = max(n, int(rows))
    d = x - baseline
    events: list[list[float]] = [[] for _ in range(n)]
    counts = np.zeros(n, dtype=np.int64)
    cuts_t: list[float] = []
    cuts_path: list[int] = []
    inside: dict[int, bool] = {}  # cut -> whether it turned out to lie inside a linear piece
    seg = _Segments(np.arange(n), np.zeros(n), np.ones(n), np.full(n, -1))
    created, found = n, 0
    while len(seg):
        # NOTE: START segments per path to begin with, then one new segment per kink found: a pass costs
        # per row as well as per call, so rows grow with the kinks a path turns out to have (bounded rows).
        allowance = min(budget - len(seg), found + START * n - created)
        if allowance > 0:
            before = len(seg)
            seg = _split(seg, allowance, cuts_t, cuts_path)
            created += len(seg) - before
        a = seg.pos.reshape(-1, *[1] * (x.ndim - 1))
        s = _step_rows(net, baseline[seg.path] + a * d[seg.path], d[seg.path], stop)
        # NOTE: a jump never shorter than a few ulps of t, so a unit sitting on its kink cannot stall the walk.
        nxt = seg.pos + np.maximum(np.maximum(s, 4 * np.spacing(np.maximum(seg.pos, 1e-300))), 1e-15)
        kink = nxt < seg.end
        for i, t in zip(seg.path[kink].tolist(), nxt[kink].tolist(), strict=True):
            events[i].append(t)
        found += int(kink.sum())
        counts += np.bincount(seg.path[kink], minlength=n)
        if (over := np.flatnonzero(counts + 1 > max_pieces)).size:
            raise TooManyPieces(max_pieces, first + int(over[0]))
        closed = ~kink & (seg.end_cut >= 0)
        beyond = nxt[closed] > seg.end[closed] + _CUT_MARGIN
        inside.update(zip(seg.end_cut[closed].tolist(), beyond.tolist(), strict=True))
        seg.pos = np.where(kink, nxt, seg.pos)
        seg = seg.take(kink)
    for c, (t, i) in enumerate(zip(cuts_t, cuts_path, strict=True)):
        if not inside[c]:
            events[i].append(t)
    return [np.array([0.0, *sorted(ts), 1.0]) for ts in events]


def _deciders(net, stop: int) -> list:
    """The layers (or nodes) whose values decide where the path's units change piece: every kink and max-pool up
    to `stop` and everything that feeds them. An affine layer past the last of them (the logits' layer, say)
    moves no breakpoint: changing it (as MPRT's first randomisation step does) leaves the walk as it is."""
    if not hasattr(net, "plan"):
        kinked = [i for i, layer in enumerate(net.layers[: stop + 1]) if layer.type not in _AFFINE]
        return net.layers[: kinked[-1] + 1] if kinked else []
    return [net.layers[i] for i in net.upstream([i for i in net.plan(stop) if net.layers[i].kind != "affine"])]


def _walk_key(net, x: np.ndarray, baseline: np.ndarray, stop: int, *settings) -> bytes:
    """A digest of everything a walk's breakpoints depend on: the deciding layers' configurations and
    parameters, the inputs and baselines (values, dtypes, shapes) and the walk's settings."""
    digest = hashlib.blake2b(digest_size=32)

    def array(a: np.ndarray) -> None:
        a = np.ascontiguousarray(a)
        digest.update(f"{a.dtype.str}{a.shape}".encode())
        digest.update(a.data)

    for layer in _deciders(net, stop):
        digest.update(json.dumps(layer.config(), sort_keys=True, default=str).encode())
        for name in sorted(layer.params):
            digest.update(name.encode())
            array(layer.params[name])
    array(x)
    array(baseline)
    digest.update(repr(settings).encode())
    return digest.digest()


class _Walks:
    """The breakpoints of recent walks, by `_walk_key`, at most `BYTES` of them (oldest dropped first).

    NOTE: the same walk recurs within a run: random-logit explains a second class along the same paths, and
    MPRT's first step re-draws only the logits' layer. A key is a digest of the walk's whole input, so a kept
    walk is never stale, and the breakpoints are those the walk would find again, bit for bit."""

    BYTES = 32 << 20

    def __init__(self):
        self.kept: OrderedDict[bytes, list[np.ndarray]] = OrderedDict()
        self.size = 0
        self.lock = threading.Lock()

    def get(self, key: bytes) -> list[np.ndarray] | None:
        with self.lock:
            found = self.kept.get(key)
            if found is not None:
                self.kept.move_to_end(key)
            return found

    def put(self, key: bytes, paths: list[np.ndarray]) -> None:
        size = sum(ts.nbytes for ts in paths)
        if size > self.BYTES:
            return
        for ts in paths:
            ts.flags.writeable = False
        with self.lock:
            if key in self.kept:
                return
            self.kept[key] = paths
            self.size += size
            while self.size > self.BYTES:
                _, dropped = self.kept.popitem(last=False)
                self.size -= sum(ts.nbytes for ts in dropped)


WALKS = _Walks()


def walked(net, x, baseline, stop: int, max_pieces: int = MAX_PIECES, first: int = 0, rows: int | None = None):
    """`breakpoints_many`, or the breakpoints of the same walk made before (see `_Walks`)."""
    key = _walk_key(net, x, baseline, stop, max_pieces, first, rows)
    paths = WALKS.get(key)
    if paths is None:
        paths = breakpoints_many(net, x, baseline, stop, max_pieces, first, rows)
        WALKS.put(key, paths)
    return paths


def exact_integrated_gradients_many(
    net, x, baseline, v, stop: int, batch_size: int | None = None, max_pieces: int = MAX_PIECES
):
    """Exact IG of <v_i, output of layer `stop`> for N inputs x (N, *input) at once.

    The N paths are walked side by side (`breakpoints_many`) and the gradients at every piece's
    midpoint, of all paths together, go through the network as one batch (chunks of `batch_size`,
    default `batching.default_rows(net)`, which bounds the memory of a pass).

    Returns the attributions (N, *input) and the number of linear pieces of each path (N,).
    """
    group = batch_size or default_rows(net)  # NOTE: paths walked together, to bound the walk's memory as rows do
    paths = [
        ts
        for g in range(0, len(x), group)
        for ts in walked(net, x[g : g + group], baseline[g : g + group], stop, max_pieces, g, batch_size)
    ]
    owner = np.concatenate([np.full(len(ts) - 1, i) for i, ts in enumerate(paths)])
    mids = np.concatenate([0.5 * (ts[:-1] + ts[1:]) for ts in paths])
    widths = np.concatenate([np.diff(ts) for ts in paths])
    avg = np.zeros_like(x)
    step = batch_size or default_rows(net)
    for start in range(0, len(mids), step):
        rows = slice(start, start + step)
        i = owner[rows]
        m = mids[rows].reshape(-1, *[1] * (x.ndim - 1))
        net.forward((1.0 - m) * baseline[i] + m * x[i], stop=stop, lean=True)
        g = net.backward(v[i])
        np.add.at(avg, i, widths[rows].reshape(m.shape) * g)
    return (x - baseline) * avg, np.array([len(ts) - 1 for ts in paths])
