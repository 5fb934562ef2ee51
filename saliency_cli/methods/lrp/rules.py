"""LRP rules as small objects, and composites that pick a rule per layer by data.

A rule maps (layer, input activation `a`, relevance at the layer's output `r_out`) to the relevance
at the layer's input plus its ledger `Shares`: the relevance absorbed by the bias, by the
stabiliser (eps) and dropped at zero denominators, each summed per sample. For every rule here

    sum(r_in) + bias + stabiliser + dropped = sum(r_out)

holds exactly in exact arithmetic, so the walk can report what, if anything, is unexplained.

Rules reach a layer's weights through a *linear view* (`forward(a, w, b)` and its transpose), so
the same rule serves every linear layer that has a view in `LINEAR_VIEWS`: dense, and conv2d
through the engine's own im2col maths (rows of windows times the weight matrix, relevance
scattered back with col2im) — no per-pixel loops, and no second implementation of convolution.

First-layer rules (flat, wsquare, zbox) live in `lrp_first`, pooling rules in `lrp_pool`, the
composites that choose among them in `lrp_composites`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ...nn import ops


def per_sample_sum(x: np.ndarray) -> np.ndarray:
    """Sum over every axis but the first: (N, ...) -> (N,)."""
    return x.reshape(len(x), -1).sum(axis=1)


def dropped(r_out: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Per sample, the relevance of the terms `_safe_divide` dropped (`keep` False): the ledger's "dropped"."""
    return per_sample_sum(np.where(keep, 0.0, r_out))


@dataclass(frozen=True)
class Shares:
    """Where relevance went that did not reach the layer's input; each (N,)."""

    bias: np.ndarray
    stabiliser: np.ndarray
    dropped: np.ndarray

    @classmethod
    def none(cls, n: int) -> Shares:
        zero = np.zeros(n)
        return cls(zero, zero.copy(), zero.copy())


# -- linear views: the one place that knows how a layer applies its weights -----------------------


class DenseView:
    """z = a @ w.T + b for a dense layer: a (N, in), w (out, in), b (out,) -> z (N, out)."""

    def __init__(self, layer, x_shape):
        self.layer, self.x_shape = layer, tuple(x_shape)

    def forward(self, a: np.ndarray, w: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
        z = a @ w.T
        return z if b is None else z + b

    def transpose(self, s: np.ndarray, w: np.ndarray) -> np.ndarray:
        """The adjoint of `forward` without bias: s (N, out) -> (N, in)."""
        return s @ w

    def bias_like(self, b: np.ndarray, z: np.ndarray) -> np.ndarray:
        """The bias broadcast to the shape of `z` (N, out)."""
        return np.broadcast_to(b, z.shape)


class ConvView:
    """z = conv2d(a, w) + b as the engine computes it: a (N, C, H, W), w (O, C, k, k) -> z (N, O, Ho, Wo).

    `forward` is `ops.conv2d` (im2col rows times the weight matrix); `transpose` is
    `ops.conv2d_input_grad` (rows times the weight matrix, scattered back with col2im), so padded
    positions take part in z exactly as in the forward pass and receive no relevance.
    """

    def __init__(self, layer, x_shape):
        self.layer, self.x_shape = layer, tuple(x_shape)

    def forward(self, a: np.ndarray, w: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
        return ops.conv2d(a, w, b, self.layer.stride, self.layer.padding)

    def transpose(self, s: np.ndarray, w: np.ndarray) -> np.ndarray:
        """The adjoint of `forward` without bias: s (N, O, Ho, Wo) -> (N, C, H, W)."""
        return ops.conv2d_input_grad(s, w, self.x_shape, self.layer.stride, self.layer.padding)

    def bias_like(self, b: np.ndarray, z: np.ndarray) -> np.ndarray:
        """The per-channel bias broadcast to the shape of `z` (N, O, Ho, Wo)."""
        return np.broadcast_to(b[:, None, None], z.shape)


class GemmView(DenseView):
    """z = a @ B' + C for an imported Gemm in canonical form (alpha = beta = 1, see `canonical`): B' = B or B.T."""

    def forward(self, a, w, b=None):
        z = a @ (w.T if self.layer.trans_b else w)
        return z if b is None else z + b

    def transpose(self, s, w):
        return s @ (w if self.layer.trans_b else w.T)


class GraphConvView(ConvView):
    """z = Conv(a, w) + b for an imported Conv (strides, pads, dilations, groups), through the node's own maths."""

    def forward(self, a, w, b=None):
        z = self.layer.apply(a, w)
        return z if b is None else z + b[:, None, None]

    def transpose(self, s, w):
        return self.layer.apply_transpose(s, w, self.x_shape)


#: layer type -> linear view. A new linear layer type needs only a view here; the rules stay as they are.
LINEAR_VIEWS: dict[str, type] = {"dense": DenseView, "conv2d": ConvView, "Gemm": GemmView, "Conv": GraphConvView}


def linear_view(layer, x_shape):
    """The view of `layer` for inputs of (batch) shape `x_shape`."""
    try:
        return LINEAR_VIEWS[layer.type](layer, x_shape)
    except KeyError:
        raise TypeError(f"no linear view for layer type {layer.type!r}: an LRP weight rule cannot apply") from None


def _safe_divide(r: np.ndarray, den: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(r / den where den != 0 else 0, mask of the kept terms).

    NOTE: a denominator so small that r / den overflows float64 (a unit fed only by tiny contributions
    in a sample whose other activations are huge) is treated as zero too: its term is dropped, and the
    ledger books it as dropped, instead of an infinity turning every relevance into NaN.
    """
    keep = den != 0
    with np.errstate(over="ignore"):
        s = np.divide(r, den, out=np.zeros_like(r), where=keep)
    finite = np.isfinite(s)
    if not finite.all():
        keep = keep & finite
        s = np.where(finite, s, 0.0)
    return s, keep


def lift(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`a` times 2^k_n per sample n (k_n >= 0, so exactly), such that its largest |value| is at least 1/2; and k.

    NOTE: the rules share R_j in proportion to contributions, R_i = a_i w_ij / z_j R_j: scaling the
    activations, the bias and the stabiliser of a sample by one factor changes neither R_i nor the
    ledger. On tiny activations (subnormal inputs, ~1e-310) the unscaled ratio R_j / z_j overflows to
    inf and every relevance becomes NaN; lifted, it is an ordinary number. Only ever scaled up.
    """
    top = np.abs(a).reshape(len(a), -1).max(axis=1, initial=0.0)
    _, e = np.frexp(top)
    k = np.maximum(-e, 0)
    return np.ldexp(a, k.reshape(-1, *[1] * (a.ndim - 1))), k


def lift_like(x: np.ndarray | float, k: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """`x` (a bias broadcast to `shape` (N, ...), or a number) times 2^k per sample, capped at +-1e300.

    NOTE: a bias that overflows when lifted dwarfs every contribution a_i w_ij of that sample; capped at
    1e300 it still takes (to float64 precision) all of R_j, as the exact bias would.
    """
    x = np.broadcast_to(x, shape)
    with np.errstate(over="ignore"):
        lifted = np.ldexp(x, k.reshape(-1, *[1] * (len(shape) - 1)))
    return np.clip(lifted, -1e300, 1e300)


# -- rules ----------------------------------------------------------------------------------------


class Rule:
    """Base class: `propagate(layer, a, r_out) -> (r_in, Shares)`, vectorised over the batch."""

    name: ClassVar[str] = ""
    #: one line for `--help` and the rule registry
    summary: ClassVar[str] = ""

    @classmethod
    def from_options(cls, **options) -> Rule:
        """The rule built from the command's options (eps, gamma, alpha, bias, low, high): each rule
        takes the ones it uses and ignores the rest."""
        return cls()

    def params(self) -> dict:
        return {}

    def propagate(self, layer, a: np.ndarray, r_out: np.ndarray) -> tuple[np.ndarray, Shares]:
        raise NotImplementedError

    def propagate_node(self, node, xs: list[np.ndarray], r_out: np.ndarray) -> tuple[list[np.ndarray], Shares]:
        """A graph node reading the activations `xs`: the relevance of each input. One input by default."""
        r_in, shares = self.propagate(node, xs[0], r_out)
        return [r_in], shares

    def __repr__(self) -> str:
        settings = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in self.params().items())
        return f"{type(self).__name__}({settings})"


class PassThrough(Rule):
    """Relevance passes one to one (relu, leaky_relu, softmax); flatten only reshapes it."""

    name = "pass-through"
    summary = "relevance passes unchanged (reshaped to the layer's input)"

    def propagate(self, layer, a, r_out):
        return r_out.reshape(a.shape), Shares.none(len(a))


def _z_rule(view, a, w, b, eps, r_out) -> tuple[np.ndarray, Shares]:
    """R_i = a_i sum_j w_ij R_j / (z_j + eps sign(z_j)), with z_j = sum_i a_i w_ij + b_j.

    Summing over i gives sum_j (z_j - b_j) R_j / d_j, hence the exact ledger
    bias = sum_j b_j R_j / d_j and stabiliser = sum_j eps sign(z_j) R_j / d_j.
    """
    a, k = lift(a)  # a, the bias and eps scaled alike: the same R_i, no overflow on tiny activations
    z = view.forward(a, w)
    if b is not None:
        b = lift_like(view.bias_like(b, z), k, z.shape)
        z = z + b
    eps = lift_like(float(eps), k, z.shape)
    # NOTE: sign(0) = +1, so with eps > 0 a zero pre-activation gets a denominator of +eps, never 0.
    sign = np.where(z >= 0, 1.0, -1.0)
    den = z + eps * sign
    # NOTE: a denominator can only be 0 when eps == 0 (LRP-0); that term is dropped and its R_j booked as dropped.
    s, keep = _safe_divide(r_out, den)
    r_in = a * view.transpose(s, w)
    bias = np.zeros(len(a)) if b is None else per_sample_sum(b * s)
    shares = Shares(
        bias=bias,
        stabiliser=per_sample_sum(eps * sign * s),
        dropped=dropped(r_out, keep),
    )
    return r_in, shares


class Epsilon(Rule):
    """LRP-epsilon: R_i = sum_j a_i w_ij / (z_j + eps sign(z_j)) R_j."""

    name = "epsilon"
    summary = "z-rule with a stabiliser eps sign(z) in the denominator"

    def __init__(self, eps: float = 1e-2, bias: bool = True):
        if not eps >= 0:
            raise ValueError(f"eps must be >= 0, got {eps}")
        self.eps, self.bias = float(eps), bool(bias)

    @classmethod
    def from_options(cls, eps=1e-2, bias=True, **_):
        return cls(eps=eps, bias=bias)

    def params(self):
        return {"eps": self.eps, "bias": self.bias}

    def propagate(self, layer, a, r_out):
        b = layer.params["bias"] if self.bias else None
        return _z_rule(linear_view(layer, a.shape), a, layer.params["weight"], b, self.eps, r_out)


class Gamma(Rule):
    """LRP-gamma: epsilon with w + gamma w+ and b + gamma b+ in numerator and denominator."""

    name = "gamma"
    summary = "epsilon with positive weights and biases boosted by gamma (Montavon et al. 2019)"

    def __init__(self, gamma: float = 0.25, eps: float = 1e-2, bias: bool = True):
        if not gamma >= 0:
            raise ValueError(f"gamma must be >= 0, got {gamma}")
        if not eps >= 0:
            raise ValueError(f"eps must be >= 0, got {eps}")
        self.gamma, self.eps, self.bias = float(gamma), float(eps), bool(bias)

    @classmethod
    def from_options(cls, gamma=0.25, eps=1e-2, bias=True, **_):
        return cls(gamma=gamma, eps=eps, bias=bias)

    def params(self):
        return {"gamma": self.gamma, "eps": self.eps, "bias": self.bias}

    def propagate(self, layer, a, r_out):
        # New arrays: the layer's own parameters are never written to.
        w = layer.params["weight"]
        w = w + self.gamma * np.maximum(w, 0.0)
        b = None
        if self.bias:
            b = layer.params["bias"]
            b = b + self.gamma * np.maximum(b, 0.0)
        return _z_rule(linear_view(layer, a.shape), a, w, b, self.eps, r_out)


class AlphaBeta(Rule):
    """LRP-alpha-beta with beta = alpha - 1: R_i = sum_j (alpha z+_ij / z+_j - beta z-_ij / z-_j) R_j.

    z+_ij, z-_ij are the positive and negative parts of a_i w_ij; z+_j, z-_j their sums over i
    plus the positive (negative) part of the bias.
    """

    name = "alpha-beta"
    summary = "positive and negative contributions weighted alpha and beta = alpha - 1"

    def __init__(self, alpha: float = 2.0, bias: bool = True):
        if not alpha >= 1:
            raise ValueError(f"alpha must be >= 1 (beta = alpha - 1 >= 0), got {alpha}")
        self.alpha, self.bias = float(alpha), bool(bias)

    @property
    def beta(self) -> float:
        return self.alpha - 1.0

    @classmethod
    def from_options(cls, alpha=2.0, bias=True, **_):
        return cls(alpha=alpha, bias=bias)

    def params(self):
        return {"alpha": self.alpha, "beta": self.beta, "bias": self.bias}

    def propagate(self, layer, a, r_out):
        view = linear_view(layer, a.shape)
        w = layer.params["weight"]
        a, k = lift(a)  # a and the bias scaled alike: the same R_i, no overflow on tiny activations
        a_pos, a_neg = np.maximum(a, 0.0), np.minimum(a, 0.0)
        w_pos, w_neg = np.maximum(w, 0.0), np.minimum(w, 0.0)
        # a_i w_ij > 0 exactly when the signs agree, so z+_ij = a+ w+ + a- w- and z-_ij = a+ w- + a- w+.
        z_pos = view.forward(a_pos, w_pos) + view.forward(a_neg, w_neg)
        z_neg = view.forward(a_pos, w_neg) + view.forward(a_neg, w_pos)
        b_pos = b_neg = np.zeros_like(z_pos)
        if self.bias:
            b = lift_like(view.bias_like(layer.params["bias"], z_pos), k, z_pos.shape)
            b_pos, b_neg = np.maximum(b, 0.0), np.minimum(b, 0.0)
        z_pos, z_neg = z_pos + b_pos, z_neg + b_neg
        # NOTE: z+_j = 0 (or z-_j = 0) means no term to share R_j by; that alpha (or beta) term is dropped
        # and booked in the ledger as dropped, so alpha R_j (or -beta R_j) is accounted for.
        s_pos, keep_pos = _safe_divide(r_out, z_pos)
        s_neg, keep_neg = _safe_divide(r_out, z_neg)
        alpha, beta = self.alpha, self.beta
        r_in = alpha * (a_pos * view.transpose(s_pos, w_pos) + a_neg * view.transpose(s_pos, w_neg)) - beta * (
            a_pos * view.transpose(s_neg, w_neg) + a_neg * view.transpose(s_neg, w_pos)
        )
        shares = Shares(
            bias=per_sample_sum(alpha * b_pos * s_pos - beta * b_neg * s_neg),
            stabiliser=np.zeros(len(a)),
            dropped=alpha * dropped(r_out, keep_pos) - beta * dropped(r_out, keep_neg),
        )
        return r_in, shares


class ZPlus(AlphaBeta):
    """LRP-z+: R_i = sum_j z+_ij / z+_j R_j, the alpha-beta rule with alpha = 1, beta = 0.

    z+_ij = a+_i w+_ij + a-_i w-_ij is the positive part of a_i w_ij and z+_j = sum_i z+_ij + b+_j.
    On non-negative inputs (after a relu) this is the z+ rule of deep Taylor decomposition
    (Montavon et al. 2017): R_i = sum_j a_i w+_ij / sum_i a_i w+_ij R_j. Negative inputs take part
    through their negative weights, as in Zennit's ZPlus. A unit with z+_j = 0 has nothing to share
    R_j by: R_j is dropped and booked as dropped.
    """

    name = "zplus"
    summary = "only positive contributions a_i w_ij share the relevance (alpha-beta with alpha 1, beta 0)"

    def __init__(self, bias: bool = True):
        super().__init__(alpha=1.0, bias=bias)

    @classmethod
    def from_options(cls, bias=True, **_):
        return cls(bias=bias)

    def params(self):
        return {"bias": self.bias}


PASS = PassThrough()

#: rule name -> rule class for linear layers (`--rule` choices); each builds itself with `from_options`.
RULES: dict[str, type[Rule]] = {cls.name: cls for cls in (Epsilon, Gamma, AlphaBeta, ZPlus)}


def make_rule(name: str, **options) -> Rule:
    """The registered rule `name` built from the options it uses (eps, gamma, alpha, bias, ...)."""
    if name not in RULES:
        raise ValueError(f"unknown LRP rule {name!r}; choose from {', '.join(sorted(RULES))}")
    return RULES[name].from_options(**options)
