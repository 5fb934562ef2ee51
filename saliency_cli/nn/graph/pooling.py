"""Pooling ops of the graph engine: MaxPool, AveragePool, GlobalAveragePool and ReduceMean over spatial axes."""

from __future__ import annotations

import numpy as np

from ..layers import ShapeError
from .base import Node, prod
from .conv import Geometry


class _Window(Node):
    settings = ("kernel", "strides", "pads", "dilations", "ceil_mode")

    def check(self):
        self.kernel, self.strides = tuple(self.kernel), tuple(self.strides)
        self.pads, self.dilations = tuple(self.pads), tuple(self.dilations)
        self.geometry = Geometry(self.kernel, self.strides, self.pads, self.dilations, bool(self.ceil_mode))
        if any(p >= k for p, k in zip(self.pads, self.kernel * 2, strict=True)):
            raise ShapeError(f"{self.type}: pads {self.pads} must be smaller than the kernel {self.kernel}")

    def output_shape(self, shape):
        if len(shape) != 3:
            raise ShapeError(f"{self.type} expects (C, H, W), got {shape}")
        ho, wo = self.geometry.out(*shape[1:])
        if ho < 1 or wo < 1:
            raise ShapeError(f"{self.type} window {self.kernel} does not fit input {shape}")
        return (shape[0], ho, wo)

    def values_per_sample(self, shape):
        out = self.output_shape(shape)
        return max(
            (prod(out) * prod(self.kernel), "its pooling windows"),
            (shape[0] * prod(self.geometry.padded(*shape[1:])), "its padded input"),
        )

    def taps(self, x: np.ndarray, fill: float) -> np.ndarray:
        """Every window of x (N, C, H, W) tap by tap: (kh * kw, N, C, Ho, Wo), padding read as `fill`."""
        h, w = x.shape[2:]
        return self.geometry.gather(self.geometry.pad(x, fill), h, w)

    def untaps(self, parts: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        """The adjoint of `taps`: parts (kh * kw, N, C, Ho, Wo) added back onto an input of `shape`."""
        h, w = shape[2:]
        grid = self.geometry.scatter(parts, (*shape[:2], *self.geometry.padded(h, w)), h, w)
        return np.ascontiguousarray(self.geometry.crop(grid, h, w))


class MaxPool(_Window):
    """Max over each window; padding never wins. NOTE: ties go to the first tap in row-major order (as PyTorch)."""

    type = "MaxPool"
    kind = "maxpool"

    def forward(self, x):
        taps = self.taps(x, -np.inf)
        self._arg, self._shape = taps.argmax(axis=0), x.shape
        return np.take_along_axis(taps, self._arg[None], axis=0)[0]

    def backward(self, dy):
        k = np.arange(prod(self.kernel)).reshape(-1, 1, 1, 1, 1)
        return [self.untaps(np.where(self._arg[None] == k, dy[None], 0.0).astype(dy.dtype), self._shape)]


class AveragePool(_Window):
    """Mean over each window: of all kh * kw taps (count_include_pad 1) or of those on the input (0)."""

    type = "AveragePool"
    settings = (*_Window.settings, "count_include_pad")

    def check(self):
        super().check()
        if self.ceil_mode:
            # NOTE: ceil_mode's extra windows are divided by different counts in different frameworks; refused
            # by the importer where it changes the output, so here it is only ever a no-op.
            self.geometry = Geometry(self.kernel, self.strides, self.pads, self.dilations, True)

    def _divisor(self, shape, dtype):
        if self.count_include_pad:
            return np.asarray(prod(self.kernel), dtype=dtype)
        ones = np.ones((1, 1, *shape[2:]), dtype=dtype)
        return self.taps(ones, 0.0).sum(axis=0)

    def forward(self, x):
        self._shape = x.shape
        return self.taps(x, 0.0).sum(axis=0) / self._divisor(x.shape, x.dtype)

    def backward(self, dy):
        part = dy / self._divisor(self._shape, dy.dtype)
        return [self.untaps(np.broadcast_to(part, (prod(self.kernel), *part.shape)), self._shape)]


class ReduceMean(Node):
    """Mean over non-batch axes (GlobalAveragePool is ReduceMean over (2, 3) keeping them)."""

    type = "ReduceMean"
    settings = ("axes", "keepdims")

    def check(self):
        self.axes = tuple(sorted(int(a) for a in self.axes))
        if not self.axes or self.axes[0] < 1 or len(set(self.axes)) != len(self.axes):
            raise ShapeError(f"ReduceMean over axes {list(self.axes)}: only non-batch axes, each once")

    def output_shape(self, shape):
        if self.axes[-1] > len(shape):
            raise ShapeError(f"ReduceMean over axes {list(self.axes)} of a {len(shape) + 1}-D tensor")
        return tuple(
            1 if i + 1 in self.axes else s for i, s in enumerate(shape) if self.keepdims or i + 1 not in self.axes
        )

    def forward(self, x):
        self._shape = x.shape
        return x.mean(axis=self.axes, keepdims=bool(self.keepdims))

    def backward(self, dy):
        count = prod(self._shape[a] for a in self.axes)
        dy = dy.reshape([1 if i in self.axes else s for i, s in enumerate(self._shape)])
        return [np.broadcast_to(dy / count, self._shape).copy()]


class GlobalAveragePool(ReduceMean):
    """ONNX GlobalAveragePool: the mean over every spatial axis, kept as size 1 (ReduceMean over them)."""

    type = "GlobalAveragePool"
