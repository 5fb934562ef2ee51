"""Layers: `forward(x)` caches what `backward` needs; `backward(dy)` returns dx and fills `grads`.

Every layer is described by a JSON-able config (`config()`, `from_config`) that is exactly the
layer object of the model file format, and knows its per-sample output shape, so a network can
check that its layers chain before it ever sees data.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from . import ops


class ShapeError(ValueError):
    """A layer cannot take an input of the given shape."""


class Layer:
    type: ClassVar[str] = ""
    #: Whether the layer is affine in its input: its input gradient (`input_grad`) is then one linear map of dy,
    #: the same whatever the input, so it commutes with sums over rows.
    linear: ClassVar[bool] = False

    def __init__(self, name: str | None = None):
        self.name = name or self.type
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}

    def config(self) -> dict:
        return {"type": self.type}

    @classmethod
    def from_config(cls, cfg: dict) -> Layer:
        kwargs = {k: v for k, v in cfg.items() if k not in ("type", "name")}
        return cls(**kwargs, name=cfg.get("name"))

    def output_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """Per-sample output shape for a per-sample input `shape` (raises ShapeError)."""
        return shape

    def forward(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def backward(self, dy: np.ndarray, param_grads: bool = True) -> np.ndarray:
        raise NotImplementedError

    def input_grad(self, dy: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        """A `linear` layer's d(loss)/dx for `dy` of any number of rows, without a forward pass (`shape`: the
        per-sample input shape)."""
        raise NotImplementedError(f"{self.type} is not linear")

    def __repr__(self) -> str:
        settings = ", ".join(f"{k}={v}" for k, v in self.config().items() if k != "type")
        return f"{type(self).__name__}({settings})"


def param_shapes(cfg: dict) -> dict[str, tuple[int, ...]]:
    """The weight and bias shapes a layer config implies (PyTorch layouts), without allocating them."""
    match cfg["type"]:
        case "dense":
            return {"weight": (cfg["out_features"], cfg["in_features"]), "bias": (cfg["out_features"],)}
        case "conv2d":
            k = cfg["kernel_size"]
            return {"weight": (cfg["out_channels"], cfg["in_channels"], k, k), "bias": (cfg["out_channels"],)}
    return {}


class Dense(Layer):
    type = "dense"
    linear = True

    def __init__(self, in_features: int, out_features: int, name: str | None = None):
        super().__init__(name)
        self.in_features, self.out_features = int(in_features), int(out_features)
        self.params = {key: np.zeros(shape) for key, shape in param_shapes(self.config()).items()}

    def config(self) -> dict:
        return {"type": self.type, "in_features": self.in_features, "out_features": self.out_features}

    def output_shape(self, shape):
        if shape != (self.in_features,):
            raise ShapeError(f"dense expects ({self.in_features},), got {shape}")
        return (self.out_features,)

    def forward(self, x):
        self._x = x
        return x @ self.params["weight"].T + self.params["bias"]

    def backward(self, dy, param_grads=True):
        if param_grads:
            self.grads = {"weight": dy.T @ self._x, "bias": dy.sum(axis=0)}
        return self.input_grad(dy, self._x.shape[1:])

    def input_grad(self, dy, shape):
        return dy @ self.params["weight"]


class Conv2d(Layer):
    type = "conv2d"
    linear = True

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        padding: int = 0,
        name: str | None = None,
    ):
        super().__init__(name)
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size, self.stride, self.padding = int(kernel_size), int(stride), int(padding)
        if self.kernel_size < 1 or self.stride < 1 or self.padding < 0:
            raise ShapeError("conv2d needs kernel_size >= 1, stride >= 1, padding >= 0")
        self.params = {key: np.zeros(shape) for key, shape in param_shapes(self.config()).items()}

    def config(self):
        return {
            "type": self.type,
            "in_channels": self.in_channels,
            "out_channels": self.out_channels,
            "kernel_size": self.kernel_size,
            "stride": self.stride,
            "padding": self.padding,
        }

    def output_shape(self, shape):
        if len(shape) != 3 or shape[0] != self.in_channels:
            raise ShapeError(f"conv2d expects ({self.in_channels}, H, W), got {shape}")
        k, s, p = self.kernel_size, self.stride, self.padding
        h, w = ops.out_size(shape[1], k, s, p), ops.out_size(shape[2], k, s, p)
        if h < 1 or w < 1:
            raise ShapeError(f"conv2d kernel {k} does not fit input {shape} with padding {p}")
        return (self.out_channels, h, w)

    #: Use the im2col engine (training sets this, see `Network.reference_engine`) instead of the fast one.
    reference: bool = False

    def forward(self, x):
        self._x = x
        w, b = self.params["weight"], self.params["bias"]
        if self.reference:
            return ops.conv2d_im2col(x, w, b, self.stride, self.padding)
        return ops.conv2d(x, w, b, self.stride, self.padding, work=self._work())

    def backward(self, dy, param_grads=True):
        w = self.params["weight"]
        if param_grads:
            dw, db = ops.conv2d_weight_grad(dy, self._x, w.shape, self.stride, self.padding)
            self.grads = {"weight": dw, "bias": db}
        return self.input_grad(dy, self._x.shape[1:])

    def input_grad(self, dy, shape):
        w, x_shape = self.params["weight"], (len(dy), *shape)
        if self.reference:
            return ops.conv2d_input_grad_col2im(dy, w, x_shape, self.stride, self.padding)
        return ops.conv2d_input_grad(dy, w, x_shape, self.stride, self.padding, work=self._work())

    def fuses(self, act: Layer) -> bool:
        """Whether this convolution and `act` after it run as one fused pass (`forward_act`, `backward_act`)."""
        fast = ops.fast_conv(self.kernel_size, self.stride, self.padding)
        return act.type == "leaky_relu" and fast and not self.reference

    def forward_act(self, x, act: LeakyReLU, padded=None, to: Conv2d | None = None):
        """This layer's `forward` then `act.forward`, fused (see `fuses`): returns (pre-activation, activation,
        hand-off), what the two give one after the other (bit for bit with one block, else to round-off: see
        `ops.conv2d_leaky_relu`), and leaves both layers ready for `backward`. `padded`: `x` as this layer's
        padded input (a previous `forward_act`'s hand-off); `to`: the next convolution (fused with its own
        activation): when the geometry allows, the activation is written as its padded input and returned as the
        hand-off (else None)."""
        self._x = x
        w, b = self.params["weight"], self.params["bias"]
        grid = (x.shape[2] + 2 * self.padding, x.shape[3] + 2 * self.padding)
        valid = self.output_shape(x.shape[1:])[1:]
        nxt = None if to is None or not ops.handoff_fits(grid, valid, to.padding) else (to.padding, to.kernel_size)
        z, a, act._factor, fac_grid, buffer = ops.conv2d_leaky_relu(
            x, w, b, self.padding, act.negative_slope, self._work(), padded=padded, to=nxt
        )
        act._factor_grid = fac_grid
        return z, a, buffer

    def forward_act_mean(self, x, act: LeakyReLU, padded=None):
        """This layer's `forward`, `act.forward` and a global average pool's, fused for a pass that keeps neither
        activation (see `ops.conv2d_leaky_relu_mean`): returns the pool's means, and leaves this layer and `act`
        ready for a fused `backward_act`. `padded`: as for `forward_act`."""
        self._x = x
        w, b = self.params["weight"], self.params["bias"]
        act._factor, act._factor_grid, means = ops.conv2d_leaky_relu_mean(
            x, w, b, self.padding, act.negative_slope, self._work(), padded=padded
        )
        return means

    def backward_act(self, dy, act: LeakyReLU, padded=None, to: tuple[LeakyReLU, Conv2d] | None = None):
        """`self.backward(act.backward(dy), param_grads=False)`, fused: dy * factor is formed as it is copied
        into the convolution's padded buffer. Returns (dx, hand-off).

        `padded`: dy * factor already laid out as the padded buffer (a hand-off; `dy` then gives the shape).
        `to` (the leaky_relu before this layer, the convolution before it): when the geometry allows, dx times
        that leaky_relu's factor is written as the padded input of that convolution's input gradient and
        returned as the hand-off (then dx is None)."""
        w = self.params["weight"]
        nxt = None
        if to is not None:
            prev_act, prev = to
            fac = prev_act.__dict__.get("_factor_grid")
            q, q_prev = self.kernel_size - 1 - self.padding, prev.kernel_size - 1 - prev.padding
            grid = (dy.shape[2] + 2 * q, dy.shape[3] + 2 * q)
            if fac is not None and fac.shape[2:] == grid and fac.shape[1] == dy.shape[0]:
                if ops.handoff_fits(grid, self._x.shape[2:], q_prev):
                    nxt = (fac.reshape(fac.shape[0], -1), q_prev, prev.kernel_size)
        factor = None if padded is not None else act._factor
        if padded is None and nxt is None:
            return ops.conv2d_input_grad(dy, w, self._x.shape, 1, self.padding, self._work(), factor), None
        dx, buffer = ops.conv2d_input_grad(
            dy, w, self._x.shape, 1, self.padding, self._work(), factor, padded=padded, to=nxt
        )
        return (None, buffer) if nxt is not None else (dx, None)

    def gap_handoff(self, values, act: LeakyReLU):
        """The padded input of this layer's input gradient (see `backward_act`) when a global average pool
        follows `act`: values[n, c] (dy / (H * W)) times `act`'s factor over each map, as `ops.Tiles` (built block
        by block where the input gradient reads it), or None when the factor's grid does not fit."""
        fac = act.__dict__.get("_factor_grid")
        q = self.kernel_size - 1 - self.padding
        h, w = act._factor.shape[2:]
        if fac is None or fac.shape[1] != len(values) or not ops.handoff_fits(fac.shape[2:], (h, w), q):
            return None
        return ops.Tiles(values.T.astype(fac.dtype), fac, (h, w), q)

    def _work(self) -> dict:
        """Scratch arrays the fast engine reuses between calls of the same shape (never results)."""
        if "_scratch" not in self.__dict__:
            self._scratch: dict = {}
        return self._scratch


class MaxPool2d(Layer):
    type = "maxpool2d"

    def __init__(self, kernel_size: int, stride: int | None = None, name: str | None = None):
        super().__init__(name)
        self.kernel_size = int(kernel_size)
        self.stride = int(stride) if stride is not None else self.kernel_size
        if self.kernel_size < 1 or self.stride < 1:
            raise ShapeError("maxpool2d needs kernel_size >= 1 and stride >= 1")

    def config(self):
        return {"type": self.type, "kernel_size": self.kernel_size, "stride": self.stride}

    def output_shape(self, shape):
        if len(shape) != 3:
            raise ShapeError(f"maxpool2d expects (C, H, W), got {shape}")
        h = ops.out_size(shape[1], self.kernel_size, self.stride)
        w = ops.out_size(shape[2], self.kernel_size, self.stride)
        if h < 1 or w < 1:
            raise ShapeError(f"maxpool2d window {self.kernel_size} does not fit input {shape}")
        return (shape[0], h, w)

    def forward(self, x):
        y, self._arg = ops.maxpool2d(x, self.kernel_size, self.stride)
        self._x_shape = x.shape
        return y

    def backward(self, dy, param_grads=True):
        return ops.maxpool2d_input_grad(dy, self._arg, self._x_shape, self.kernel_size, self.stride)


class ReLU(Layer):
    type = "relu"

    def forward(self, x):
        # NOTE: relu'(0) = 0, as in PyTorch.
        self._mask = x > 0
        return np.where(self._mask, x, 0.0)

    def backward(self, dy, param_grads=True):
        return np.where(self._mask, dy, 0.0)


class LeakyReLU(Layer):
    type = "leaky_relu"

    def __init__(self, negative_slope: float = 0.01, name: str | None = None):
        super().__init__(name)
        self.negative_slope = float(negative_slope)

    def config(self):
        return {"type": self.type, "negative_slope": self.negative_slope}

    def forward(self, x):
        # NOTE: x * factor, the factor 1 where x > 0 and a elsewhere, is where(x > 0, x, a x) bit for bit
        # (signed zeros, infinities and NaN too: x * 1 == x, x * a == a * x), and the backward is one
        # multiplication dy * factor.
        self._factor = ops.leaky_factor(x, self.negative_slope, np.empty_like(x))
        self._factor_grid = None  # (set by a fused Conv2d.forward_act: the factor on the conv's padded grid)
        return np.multiply(x, self._factor, out=np.empty_like(self._factor))

    def backward(self, dy, param_grads=True):
        return dy * self._factor


class Flatten(Layer):
    type = "flatten"
    linear = True

    def output_shape(self, shape):
        return (int(np.prod(shape)),)

    def forward(self, x):
        self._shape = x.shape
        return x.reshape(x.shape[0], -1)  # (C, H, W) order, as torch.nn.Flatten

    def backward(self, dy, param_grads=True):
        return self.input_grad(dy, self._shape[1:])

    def input_grad(self, dy, shape):
        return dy.reshape(len(dy), *shape)


class GlobalAvgPool(Layer):
    type = "global_avg_pool"
    linear = True

    def output_shape(self, shape):
        if len(shape) != 3:
            raise ShapeError(f"global_avg_pool expects (C, H, W), got {shape}")
        return (shape[0],)

    def forward(self, x):
        self._shape = x.shape
        return ops.spatial_mean(x)

    def backward(self, dy, param_grads=True):
        return self.input_grad(dy, self._shape[1:])

    def input_grad(self, dy, shape):
        return np.broadcast_to(dy[:, :, None, None] / (shape[1] * shape[2]), (len(dy), *shape)).copy()


class Softmax(Layer):
    type = "softmax"

    def output_shape(self, shape):
        if len(shape) != 1:
            raise ShapeError(f"softmax expects a vector, got {shape}")
        return shape

    def forward(self, x):
        self._y = ops.softmax(x)
        return self._y

    def backward(self, dy, param_grads=True):
        y = self._y
        return y * (dy - (dy * y).sum(axis=1, keepdims=True))


LAYER_TYPES: dict[str, type[Layer]] = {
    cls.type: cls for cls in (Conv2d, MaxPool2d, Dense, ReLU, LeakyReLU, Flatten, GlobalAvgPool, Softmax)
}

#: Per-layer settings of the model file format: the integer and float keys each type requires.
LAYER_SETTINGS: dict[str, dict[str, type]] = {
    "conv2d": {"in_channels": int, "out_channels": int, "kernel_size": int, "stride": int, "padding": int},
    "maxpool2d": {"kernel_size": int, "stride": int},
    "dense": {"in_features": int, "out_features": int},
    "leaky_relu": {"negative_slope": float},
    "relu": {},
    "flatten": {},
    "global_avg_pool": {},
    "softmax": {},
}
