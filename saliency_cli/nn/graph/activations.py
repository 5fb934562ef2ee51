"""Elementwise activations of the graph engine: Relu, LeakyRelu (piecewise linear), Sigmoid and Tanh (smooth)."""

from __future__ import annotations

import numpy as np

from .base import Node


class Relu(Node):
    type = "Relu"
    kind = "kink"
    slope = 0.0

    def forward(self, x):
        # NOTE: relu'(0) = 0, as in PyTorch.
        self._mask = x > 0
        return np.where(self._mask, x, 0.0).astype(x.dtype, copy=False)

    def backward(self, dy):
        return [np.where(self._mask, dy, 0.0).astype(dy.dtype, copy=False)]


class LeakyRelu(Node):
    """x for x > 0, alpha * x elsewhere (alpha at the value the file stores, a float32)."""

    type = "LeakyRelu"
    kind = "kink"
    settings = ("alpha",)

    @property
    def slope(self) -> float:
        return self.alpha

    def forward(self, x):
        self._mask = x > 0
        return np.where(self._mask, x, x * self.alpha).astype(x.dtype, copy=False)

    def backward(self, dy):
        return [np.where(self._mask, dy, dy * self.alpha).astype(dy.dtype, copy=False)]


def sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-x)) without overflow: exp of a non-positive number only."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(x.dtype, copy=False)


class Sigmoid(Node):
    type = "Sigmoid"
    kind = "smooth"

    def forward(self, x):
        self._y = sigmoid(x)
        return self._y

    def backward(self, dy):
        return [dy * (self._y * (1.0 - self._y))]


class Tanh(Node):
    type = "Tanh"
    kind = "smooth"

    def forward(self, x):
        self._y = np.tanh(x)
        return self._y

    def backward(self, dy):
        return [dy * (1.0 - self._y * self._y)]
