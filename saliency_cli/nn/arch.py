"""`--arch`: a small language for a sequential network, parsed into layer configs that fit a data shape.

A spec is a comma-separated list of layers, first to last; every layer type of the engine is one token:

    conv<C>:<K>[:s<S>][:p<P>]   conv2d: C output channels, a K x K kernel, stride S (1), padding P
                                (default K // 2: the same size out as in for an odd K at stride 1)
    maxpool<K>[:s<S>]           maxpool2d: a K x K window, stride S (default K)
    dense<N>                    dense: N outputs
    relu
    leaky_relu[:<A>]            leaky_relu with negative slope A (0.01); `lrelu` is the same
    flatten                     (C, H, W) -> C*H*W, in (C, H, W) order
    gap                         global average pooling (C, H, W) -> C; `global_avg_pool` is the same
    softmax                     only last; added when the spec does not end with it

Input sizes (a convolution's input channels, a dense layer's inputs) come from the shape before the layer.
The last layer before the softmax must give one output per class.
"""

from __future__ import annotations

import math
import re

from .layers import LAYER_TYPES
from .limits import check_activations, check_parameters

_INT = r"([1-9][0-9]{0,8})"
_PATTERNS = [
    (re.compile(rf"conv{_INT}:{_INT}((?::[sp][0-9]{{1,9}})*)"), "conv2d"),
    (re.compile(rf"maxpool{_INT}((?::s[0-9]{{1,9}})?)"), "maxpool2d"),
    (re.compile(rf"dense{_INT}"), "dense"),
    (re.compile(r"(?:leaky_relu|lrelu)(?::([0-9.eE+-]{1,24}))?"), "leaky_relu"),
    (re.compile(r"relu"), "relu"),
    (re.compile(r"flatten"), "flatten"),
    (re.compile(r"gap|global_avg_pool"), "global_avg_pool"),
    (re.compile(r"softmax"), "softmax"),
]
#: Most layers a spec may have (the model format allows MAX_LAYERS; a spec is typed by hand).
MAX_SPEC_LAYERS = 64


class ArchError(ValueError):
    """A spec that does not parse, or does not fit the data; one line naming the layer."""


def _options(text: str, token: str) -> dict[str, int]:
    """`:s2:p1` -> {"s": 2, "p": 1}, each at most once."""
    out: dict[str, int] = {}
    for part in filter(None, text.split(":")):
        if part[0] in out:
            raise ArchError(f"--arch: {token}: '{part[0]}' given twice")
        out[part[0]] = int(part[1:])
    return out


def _token_config(token: str) -> dict:
    """One token as a layer config without its input sizes (in_channels, in_features: filled in later)."""
    for pattern, kind in _PATTERNS:
        match = pattern.fullmatch(token)
        if match is None:
            continue
        if kind == "conv2d":
            k = int(match[2])
            opts = _options(match[3], token)
            if opts.get("s", 1) < 1:
                raise ArchError(f"--arch: {token}: the stride must be 1 or more")
            return {"type": kind, "out_channels": int(match[1]), "kernel_size": k, "stride": opts.get("s", 1),
                    "padding": opts.get("p", k // 2)}  # fmt: skip
        if kind == "maxpool2d":
            stride = _options(match[2], token).get("s", int(match[1]))
            if stride < 1:
                raise ArchError(f"--arch: {token}: the stride must be 1 or more")
            return {"type": kind, "kernel_size": int(match[1]), "stride": stride}
        if kind == "dense":
            return {"type": kind, "out_features": int(match[1])}
        if kind == "leaky_relu":
            try:
                slope = 0.01 if match[1] is None else float(match[1])
            except ValueError:
                slope = math.nan
            if not math.isfinite(slope):
                raise ArchError(f"--arch: {token}: the slope must be a finite number, such as leaky_relu:0.1")
            return {"type": kind, "negative_slope": slope}
        return {"type": kind}
    raise ArchError(
        f"--arch: unknown layer {token[:40]!r}: use conv<C>:<K>[:s<S>][:p<P>], maxpool<K>[:s<S>], dense<N>, "
        "relu, leaky_relu[:<A>], flatten, gap, softmax"
    )


def parse_arch(spec: str, input_shape: tuple[int, int, int], classes: int) -> list[dict]:
    """Layer configs (complete, as the model format stores them) for `spec` on inputs of `input_shape`
    (C, H, W) and `classes` classes, ending in a softmax. Raises ArchError naming the layer that does not fit."""
    tokens = [t.strip() for t in spec.split(",")]
    if not spec.strip() or "" in tokens:
        raise ArchError(f"--arch {spec!r}: give comma-separated layers, such as conv8:3,relu,flatten,dense10")
    if len(tokens) > MAX_SPEC_LAYERS:
        raise ArchError(f"--arch: {len(tokens)} layers; a spec may have at most {MAX_SPEC_LAYERS}")
    configs = [_token_config(t) for t in tokens]
    if any(cfg["type"] == "softmax" for cfg in configs[:-1]):
        raise ArchError("--arch: softmax can only be the last layer")
    if configs[-1]["type"] != "softmax":
        tokens.append("softmax")
        configs.append({"type": "softmax"})
    shape = tuple(input_shape)
    for i, (token, cfg) in enumerate(zip(tokens, configs, strict=True)):
        if cfg["type"] == "conv2d":
            if len(shape) != 3:
                raise ArchError(f"--arch: layer {i + 1} ({token}) gets shape {shape}; a convolution needs (C, H, W)")
            cfg["in_channels"] = shape[0]
        elif cfg["type"] == "dense":
            if len(shape) != 1:
                raise ArchError(
                    f"--arch: layer {i + 1} ({token}) gets shape {shape}; a dense layer needs a vector: "
                    "put flatten or gap before it"
                )
            cfg["in_features"] = shape[0]
        elif cfg["type"] == "softmax" and len(shape) != 1:
            raise ArchError(f"--arch: the network gives shape {shape}, not a score per class: end with dense{classes}")
        try:
            check_parameters(configs[: i + 1])  # NOTE: before the layer allocates its weights
        except ValueError as exc:
            raise ArchError(f"--arch: up to layer {i + 1} ({token}), {exc}") from None
        try:
            layer = LAYER_TYPES[cfg["type"]].from_config(cfg)
            check_activations([layer], shape)
        except ValueError as exc:  # ShapeError included
            why = re.sub(r"^(layers do not chain: )?layer 0 \([a-z_0-9]+\):? ?", "", str(exc))
            raise ArchError(f"--arch: layer {i + 1} ({token}) does not fit the shape {shape} it gets: {why}") from None
        configs[i] = layer.config()  # NOTE: the keys in the order the model file writes them
        shape = tuple(layer.output_shape(shape))
    if shape != (classes,):
        raise ArchError(
            f"--arch: the network gives {shape[0]} scores and the data has {classes} classes: end with dense{classes}"
        )
    return configs


def default_arch(input_shape: tuple[int, int, int], classes: int) -> str:
    """A sensible network for the shape: the digits network (a 3x3 convolution, a 2x2 max-pool, a hidden dense
    layer) when the image is 4x4 or larger, else two dense layers."""
    if min(input_shape[1:]) >= 4:
        return f"conv8:3,relu,maxpool2,flatten,dense32,relu,dense{classes}"
    return f"flatten,dense32,relu,dense{classes}"
