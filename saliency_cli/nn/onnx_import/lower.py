"""An imported graph that is a chain of the sequential network's layer types becomes a `Network`: every command
then takes it as it takes the tool's own models (and its fused engine runs it)."""

from __future__ import annotations

import numpy as np

from ..layers import LAYER_TYPES
from ..network import Network


def _conv(node, shape):
    w = node.params["weight"]
    (pt, pl, pb, pr), (sh, sw) = node.pads, node.strides
    if (
        node.group != 1
        or w.shape[2] != w.shape[3]
        or sh != sw
        or node.dilations != (1, 1)
        or len({pt, pl, pb, pr}) != 1
    ):
        return None
    cfg = {
        "type": "conv2d",
        "in_channels": w.shape[1],
        "out_channels": w.shape[0],
        "kernel_size": w.shape[2],
        "stride": sh,
        "padding": pt,
    }
    bias = node.params.get("bias", np.zeros(w.shape[0]))
    return cfg, {"weight": w, "bias": bias}


def _maxpool(node, shape):
    (kh, kw), (sh, sw) = node.kernel, node.strides
    if kh != kw or sh != sw or any(node.pads) or node.dilations != (1, 1):
        return None
    floor = ((shape[1] - kh) // sh + 1, (shape[2] - kw) // sw + 1)
    if node.geometry.out(*shape[1:]) != floor:  # NOTE: ceil_mode that adds windows has no layer
        return None
    return {"type": "maxpool2d", "kernel_size": kh, "stride": sh}, {}


def _dense(weight, bias):
    m = weight.shape[1]
    b = np.zeros(m) if bias is None else np.broadcast_to(bias, (m,)).astype(np.float64)
    return {"type": "dense", "in_features": weight.shape[0], "out_features": m}, {"weight": weight.T.copy(), "bias": b}


def _gemm(node, shape):
    if node.alpha != 1.0 or (node.beta != 1.0 and "bias" in node.params):
        return None
    return _dense(node._b, node.params.get("bias"))


def _simple(kind):
    def make(node, shape):
        return {"type": kind}, {}

    return make


def _leaky(node, shape):
    return {"type": "leaky_relu", "negative_slope": float(node.alpha)}, {}


def _flatten(node, shape):
    return ({"type": "flatten"}, {}) if len(node.shape) == 1 else None


_LOWER = {
    "Conv": _conv,
    "MaxPool": _maxpool,
    "Gemm": _gemm,
    "Relu": _simple("relu"),
    "LeakyRelu": _leaky,
    "Flatten": _flatten,
    "Reshape": _flatten,
}


def lower(nodes: list, input_name: str, input_shape, classes, info: dict) -> Network | None:
    """A Network computing what the chain `nodes` computes, or None when they are not such a chain."""
    layers, params, shape, prev, i = [], [], tuple(input_shape), input_name, 0
    while i < len(nodes):
        node = nodes[i]
        if node.inputs != [prev]:
            return None
        made = None
        nxt = nodes[i + 1] if i + 1 < len(nodes) else None
        if node.type == "GlobalAveragePool" and nxt is not None and nxt.type in ("Flatten", "Reshape"):
            if nxt.inputs == [node.output] and nxt.shape == (shape[0],):
                made, node = ({"type": "global_avg_pool"}, {}), nxt
                i += 1
        elif node.type == "ReduceMean" and node.axes == (2, 3) and not node.keepdims and len(shape) == 3:
            made = ({"type": "global_avg_pool"}, {})
        elif node.type == "MatMul" and len(shape) == 1:
            bias = None
            if nxt is not None and nxt.type == "ConstArith" and nxt.op == "Add" and nxt.inputs == [node.output]:
                c = nxt.params["constant"]
                if c.shape in ((), (1,), (node.params["weight"].shape[1],)):
                    bias, node = c, nxt
                    i += 1
            made = _dense(node.params["weight"] if bias is None else nodes[i - 1].params["weight"], bias)
        elif node.type in _LOWER:
            made = _LOWER[node.type](node, shape)
        if made is None:
            return None
        cfg, p = made
        cfg["name"] = node.name
        layer = LAYER_TYPES[cfg["type"]].from_config(cfg)
        try:
            shape = layer.output_shape(shape)
        except Exception:
            return None
        layers.append(layer)
        params.append(p)
        prev, i = node.output, i + 1
    net = Network(layers, tuple(input_shape), None, classes, info)
    for layer, p in zip(net.layers, params, strict=True):
        for key in layer.params:
            layer.params[key] = np.asarray(p[key], dtype=np.float64)
    return net
