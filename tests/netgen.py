"""Random networks for property tests."""

from __future__ import annotations

import numpy as np

from saliency_cli.nn.layers import LAYER_TYPES, Conv2d, Dense, Softmax
from saliency_cli.nn.network import Network


def random_network(rng, c, h, w, conv_specs, hidden, act="relu", pool=True, head="flatten", pool_stride=1) -> Network:
    """A random conv net: [conv -> act]* -> (maxpool 2) -> flatten|gap -> dense -> act -> dense -> softmax."""
    layers, ch = [], c
    for out, k, s, p in conv_specs:
        layers += [Conv2d(ch, out, k, s, p), LAYER_TYPES[act]()]
        ch = out
    if pool:
        layers.append(LAYER_TYPES["maxpool2d"](2, pool_stride))
    layers.append(LAYER_TYPES["global_avg_pool" if head == "gap" else "flatten"]())
    shape = (c, h, w)
    for layer in layers:
        shape = layer.output_shape(shape)
    layers += [Dense(shape[0], hidden), LAYER_TYPES[act](), Dense(hidden, 3), Softmax()]
    for layer in layers:
        for key, value in layer.params.items():
            fan_in = int(np.prod(value.shape[1:])) if key == "weight" else 1
            layer.params[key] = rng.normal(scale=1.0 / np.sqrt(fan_in), size=value.shape)
    return Network(layers, (c, h, w))


def pattern(net, points: np.ndarray, stop: int) -> np.ndarray:
    """Each point's activation pattern up to layer `stop`: relu/leaky masks and max-pool winners, one row each."""
    net.forward(points, stop=stop)
    parts = [np.zeros((len(points), 0), dtype=np.int64)]
    for i, layer in enumerate(net.layers[: stop + 1]):
        if layer.type in ("relu", "leaky_relu"):
            parts.append((net.inputs[i] > 0).reshape(len(points), -1).astype(np.int64))
        elif layer.type == "maxpool2d":
            parts.append(layer._arg.reshape(len(points), -1).astype(np.int64))
    return np.concatenate(parts, axis=1)


def piece_of(net, stop: int):
    """piece(x) for `numerical_gradient`: the activation pattern of a batch x, as bytes."""
    return lambda x: pattern(net, x, stop).tobytes()
