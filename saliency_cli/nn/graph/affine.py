"""Affine ops of the graph engine: Gemm, MatMul, BatchNormalization (inference), arithmetic with a constant,
sums and differences of two tensors, and Concat."""

from __future__ import annotations

import numpy as np

from ..layers import ShapeError
from .base import Node, unbroadcast


class Gemm(Node):
    """ONNX Gemm with the activation as A (transA = 0): y = alpha * (x @ B') + beta * C, B' = B or B.T."""

    type = "Gemm"
    settings = ("alpha", "beta", "trans_b")
    learned = ("weight", "bias")

    def check(self):
        b = self.params.get("weight")
        if b is None or b.ndim != 2:
            raise ShapeError("Gemm needs a 2-D B")
        self._b = b.T if self.trans_b else b  # (K, M)
        c = self.params.get("bias")
        if c is not None and c.ndim > 1:
            raise ShapeError("Gemm's C must be a vector or a scalar")
        if c is not None and c.shape not in ((), (1,), (self._b.shape[1],)):
            raise ShapeError(f"Gemm's C of shape {c.shape} does not fit {self._b.shape[1]} outputs")

    def output_shape(self, shape):
        if shape != (self._b.shape[0],):
            raise ShapeError(f"Gemm expects ({self._b.shape[0]},), got {shape}")
        return (self._b.shape[1],)

    def linear(self, x):
        y = x @ self._b
        return y if self.alpha == 1.0 else self.alpha * y

    def forward(self, x):
        y = self.linear(x)
        c = self.params.get("bias")
        if c is None:
            return y
        return y + (c if self.beta == 1.0 else self.beta * c)

    def backward(self, dy):
        dx = dy @ self._b.T
        return [dx if self.alpha == 1.0 else self.alpha * dx]


class MatMul(Node):
    """ONNX MatMul of the activation (N, ..., K) by a constant matrix (K, M)."""

    type = "MatMul"
    learned = ("weight",)

    def check(self):
        w = self.params.get("weight")
        if w is None or w.ndim != 2:
            raise ShapeError("MatMul needs a constant 2-D right-hand side")

    def output_shape(self, shape):
        w = self.params["weight"]
        if not shape or shape[-1] != w.shape[0]:
            raise ShapeError(f"MatMul expects (..., {w.shape[0]}), got {shape}")
        return (*shape[:-1], w.shape[1])

    def forward(self, x):
        return x @ self.params["weight"]

    def backward(self, dy):
        return [dy @ self.params["weight"].T]


class BatchNormalization(Node):
    """Inference BatchNormalization: (x - mean) / sqrt(var + epsilon) * scale + B, per channel (axis 1)."""

    type = "BatchNormalization"
    settings = ("epsilon",)
    learned = ("scale", "bias")

    def check(self):
        shapes = {self.params[k].shape for k in ("scale", "bias", "mean", "var") if k in self.params}
        if len(self.params) != 4 or len(shapes) != 1 or len(next(iter(shapes))) != 1:
            raise ShapeError("BatchNormalization needs scale, B, mean and var of one shape (C,)")

    def output_shape(self, shape):
        c = self.params["scale"].shape[0]
        if len(shape) < 1 or shape[0] != c:
            raise ShapeError(f"BatchNormalization expects ({c}, ...), got {shape}")
        return shape

    def _per_channel(self, key, x):
        return self.params[key].reshape(-1, *[1] * (x.ndim - 2))

    def forward(self, x):
        p = self._per_channel
        return (x - p("mean", x)) / np.sqrt(p("var", x) + self.epsilon) * p("scale", x) + p("bias", x)

    def linear(self, x):
        p = self._per_channel
        return x / np.sqrt(p("var", x) + self.epsilon) * p("scale", x)

    def backward(self, dy):
        return [self.linear(dy)]


#: The arithmetic of an activation x with a constant c: value, linear part, and input gradient.
_ARITH = {
    "Add": (lambda x, c: x + c, lambda x, c: x, lambda dy, c: dy),
    "Sub": (lambda x, c: x - c, lambda x, c: x, lambda dy, c: dy),
    "RSub": (lambda x, c: c - x, lambda x, c: -x, lambda dy, c: -dy),
    "Mul": (lambda x, c: x * c, lambda x, c: x * c, lambda dy, c: dy * c),
    "Div": (lambda x, c: x / c, lambda x, c: x / c, lambda dy, c: dy / c),
}


class ConstArith(Node):
    """Add, Sub, Mul or Div of the activation and a constant (input normalisation, biases); RSub is c - x.

    The constant broadcasts against the per-sample shape and never widens it.
    """

    type = "ConstArith"
    settings = ("op",)

    def check(self):
        if self.op not in _ARITH or "constant" not in self.params:
            raise ShapeError(f"ConstArith: unknown op {self.op!r}")

    @property
    def label(self) -> str:
        return "Sub" if self.op == "RSub" else self.op

    def output_shape(self, shape):
        c = self.params["constant"].shape
        try:
            out = np.broadcast_shapes(shape, c)
        except ValueError:
            raise ShapeError(f"{self.label}: constant of shape {c} does not broadcast to {shape}") from None
        if out != tuple(shape):
            raise ShapeError(f"{self.label}: constant of shape {c} widens the input {shape}")
        return tuple(shape)

    def forward(self, x):
        return _ARITH[self.op][0](x, self.params["constant"])

    def linear(self, x):
        return _ARITH[self.op][1](x, self.params["constant"])

    def backward(self, dy):
        return [_ARITH[self.op][2](dy, self.params["constant"])]


class AddTensors(Node):
    """Sum (or difference, `sign` -1) of two activations, with broadcasting (residual connections)."""

    type = "Add"
    settings = ("sign",)

    def check(self):
        if self.sign not in (1, -1) or len(self.inputs) != 2:
            raise ShapeError("Add/Sub of two tensors needs two inputs and sign +1 or -1")

    @property
    def label(self) -> str:
        return "Add" if self.sign == 1 else "Sub"

    def output_shape(self, a, b):
        try:
            return tuple(np.broadcast_shapes(a, b))
        except ValueError:
            raise ShapeError(f"{self.label}: shapes {a} and {b} do not broadcast") from None

    def forward(self, a, b):
        self._shapes = (a.shape, b.shape)
        return a + b if self.sign == 1 else a - b

    def backward(self, dy):
        sa, sb = self._shapes
        return [unbroadcast(dy, sa), unbroadcast(dy if self.sign == 1 else -dy, sb)]


class Concat(Node):
    """Concatenation of activations along a non-batch axis."""

    type = "Concat"
    settings = ("axis",)

    def output_shape(self, *shapes):
        rank = len(shapes[0])
        if not 1 <= self.axis <= rank or any(len(s) != rank for s in shapes):
            raise ShapeError(f"Concat along axis {self.axis} of shapes {list(shapes)}")
        k = self.axis - 1
        if any(s[:k] + s[k + 1 :] != shapes[0][:k] + shapes[0][k + 1 :] for s in shapes):
            raise ShapeError(f"Concat: shapes {list(shapes)} differ off axis {self.axis}")
        return (*shapes[0][:k], sum(s[k] for s in shapes), *shapes[0][k + 1 :])

    def forward(self, *xs):
        self._sizes = [x.shape[self.axis] for x in xs]
        return np.concatenate(xs, axis=self.axis)

    def backward(self, dy):
        cuts = np.cumsum(self._sizes)[:-1]
        return list(np.split(dy, cuts, axis=self.axis))
