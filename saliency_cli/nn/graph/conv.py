"""Convolution in the ONNX sense: rectangular kernels, strides, asymmetric pads, dilation and groups.

The windows are gathered tap by tap (kh * kw strided slices of the padded input) into columns laid out
channel-major, (groups, C/g * kh * kw, N * Ho * Wo), so that each group is one GEMM; the input gradient is the
transposed product scattered back tap by tap. Loops run over the kernel's taps only, never over pixels.
"""

from __future__ import annotations

import numpy as np

from ..layers import ShapeError
from .base import Node, prod


def window_size(size: int, kernel: int, stride: int, dilation: int, lo: int, hi: int, ceil: bool = False) -> int:
    """Output length of a sliding window along one axis (ONNX's formula; `ceil` as ceil_mode)."""
    span = size + lo + hi - dilation * (kernel - 1) - 1
    if span < 0:
        return 0
    out = (-(-span // stride) if ceil else span // stride) + 1
    if ceil and (out - 1) * stride >= size + lo:  # NOTE: the last window must start inside the input or its left pad
        out -= 1
    return out


class Geometry:
    """Where the windows of a 2-D sliding-window op lie on an input (N, C, H, W)."""

    def __init__(self, kernel, strides, pads, dilations, ceil: bool = False):
        self.kernel, self.strides, self.pads, self.dilations = (
            tuple(kernel),
            tuple(strides),
            tuple(pads),
            tuple(dilations),
        )
        self.ceil = ceil
        if len(self.kernel) != 2 or min(self.kernel) < 1 or min(self.strides) < 1 or min(self.dilations) < 1:
            raise ShapeError("needs a 2-D kernel, strides >= 1 and dilations >= 1")
        if len(self.pads) != 4 or min(self.pads) < 0:
            raise ShapeError("needs 4 pads >= 0")

    def out(self, h: int, w: int) -> tuple[int, int]:
        (kh, kw), (sh, sw), (dh, dw), (pt, pl, pb, pr) = self.kernel, self.strides, self.dilations, self.pads
        return (window_size(h, kh, sh, dh, pt, pb, self.ceil), window_size(w, kw, sw, dw, pl, pr, self.ceil))

    def padded(self, h: int, w: int) -> tuple[int, int]:
        """The padded grid's size: the pads, and on the right and bottom whatever ceil_mode's last windows need."""
        ho, wo = self.out(h, w)
        (kh, kw), (sh, sw), (dh, dw), (pt, pl, pb, pr) = self.kernel, self.strides, self.dilations, self.pads
        return (
            max(h + pt + pb, (ho - 1) * sh + dh * (kh - 1) + 1),
            max(w + pl + pr, (wo - 1) * sw + dw * (kw - 1) + 1),
        )

    def pad(self, x: np.ndarray, fill: float) -> np.ndarray:
        """x (..., H, W) laid into the padded grid, the rest `fill`."""
        h, w = x.shape[-2:]
        hp, wp = self.padded(h, w)
        pt, pl = self.pads[0], self.pads[1]
        if (hp, wp) == (h, w):
            return x
        out = np.full((*x.shape[:-2], hp, wp), fill, dtype=x.dtype)
        out[..., pt : pt + h, pl : pl + w] = x
        return out

    def crop(self, grid: np.ndarray, h: int, w: int) -> np.ndarray:
        pt, pl = self.pads[0], self.pads[1]
        return grid[..., pt : pt + h, pl : pl + w]

    def taps(self, h: int, w: int):
        """For each tap (i, j) in row-major order, the (rows, cols) slices of the padded grid it reads."""
        ho, wo = self.out(h, w)
        (kh, kw), (sh, sw), (dh, dw) = self.kernel, self.strides, self.dilations
        for i in range(kh):
            for j in range(kw):
                yield (slice(i * dh, i * dh + sh * (ho - 1) + 1, sh), slice(j * dw, j * dw + sw * (wo - 1) + 1, sw))

    def gather(self, grid: np.ndarray, h: int, w: int) -> np.ndarray:
        """Every tap of the padded grid (..., Hp, Wp): (kh * kw, ..., Ho, Wo)."""
        return np.stack([grid[..., r, c] for r, c in self.taps(h, w)])

    def scatter(self, parts: np.ndarray, shape: tuple[int, ...], h: int, w: int) -> np.ndarray:
        """The adjoint of `gather`: parts (kh * kw, ..., Ho, Wo) added into a zero padded grid of `shape`."""
        grid = np.zeros(shape, dtype=parts.dtype)
        for part, (r, c) in zip(parts, self.taps(h, w), strict=True):
            grid[..., r, c] += part
        return grid


class Conv(Node):
    """ONNX Conv on (N, C, H, W): weight (O, C/group, kh, kw), optional bias (O,)."""

    type = "Conv"
    settings = ("strides", "pads", "dilations", "group")
    learned = ("weight", "bias")

    def check(self):
        w = self.params.get("weight")
        if w is None or w.ndim != 4:
            raise ShapeError("Conv needs a 4-D weight (O, C/group, kh, kw)")
        self.strides, self.pads, self.dilations = tuple(self.strides), tuple(self.pads), tuple(self.dilations)
        self.geometry = Geometry(w.shape[2:], self.strides, self.pads, self.dilations)
        if self.group < 1 or w.shape[0] % self.group:
            raise ShapeError(f"Conv: {w.shape[0]} output channels do not split into {self.group} groups")
        b = self.params.get("bias")
        if b is not None and b.shape != (w.shape[0],):
            raise ShapeError(f"Conv: bias of shape {b.shape} for {w.shape[0]} output channels")

    def output_shape(self, shape):
        w = self.params["weight"]
        if len(shape) != 3 or shape[0] != w.shape[1] * self.group:
            raise ShapeError(f"Conv expects ({w.shape[1] * self.group}, H, W), got {shape}")
        ho, wo = self.geometry.out(*shape[1:])
        if ho < 1 or wo < 1:
            raise ShapeError(f"Conv kernel {w.shape[2:]} does not fit input {shape}")
        return (w.shape[0], ho, wo)

    def values_per_sample(self, shape):
        out = self.output_shape(shape)
        kk = prod(self.params["weight"].shape[2:])
        return max(
            (prod(out), "its output"),
            (shape[0] * kk * prod(out[1:]), "its unfolded windows"),
            (shape[0] * prod(self.geometry.padded(*shape[1:])), "its padded input"),
        )

    def _columns(self, x):
        n, _, h, w = x.shape
        grid = self.geometry.pad(x.transpose(1, 0, 2, 3), 0.0)  # (C, N, Hp, Wp)
        cols = self.geometry.gather(grid, h, w)  # (kk, C, N, Ho, Wo)
        g = self.group
        return cols.transpose(1, 0, 2, 3, 4).reshape(g, -1, n * cols.shape[-2] * cols.shape[-1]), cols.shape[-2:]

    def linear(self, x):
        return self.apply(x, self.params["weight"])

    def apply(self, x, w):
        """The convolution of x by the weight `w` (shaped as this node's), without bias (LRP's modified weights)."""
        n = len(x)
        cols, (ho, wo) = self._columns(x)
        y = np.matmul(w.reshape(self.group, w.shape[0] // self.group, -1), cols)  # (g, O/g, N * Ho * Wo)
        return y.reshape(w.shape[0], n, ho, wo).transpose(1, 0, 2, 3)

    def forward(self, x):
        self._shape = x.shape
        y = self.linear(x)
        b = self.params.get("bias")
        return y + b[:, None, None] if b is not None else np.ascontiguousarray(y)

    def backward(self, dy):
        return [self.apply_transpose(dy, self.params["weight"], self._shape)]

    def apply_transpose(self, dy, wt, shape):
        """The adjoint of `apply(., wt)` for inputs of `shape` (N, C, H, W)."""
        n, c, h, w = shape
        g, o = self.group, wt.shape[0]
        ho, wo = dy.shape[2:]
        dyt = dy.transpose(1, 0, 2, 3).reshape(g, o // g, n * ho * wo)
        cols = np.matmul(wt.reshape(g, o // g, -1).transpose(0, 2, 1), dyt)  # (g, C/g * kk, N * Ho * Wo)
        kk = prod(wt.shape[2:])
        parts = cols.reshape(c, kk, n, ho, wo).transpose(1, 0, 2, 3, 4)
        grid = self.geometry.scatter(parts, (c, n, *self.geometry.padded(h, w)), h, w)
        return np.ascontiguousarray(self.geometry.crop(grid, h, w).transpose(1, 0, 2, 3))
