"""The node contract of the graph engine: one small class per op, forward and backward on batches.

A node holds its op's attributes and parameters (constants of the model), the names of the tensors it reads
(`inputs`, activations only: constants are folded into its parameters) and the name of the tensor it writes
(`output`). Shapes are per sample; every array in a pass has the batch axis first.

`kind` says how exact Integrated Gradients treats the op: "affine" (its output an affine function of its
inputs: `tangent` maps values and directions), "kink" (relu, leaky relu: piecewise linear, elementwise),
"maxpool" (piecewise linear through its winners) or "smooth" (none of these: exact IG refuses it).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from ..layers import ShapeError


class Node:
    type: ClassVar[str] = ""
    kind: ClassVar[str] = "affine"
    #: The attributes (JSON values) that `config` writes and the constructor takes, besides params.
    settings: ClassVar[tuple[str, ...]] = ()
    #: The parameters learned in training (MPRT re-draws these; running statistics and constants are kept).
    learned: ClassVar[tuple[str, ...]] = ()

    def __init__(self, name: str, inputs: list[str], output: str, params: dict | None = None, **attrs):
        self.name, self.inputs, self.output = str(name), list(inputs), str(output)
        self.params: dict[str, np.ndarray] = dict(params or {})
        self.grads: dict[str, np.ndarray] = {}
        for key in self.settings:
            setattr(self, key, attrs.pop(key))
        if attrs:
            raise ShapeError(f"{self.type}: unknown settings {', '.join(sorted(attrs))}")
        self.check()

    def check(self) -> None:
        """Raise ShapeError when the attributes and parameters do not fit together."""

    def config(self) -> dict:
        out = {"type": self.type, "name": self.name, "inputs": list(self.inputs), "output": self.output}
        out.update({key: _json(getattr(self, key)) for key in self.settings})
        return out

    def output_shape(self, *shapes: tuple[int, ...]) -> tuple[int, ...]:
        """The per-sample output shape for the inputs' per-sample shapes (ShapeError when they do not fit)."""
        return shapes[0]

    def values_per_sample(self, *shapes: tuple[int, ...]) -> tuple[int, str]:
        """The most values the op holds or builds per sample, and which (bounded before any pass)."""
        return int(np.prod(self.output_shape(*shapes), dtype=object)), "its output"

    def forward(self, *xs: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def backward(self, dy: np.ndarray) -> list[np.ndarray]:
        """d loss / d input for every input, from d loss / d output (of the last forward)."""
        raise NotImplementedError

    def linear(self, *xs: np.ndarray) -> np.ndarray:
        """An affine op's linear part (the op without its constant offset); the op itself by default."""
        return self.forward(*xs)

    def tangent(self, zz: list[np.ndarray], n: int) -> np.ndarray:
        """An affine op on values and directions stacked as rows (2N, ...): the op on the first N rows, its
        linear part on the last N."""
        return np.concatenate([self.forward(*(z[:n] for z in zz)), self.linear(*(z[n:] for z in zz))])

    def astype(self, dtype) -> Node:
        """A copy whose parameters are cast to `dtype`."""
        cfg = self.config()
        node = type(self)(
            cfg["name"],
            cfg["inputs"],
            cfg["output"],
            {k: v.astype(dtype) for k, v in self.params.items()},
            **{k: getattr(self, k) for k in self.settings},
        )
        return node

    def __repr__(self) -> str:
        settings = ", ".join(f"{k}={getattr(self, k)}" for k in self.settings)
        return f"{self.type}({settings})"


def _json(value):
    if isinstance(value, tuple):
        return [_json(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def prod(shape) -> int:
    out = 1
    for s in shape:
        out *= int(s)
    return out


def unbroadcast(g: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """`g` summed over the axes along which an array of `shape` (batch axis included) was broadcast to it."""
    if g.shape == tuple(shape):
        return g
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, s in enumerate(shape) if s == 1 and g.shape[lead + i] != 1)
    return g.sum(axis=axes).reshape(shape) if axes else g.reshape(shape)
