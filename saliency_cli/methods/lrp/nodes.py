"""LRP rules for the nodes of imported graphs that have no weights to share by.

A rule for a node of several inputs overrides `propagate_node(node, xs, r_out) -> (list of r_in, Shares)`;
every rule has it (one input: `propagate`). Each rule books its shares so that, per node,

    sum over inputs of sum(r_in) + bias + stabiliser + dropped = sum(r_out).

- `Proportional` (Add and Sub of tensors, AveragePool, GlobalAveragePool, ReduceMean, a BatchNormalization not
  merged into a convolution): the z-rule over the node's own contributions, R_i = x_i dz_j/dx_i R_j / d_j, with
  d_j = z_j + sign(z_j) u m_j, u the float64 round-off unit and m_j the sum of the magnitudes of z_j's terms
  (as Zennit's `Norm` with a stabiliser of round-off size): the LRP rule's `eps` is not applied here. The
  stabiliser's share is booked; an affine node's offset (BatchNormalization's shift) is booked as bias. A unit
  with d_j = 0 (every term exactly zero) shares nothing: R_j is dropped and booked as dropped.
- `Slices` (Concat): each input gets its own slice of the relevance, exactly.
- `Route` (Reshape, Flatten, Transpose): relevance moves with its value, exactly (the op's own adjoint).
- `PASS` (Relu, LeakyRelu, Identity, the Sub/Div/Mul/Add of a constant as in input normalisation): relevance
  stays on the same element, unchanged.
- `SmoothPassThrough` (Sigmoid, Tanh): relevance passes unchanged as in the literature, though the op is not
  piecewise linear; its ledger rows name this rule so that the approximation is visible.
- `GraphWinner`, `GraphProportionalMax` (MaxPool with strides, pads, dilations): as `pool`'s rules.
"""

from __future__ import annotations

import numpy as np

from ...nn.graph.affine import AddTensors
from .rules import PASS, PassThrough, Rule, Shares, _safe_divide, dropped, per_sample_sum

#: the float64 round-off unit: the stabiliser of the proportional rule is this times the magnitude of the sum
ROUND_OFF = float(np.finfo(np.float64).eps)


def _magnitude(node, xs) -> np.ndarray:
    """The sum of the magnitudes of the terms of each output value (|z_j|'s bound before cancellation)."""
    if isinstance(node, AddTensors):
        return np.abs(xs[0]) + np.abs(xs[1])
    linear = np.abs(node.linear(*(np.abs(x) for x in xs)))
    return linear + np.abs(node.forward(*xs) - node.linear(*xs))


class Proportional(Rule):
    """z-rule over a node's own contributions with a round-off stabiliser (Zennit's `Norm`)."""

    name = "proportional"
    summary = "each output shared in proportion to its terms, stabiliser of round-off size"

    def propagate(self, layer, a, r_out):
        r_in, shares = self.propagate_node(layer, [a], r_out)
        return r_in[0], shares

    def propagate_node(self, node, xs, r_out):
        mag = _magnitude(node, xs)
        z = node.forward(*xs)
        offset = np.zeros_like(z) if isinstance(node, AddTensors) else z - node.linear(*xs)
        sign = np.where(z >= 0, 1.0, -1.0)
        stab = ROUND_OFF * mag * sign
        s, keep = _safe_divide(r_out, z + stab)
        node.forward(*xs)  # NOTE: again, so that the node's backward reads this pass's state
        grads = node.backward(s)
        r_in = [x * g for x, g in zip(xs, grads, strict=True)]
        shares = Shares(
            bias=per_sample_sum(offset * s),
            stabiliser=per_sample_sum(stab * s),
            dropped=dropped(r_out, keep),
        )
        return r_in, shares


class Slices(Rule):
    """Concat: each input's slice of the relevance goes to it."""

    name = "slices"
    summary = "each input gets its slice of the relevance"

    def propagate_node(self, node, xs, r_out):
        node.forward(*xs)
        return node.backward(r_out), Shares.none(len(r_out))


class Route(Rule):
    """Reshape, Flatten, Transpose: the relevance moves with the values."""

    name = "pass-through"
    summary = "relevance moves with its value (reshaped or permuted)"

    def propagate(self, layer, a, r_out):
        layer.forward(a)
        return layer.backward(r_out)[0], Shares.none(len(a))


class SmoothPassThrough(PassThrough):
    """Sigmoid, Tanh: relevance passes unchanged (not exact for a smooth op; marked by this rule's name)."""

    name = "pass-through-smooth"
    summary = "relevance passes unchanged through a smooth activation (an approximation, as in the literature)"


class GraphWinner(Route):
    """MaxPool: each window's relevance to its winner (the input the forward pass picked; first tap on ties): the
    node's own backward, as Route's."""

    name = "winner-take-all"
    summary = "each window's relevance goes to its maximum, as the gradient does"


class GraphProportionalMax(Rule):
    """MaxPool: each window's relevance shared by the positive parts of its inputs (winner where none)."""

    name = "proportional"
    summary = "each window's relevance shared in proportion to its (positive) inputs"

    def propagate(self, layer, a, r_out):
        layer.forward(a)
        taps = np.maximum(layer.taps(a, 0.0), 0.0)  # (kk, N, C, Ho, Wo); padding takes no share
        total = taps.sum(axis=0)
        share, _ = _safe_divide(taps, np.broadcast_to(total, taps.shape))
        winner = (np.arange(len(taps)).reshape(-1, 1, 1, 1, 1) == layer._arg[None]).astype(np.float64)
        fractions = np.where(total[None] > 0, share, winner)
        return layer.untaps(fractions * r_out[None], a.shape), Shares.none(len(a))


#: `--pool-rule` choice -> the MaxPool rule of imported graphs
GRAPH_POOL_RULES: dict[str, type[Rule]] = {"winner": GraphWinner, "proportional": GraphProportionalMax}


def graph_mapping(pool: str = "winner") -> list[tuple[str, Rule]]:
    """Every composite's entries for the weightless nodes of imported graphs (by ONNX op type)."""
    proportional, route, smooth = Proportional(), Route(), SmoothPassThrough()
    return [
        ("MaxPool", GRAPH_POOL_RULES[pool]()),
        ("Add", proportional),
        ("AveragePool", proportional),
        ("GlobalAveragePool", proportional),
        ("ReduceMean", proportional),
        ("BatchNormalization", proportional),
        ("Concat", Slices()),
        ("Reshape", route),
        ("Flatten", route),
        ("Transpose", route),
        ("Identity", PASS),
        ("Relu", PASS),
        ("LeakyRelu", PASS),
        ("ConstArith", PASS),
        ("Sigmoid", smooth),
        ("Tanh", smooth),
    ]
