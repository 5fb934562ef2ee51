"""LRP rules for the first linear layer, where the input is pixels rather than relu activations.

Each rule works on any layer with a linear view (dense or conv2d) and books its ledger shares
like the other rules, so that sum(r_in) + bias + stabiliser + dropped = sum(r_out) exactly:

- flat (Lapuschkin et al. 2019): R_i = sum_j 1 / n_j R_j, n_j the number of (real, unpadded)
  inputs of unit j: relevance spread evenly over the receptive field, ignoring weights and input.
- wsquare (Montavon et al. 2017): R_i = sum_j w_ij^2 / (sum_i' w_i'j^2 + b_j^2) R_j; the input is
  ignored. NOTE: with biases on (the default, as in Zennit), b_j^2 joins the denominator and its
  share is booked as bias; `--no-bias` gives the textbook w^2 rule.
- zbox (Montavon et al. 2017): for inputs bounded by low <= a_i <= high,
  z_ij = a_i w_ij - low_i w+_ij - high_i w-_ij and R_i = sum_j z_ij / (z_j + eps sign(z_j)) R_j.
  NOTE: the bias cancels (b - b+ - b- = 0, as in Zennit's ZBox), so it takes no share; every
  z_ij >= 0 inside the box, so z_j = 0 only when the whole receptive field is at its bounds.

Flat and wsquare use no stabiliser: their denominators are counts or sums of squares, zero only
when a unit has nothing to share by (a window wholly in the padding, or all-zero weights); that
R_j is dropped and booked as dropped.
"""

from __future__ import annotations

import numpy as np

from .rules import Rule, Shares, _safe_divide, dropped, linear_view, per_sample_sum


def _share_by(view, r_out, weights, bias) -> tuple[np.ndarray, Shares]:
    """R_i = sum_j m_ij / (sum_i m_ij + c_j) R_j for non-negative m = `weights` applied to an all-ones input.

    The ones are padded with zeros like any input, so padded positions count in no denominator.
    """
    z = view.forward(np.ones(view.x_shape), weights, bias)
    s, keep = _safe_divide(r_out, z)
    r_in = view.transpose(s, weights)
    n = len(r_out)
    shares = Shares(
        bias=np.zeros(n) if bias is None else per_sample_sum(view.bias_like(bias, z) * s),
        stabiliser=np.zeros(n),
        dropped=dropped(r_out, keep),
    )
    return r_in, shares


class Flat(Rule):
    """LRP-flat: R_i = sum_j R_j / n_j over the receptive field of each unit j (weights and input ignored)."""

    name = "flat"
    summary = "relevance spread evenly over each unit's receptive field (first layer)"

    def propagate(self, layer, a, r_out):
        view = linear_view(layer, a.shape)
        return _share_by(view, r_out, np.ones_like(layer.params["weight"]), None)


class WSquare(Rule):
    """LRP-w^2: R_i = sum_j w_ij^2 / (sum_i' w_i'j^2 + b_j^2) R_j (the input is ignored)."""

    name = "wsquare"
    summary = "relevance shared by squared weights, input ignored (first layer, unbounded input)"

    def __init__(self, bias: bool = True):
        self.bias = bool(bias)

    @classmethod
    def from_options(cls, bias=True, **_):
        return cls(bias=bias)

    def params(self):
        return {"bias": self.bias}

    def propagate(self, layer, a, r_out):
        view = linear_view(layer, a.shape)
        b = layer.params["bias"] ** 2 if self.bias else None
        return _share_by(view, r_out, layer.params["weight"] ** 2, b)


class ZBox(Rule):
    """LRP-z^B: z_ij = a_i w_ij - low w+_ij - high w-_ij, R_i = sum_j z_ij / (z_j + eps sign z_j) R_j.

    `low`/`high` are numbers, or None for the smallest/largest value of each sample's input.
    """

    name = "zbox"
    summary = "z-rule for inputs bounded by [low, high] (first layer; pixels)"

    def __init__(self, low: float | None = None, high: float | None = None, eps: float = 1e-2):
        if not eps >= 0:
            raise ValueError(f"eps must be >= 0, got {eps}")
        if low is not None and high is not None and not low < high:
            raise ValueError(f"zbox needs low < high, got low {low:g} and high {high:g}")
        self.low = None if low is None else float(low)
        self.high = None if high is None else float(high)
        self.eps = float(eps)

    @classmethod
    def from_options(cls, low=None, high=None, eps=1e-2, **_):
        return cls(low=low, high=high, eps=eps)

    def params(self):
        out = {"eps": self.eps}
        out["low"] = "input min" if self.low is None else self.low
        out["high"] = "input max" if self.high is None else self.high
        return out

    def bounds(self, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(low, high) broadcast to `a` (N, ...): the given numbers, or each sample's min and max."""
        axes = tuple(range(1, a.ndim))
        low = a.min(axis=axes, keepdims=True) if self.low is None else np.asarray(self.low)
        high = a.max(axis=axes, keepdims=True) if self.high is None else np.asarray(self.high)
        return np.broadcast_to(low, a.shape), np.broadcast_to(high, a.shape)

    def propagate(self, layer, a, r_out):
        view = linear_view(layer, a.shape)
        w = layer.params["weight"]
        w_pos, w_neg = np.maximum(w, 0.0), np.minimum(w, 0.0)
        low, high = self.bounds(a)
        # z_j = sum_i (a_i w_ij - low_i w+_ij - high_i w-_ij), through the layer's own forward (no bias).
        z = view.forward(a, w) - view.forward(low, w_pos) - view.forward(high, w_neg)
        # NOTE: sign(0) = +1, as in the epsilon rule; inside the box z_j >= 0, so the stabiliser only adds.
        sign = np.where(z >= 0, 1.0, -1.0)
        s, keep = _safe_divide(r_out, z + self.eps * sign)
        r_in = a * view.transpose(s, w) - low * view.transpose(s, w_pos) - high * view.transpose(s, w_neg)
        shares = Shares(
            bias=np.zeros(len(a)),
            stabiliser=per_sample_sum(self.eps * sign * s),
            dropped=dropped(r_out, keep),
        )
        return r_in, shares


#: rule name -> first-layer rule class (`--first-rule` choices)
FIRST_RULES: dict[str, type[Rule]] = {cls.name: cls for cls in (Flat, WSquare, ZBox)}
