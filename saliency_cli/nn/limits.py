"""The size limits of the model format, checked from the layer settings alone before anything is allocated.

The engine is for small networks: a file of a few bytes must not be able to ask for gigabytes, whether
through its parameters, its activations, or the intermediates a layer builds (a padded input, the
unfolded windows of a convolution or a max-pool).
"""

from __future__ import annotations

from .layers import Layer, ShapeError, param_shapes

#: Most layers a model may have.
MAX_LAYERS = 256
#: Most parameters (weights and biases of all layers together) a model may have: 2^24, 128 MiB as float64.
MAX_PARAMETERS = 2**24
#: Most values one layer may hold or build per sample: its input padded, its unfolded windows, its output.
MAX_VALUES_PER_SAMPLE = 2**24
#: Largest meta JSON member (its .npy array data) in bytes.
MAX_META_BYTES = 4 * 2**20
#: Largest model file: every parameter as float64, plus the meta and the zip and .npy overhead.
MAX_FILE_BYTES = MAX_PARAMETERS * 8 + 2 * MAX_META_BYTES


def _product(values) -> int:
    out = 1
    for value in values:
        out *= int(value)
    return out


def check_parameters(configs: list[dict]) -> int:
    """The total parameter count the layer settings imply; ValueError above MAX_PARAMETERS."""
    total = sum(_product(shape) for cfg in configs for shape in param_shapes(cfg).values())
    if total > MAX_PARAMETERS:
        raise ValueError(f"the layers have {total:,} parameters; a model may have at most {MAX_PARAMETERS:,}")
    return total


def layer_values(layer: Layer, shape: tuple[int, ...], out: tuple[int, ...]) -> tuple[int, str]:
    """The most values `layer` holds or builds per sample for input `shape` and output `out`, and which."""
    candidates = [(_product(out), "its output")]
    if layer.type == "conv2d":
        c, h, w = shape
        k, p = layer.kernel_size, layer.padding
        candidates.append((c * (h + 2 * p) * (w + 2 * p), "its padded input"))
        candidates.append((c * k * k * _product(out[1:]), "its unfolded windows"))
    elif layer.type == "maxpool2d":
        candidates.append((shape[0] * layer.kernel_size**2 * _product(out[1:]), "its pooling windows"))
    return max(candidates)


def check_activations(layers: list[Layer], input_shape: tuple[int, ...]) -> None:
    """Chain the per-sample shapes and bound every layer's values; ValueError naming the first offender.

    Layer i is checked before layer i + 1's shape is computed, so no shape computation overflows.
    """
    if (size := _product(input_shape)) > MAX_VALUES_PER_SAMPLE:
        raise ValueError(
            f"input_shape {list(input_shape)} has {size:,} values; this tool handles at most {MAX_VALUES_PER_SAMPLE:,}"
        )
    shape = tuple(input_shape)
    for i, layer in enumerate(layers):
        try:
            out = tuple(int(s) for s in layer.output_shape(shape))
        except ShapeError as exc:
            raise ValueError(f"layers do not chain: layer {i} ({layer.type}): {exc}") from None
        values, what = layer_values(layer, shape, out)
        if values > MAX_VALUES_PER_SAMPLE:
            raise ValueError(
                f"layer {i} ({layer.type}) would need {values:,} values per sample for {what}; "
                f"this tool handles at most {MAX_VALUES_PER_SAMPLE:,}"
            )
        shape = out
