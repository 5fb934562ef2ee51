"""Ops that move values without arithmetic: Reshape (Flatten, Squeeze and Unsqueeze fold into it), Transpose,
and Identity (Dropout at inference, Cast to a float type)."""

from __future__ import annotations

import numpy as np

from ..layers import ShapeError
from .base import Node, prod


class Reshape(Node):
    """The per-sample shape becomes `shape` (the batch axis stays first)."""

    type = "Reshape"
    settings = ("shape",)

    def check(self):
        self.shape = tuple(int(s) for s in self.shape)
        if any(s < 1 for s in self.shape):
            raise ShapeError(f"Reshape to {list(self.shape)}: sizes must be positive")

    def output_shape(self, shape):
        if prod(shape) != prod(self.shape):
            raise ShapeError(f"Reshape of {shape} to {self.shape}: the sizes differ")
        return self.shape

    def forward(self, x):
        self._shape = x.shape
        return x.reshape(len(x), *self.shape)

    def backward(self, dy):
        return [dy.reshape(self._shape)]


class Transpose(Node):
    """The per-sample axes permuted by `perm` (over the per-sample axes, 0-based)."""

    type = "Transpose"
    settings = ("perm",)

    def check(self):
        self.perm = tuple(int(p) for p in self.perm)
        if sorted(self.perm) != list(range(len(self.perm))):
            raise ShapeError(f"Transpose: {list(self.perm)} is not a permutation")

    def output_shape(self, shape):
        if len(shape) != len(self.perm):
            raise ShapeError(f"Transpose by {list(self.perm)} of shape {shape}")
        return tuple(shape[p] for p in self.perm)

    def forward(self, x):
        return np.ascontiguousarray(x.transpose(0, *(p + 1 for p in self.perm)))

    def backward(self, dy):
        inverse = np.argsort(self.perm)
        return [np.ascontiguousarray(dy.transpose(0, *(int(p) + 1 for p in inverse)))]


class Identity(Node):
    type = "Identity"

    def forward(self, x):
        return x

    def backward(self, dy):
        return [dy]


class Flatten(Reshape):
    """ONNX Flatten at axis 1: the per-sample values as one vector (a Reshape to it)."""

    type = "Flatten"
