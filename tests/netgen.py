"""Random networks for property tests."""

from __future__ import annotations

import numpy as np

from saliency_cli.nn.layers import LAYER_TYPES, Conv2d, Dense, Softmax
from saliency_cli.nn.network import Network


def random_network(rng, c, h, w, conv_specs, hidden, act="relu", pool=True, head="flatten") -> Network:
    """A random conv net: [conv -> act]* -> (maxpool) -> flatten|gap -> dense -> act -> dense -> softmax."""
    layers, ch = [], c
    for out, k, s, p in conv_specs:
        layers += [Conv2d(ch, out, k, s, p), LAYER_TYPES[act]()]
        ch = out
    if pool:
        layers.append(LAYER_TYPES["maxpool2d"](2, 1))
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
