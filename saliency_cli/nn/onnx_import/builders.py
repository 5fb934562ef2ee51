"""One builder per supported ONNX op: from the node's attributes and inputs (activations or folded constants)
to a node of the graph engine, or to an alias of its input (Identity, Dropout, a float Cast).

A builder refuses with one line naming the op, the node and what it cannot take."""

from __future__ import annotations

import numpy as np

from ..graph import (
    AddTensors,
    AveragePool,
    BatchNormalization,
    Concat,
    ConstArith,
    Conv,
    Flatten,
    Gemm,
    GlobalAveragePool,
    LeakyRelu,
    MatMul,
    MaxPool,
    ReduceMean,
    Relu,
    Reshape,
    Sigmoid,
    Tanh,
    Transpose,
)
from ..graph.conv import Geometry
from ..layers import ShapeError
from .fold import BATCH
from .read import Refused


class Site:
    """An ONNX node being built: its name, op, attributes, and what each input is (activation or constant)."""

    def __init__(self, name, op, attrs, inputs, outputs, consts, shapes, batch):
        self.name, self.op, self.attrs, self.inputs, self.outputs = name, op, attrs, inputs, outputs
        self.consts, self.shapes, self.batch = consts, shapes, batch

    def where(self) -> str:
        return f"ONNX op '{self.op}' at node '{self.name}'"

    def refuse(self, what: str):
        raise Refused(f"{what} of {self.where()}")

    def attr(self, key, default=None, allowed=None):
        value = self.attrs.get(key, default)
        if allowed is not None and value not in allowed:
            self.refuse(f"unsupported attribute {key}={_show(value)}")
        return value

    def is_act(self, i: int) -> bool:
        return i < len(self.inputs) and self.inputs[i] in self.shapes

    def act(self, i: int) -> str:
        if not self.is_act(i):
            self.refuse(f"input {i} must be an activation, not a constant,")
        return self.inputs[i]

    def const(self, i: int, required: bool = True):
        if i >= len(self.inputs) or not self.inputs[i]:
            if required:
                self.refuse(f"missing input {i}")
            return None
        if self.inputs[i] not in self.consts:
            self.refuse(f"input {i} must be a constant (an initializer), not an activation,")
        return self.consts[self.inputs[i]]

    def shape(self, i: int = 0) -> tuple[int, ...]:
        return self.shapes[self.act(i)]

    def only_first_output_used(self, used: set[str]):
        for out in self.outputs[1:]:
            if out and out in used:
                self.refuse(f"output {out!r} (only the first output is supported)")

    def make(self, cls, ins: list[str], params=None, **settings):
        # NOTE: float32 constants become float64 exactly: the values the file stores are the function
        params = {k: np.asarray(v, dtype=np.float64) for k, v in (params or {}).items()}
        try:
            return cls(self.name, ins, self.outputs[0], params, **settings)
        except ShapeError as exc:
            raise Refused(f"{exc} at node '{self.name}' (ONNX op '{self.op}')") from None


def _show(value) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _float_param(site: Site, i: int, what: str, required: bool = True):
    value = site.const(i, required)
    if value is not None and value.dtype.kind != "f":
        site.refuse(f"{what} of type {value.dtype}")
    return value


def _window(site: Site, rank_kernel, count: int = 2):
    """kernel, strides, pads (top, left, bottom, right), dilations of a 2-D window op, auto_pad resolved."""
    shape = site.shape()
    if len(shape) != 3:
        site.refuse(f"input of shape {shape} (2-D images (C, H, W) only)")
    kernel = tuple(int(k) for k in rank_kernel)
    if len(kernel) != count:
        site.refuse(f"unsupported attribute kernel_shape={list(kernel)}")
    strides = tuple(site.attr("strides", [1, 1]))
    dilations = tuple(site.attr("dilations", [1, 1]))
    pads = tuple(site.attr("pads", [0, 0, 0, 0]))
    if len(strides) != 2 or len(dilations) != 2 or len(pads) != 4:
        site.refuse(f"unsupported attribute strides/pads/dilations={list(strides)}/{list(pads)}/{list(dilations)}")
    auto = site.attr("auto_pad", b"NOTSET")
    auto = auto.decode() if isinstance(auto, bytes) else auto
    if auto == "VALID":
        pads = (0, 0, 0, 0)
    elif auto in ("SAME_UPPER", "SAME_LOWER"):
        both = []
        for size, k, s, d in zip(shape[1:], kernel, strides, dilations, strict=True):
            total = max((-(-size // s) - 1) * s + (k - 1) * d + 1 - size, 0)
            small, big = total // 2, total - total // 2
            both.append((big, small) if auto == "SAME_LOWER" else (small, big))
        pads = (both[0][0], both[1][0], both[0][1], both[1][1])
    elif auto != "NOTSET":
        site.refuse(f"unsupported attribute auto_pad={_show(auto)}")
    try:
        Geometry(kernel, strides, pads, dilations)
    except ShapeError:
        site.refuse(f"unsupported attribute value kernel/strides/pads/dilations {kernel}/{strides}/{pads}/{dilations}")
    return kernel, strides, pads, dilations


def build_conv(site: Site, used):
    w = _float_param(site, 1, "weight")
    if w.ndim != 4:
        site.refuse(f"weight of shape {w.shape} (2-D convolutions only)")
    if "kernel_shape" in site.attrs and tuple(site.attrs["kernel_shape"]) != w.shape[2:]:
        site.refuse(f"unsupported attribute kernel_shape={site.attrs['kernel_shape']}")
    _, strides, pads, dilations = _window(site, w.shape[2:])
    group = int(site.attr("group", 1))
    c = site.shape()[0]
    if not (group == 1 or (group == c and w.shape[1] == 1)):
        site.refuse(f"unsupported attribute group={group} (1 or depthwise only)")
    b = _float_param(site, 2, "bias", required=False)
    params = {"weight": w} if b is None else {"weight": w, "bias": b}
    return site.make(Conv, [site.act(0)], params, strides=strides, pads=pads, dilations=dilations, group=group)


def build_gemm(site: Site, used):
    site.attr("transA", 0, allowed=(0,))
    trans_b = int(site.attr("transB", 0, allowed=(0, 1)))
    b = _float_param(site, 1, "B")
    c = _float_param(site, 2, "C", required=False)
    if c is not None:
        m = b.shape[0] if trans_b else b.shape[1]
        if c.ndim == 2 and c.shape[0] == 1:
            c = c.reshape(-1)
        if c.shape not in ((), (1,), (m,)):
            site.refuse(f"C of shape {c.shape}")
    params = {"weight": b} if c is None else {"weight": b, "bias": c}
    alpha, beta = float(site.attr("alpha", 1.0)), float(site.attr("beta", 1.0))
    return site.make(Gemm, [site.act(0)], params, alpha=alpha, beta=beta, trans_b=trans_b)


def build_matmul(site: Site, used):
    b = _float_param(site, 1, "right-hand side")
    if b.ndim != 2:
        site.refuse(f"right-hand side of shape {b.shape} (a constant matrix only)")
    return site.make(MatMul, [site.act(0)], {"weight": b})


def _per_sample_constant(site: Site, c: np.ndarray, rank: int) -> np.ndarray:
    """A constant broadcast against an activation of per-sample rank `rank`: its batch axis dropped."""
    if c.ndim > rank:
        if c.ndim > rank + 1 or c.shape[0] != 1:
            site.refuse(f"constant of shape {c.shape} against a batch")
        c = c.reshape(c.shape[1:])
    if c.dtype.kind != "f":
        c = c.astype(np.float32)
    return c


def build_arith(site: Site, used):
    if site.is_act(0) and site.is_act(1):
        if site.op not in ("Add", "Sub"):
            site.refuse("two activations (only Add and Sub take two)")
        return site.make(AddTensors, [site.act(0), site.act(1)], sign=1 if site.op == "Add" else -1)
    first = site.is_act(0)
    x = site.act(0 if first else 1)
    c = _per_sample_constant(site, site.const(1 if first else 0), len(site.shapes[x]))
    op = site.op if first else {"Add": "Add", "Mul": "Mul", "Sub": "RSub"}.get(site.op)
    if op is None:
        site.refuse("a constant divided by an activation")
    return site.make(ConstArith, [x], {"constant": c}, op=op)


def build_batchnorm(site: Site, used):
    site.attr("training_mode", 0, allowed=(0,))
    site.attr("spatial", 1, allowed=(1,))
    site.only_first_output_used(used)
    keys = ("scale", "bias", "mean", "var")
    params = {k: _float_param(site, i + 1, k) for i, k in enumerate(keys)}
    if len({p.shape for p in params.values()}) != 1 or params["scale"].ndim != 1:
        site.refuse("scale, B, mean and var of different shapes")
    return site.make(BatchNormalization, [site.act(0)], params, epsilon=float(site.attr("epsilon", 1e-5)))


def build_relu(site: Site, used):
    return site.make(Relu, [site.act(0)])


def build_leaky(site: Site, used):
    return site.make(LeakyRelu, [site.act(0)], alpha=float(site.attr("alpha", 0.01)))


def build_sigmoid(site: Site, used):
    return site.make(Sigmoid, [site.act(0)])


def build_tanh(site: Site, used):
    return site.make(Tanh, [site.act(0)])


def build_maxpool(site: Site, used):
    site.only_first_output_used(used)
    site.attr("storage_order", 0, allowed=(0, 1))
    kernel, strides, pads, dilations = _window(site, site.attr("kernel_shape", []))
    ceil = int(site.attr("ceil_mode", 0, allowed=(0, 1)))
    return site.make(
        MaxPool, [site.act(0)], kernel=kernel, strides=strides, pads=pads, dilations=dilations, ceil_mode=ceil
    )


def build_avgpool(site: Site, used):
    kernel, strides, pads, dilations = _window(site, site.attr("kernel_shape", []))
    ceil = int(site.attr("ceil_mode", 0, allowed=(0, 1)))
    include = int(site.attr("count_include_pad", 0, allowed=(0, 1)))
    if dilations != (1, 1):
        site.refuse(f"unsupported attribute dilations={list(dilations)}")
    h, w = site.shape()[1:]
    if ceil and Geometry(kernel, strides, pads, dilations, True).out(h, w) != Geometry(
        kernel, strides, pads, dilations
    ).out(h, w):
        site.refuse("unsupported attribute ceil_mode=1 (where it adds windows)")
    return site.make(
        AveragePool,
        [site.act(0)],
        kernel=kernel,
        strides=strides,
        pads=pads,
        dilations=dilations,
        ceil_mode=0,
        count_include_pad=include,
    )


def build_gap(site: Site, used):
    if len(site.shape()) != 3:
        site.refuse(f"input of shape {site.shape()} (2-D images only)")
    return site.make(GlobalAveragePool, [site.act(0)], axes=(2, 3), keepdims=1)


def build_reduce_mean(site: Site, used):
    rank = len(site.shape()) + 1
    axes = site.attrs.get("axes")
    if axes is None and len(site.inputs) > 1 and site.inputs[1]:
        axes = [int(a) for a in site.const(1).reshape(-1)]
    if not axes:
        site.refuse("reduction over every axis (the batch included)")
    axes = sorted(a + rank if a < 0 else a for a in axes)
    if axes[0] < 1:
        site.refuse(f"unsupported attribute axes={axes} (the batch axis)")
    return site.make(ReduceMean, [site.act(0)], axes=tuple(axes), keepdims=int(site.attr("keepdims", 1)))


def build_flatten(site: Site, used):
    shape = site.shape()
    axis = int(site.attr("axis", 1))
    if axis < 0:
        axis += len(shape) + 1
    if axis != 1:
        site.refuse(f"unsupported attribute axis={axis} (1 only: flattening each example)")
    return site.make(Flatten, [site.act(0)], shape=(int(np.prod(shape)),))


def per_sample_shape(site: Site, target: list[int], shape: tuple[int, ...]) -> tuple[int, ...]:
    """A Reshape's target for the whole batch as a per-sample shape: its first entry must be the batch axis."""
    allow_zero = int(site.attrs.get("allowzero", 0))
    full = (BATCH, *shape)
    target = [full[i] if t == 0 and not allow_zero and i < len(full) else t for i, t in enumerate(target)]
    if not target:
        site.refuse("dynamic shape: a reshape to a scalar")
    head, rest = target[0], target[1:]
    size = int(np.prod(shape, dtype=object))
    if head in (BATCH, site.batch) or (head == -1 and -1 not in rest):
        if rest.count(-1) > 1 or any(t < -1 or t == 0 or t == BATCH for t in rest):
            site.refuse(f"dynamic shape that cannot be fixed: target {target[:8]}")
        known = int(np.prod([t for t in rest if t != -1], dtype=object))
        if -1 in rest:
            if known == 0 or size % known:
                site.refuse(f"dynamic shape that cannot be fixed: target {target[:8]}")
            rest = [size // known if t == -1 else t for t in rest]
        if int(np.prod(rest, dtype=object)) != size:
            site.refuse(f"dynamic shape that cannot be fixed: {list(shape)} per example to {rest}")
        return tuple(rest)
    site.refuse(f"dynamic shape that cannot be fixed: target {target[:8]} does not keep the batch axis first")


def build_reshape(site: Site, used):
    target = [int(t) for t in site.const(1).reshape(-1)]
    shape = per_sample_shape(site, target, site.shape())
    return site.act(0) if shape == site.shape() else site.make(Reshape, [site.act(0)], shape=shape)


def build_squeeze(site: Site, used):
    shape = site.shape()
    rank = len(shape) + 1
    axes = site.attrs.get("axes")
    if axes is None and len(site.inputs) > 1 and site.inputs[1]:
        axes = [int(a) for a in site.const(1).reshape(-1)]
    if axes is None:
        axes = [i + 1 for i, s in enumerate(shape) if s == 1]
    axes = {a + rank if a < 0 else a for a in axes}
    if 0 in axes or any(a > len(shape) or shape[a - 1] != 1 for a in axes):
        site.refuse(f"unsupported attribute axes={sorted(axes)}")
    out = tuple(s for i, s in enumerate(shape) if i + 1 not in axes)
    return site.make(Reshape, [site.act(0)], shape=out)


def build_unsqueeze(site: Site, used):
    shape = site.shape()
    axes = site.attrs.get("axes")
    if axes is None:
        axes = [int(a) for a in site.const(1).reshape(-1)]
    rank = len(shape) + 1 + len(axes)
    axes = sorted(a + rank if a < 0 else a for a in axes)
    if 0 in axes or len(set(axes)) != len(axes) or axes[-1] >= rank:
        site.refuse(f"unsupported attribute axes={axes}")
    out = list(shape)
    for a in axes:
        out.insert(a - 1, 1)
    return site.make(Reshape, [site.act(0)], shape=tuple(out))


def build_transpose(site: Site, used):
    shape = site.shape()
    perm = site.attrs.get("perm")
    perm = list(range(len(shape), -1, -1)) if perm is None else [int(p) for p in perm]
    if sorted(perm) != list(range(len(shape) + 1)) or perm[0] != 0:
        site.refuse(f"unsupported attribute perm={perm} (the batch axis must stay first)")
    per = tuple(p - 1 for p in perm[1:])
    return site.act(0) if per == tuple(range(len(per))) else site.make(Transpose, [site.act(0)], perm=per)


def build_concat(site: Site, used):
    ins = [site.act(i) for i in range(len(site.inputs))]
    rank = len(site.shape()) + 1
    axis = int(site.attr("axis", 1))
    axis = axis + rank if axis < 0 else axis
    if axis < 1:
        site.refuse(f"unsupported attribute axis={axis} (the batch axis)")
    return site.make(Concat, ins, axis=axis)


def build_identity(site: Site, used):
    site.only_first_output_used(used)
    return site.act(0)


def build_dropout(site: Site, used):
    site.only_first_output_used(used)
    if len(site.inputs) > 2 and site.inputs[2]:
        mode = site.const(2)
        if bool(np.asarray(mode).reshape(-1)[0]):
            site.refuse("training_mode=true")
    return site.act(0)


def build_cast(site: Site, used):
    if site.attrs.get("to") not in (1, 10, 11):
        site.refuse(f"unsupported attribute to={site.attrs.get('to')} (a float type only)")
    return site.act(0)


#: ONNX op -> builder.
BUILDERS = {
    "Conv": build_conv,
    "Gemm": build_gemm,
    "MatMul": build_matmul,
    "Add": build_arith,
    "Sub": build_arith,
    "Mul": build_arith,
    "Div": build_arith,
    "BatchNormalization": build_batchnorm,
    "Relu": build_relu,
    "LeakyRelu": build_leaky,
    "Sigmoid": build_sigmoid,
    "Tanh": build_tanh,
    "MaxPool": build_maxpool,
    "AveragePool": build_avgpool,
    "GlobalAveragePool": build_gap,
    "ReduceMean": build_reduce_mean,
    "Flatten": build_flatten,
    "Reshape": build_reshape,
    "Squeeze": build_squeeze,
    "Unsqueeze": build_unsqueeze,
    "Transpose": build_transpose,
    "Concat": build_concat,
    "Identity": build_identity,
    "Dropout": build_dropout,
    "Cast": build_cast,
}
