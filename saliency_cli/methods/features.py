"""Feature maps: one layer's output for an input or a batch, per channel, with each channel's range."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..nn import ops
from .batching import row_chunks


@dataclass
class FeatureMaps:
    """Layer `index`'s output (K, h, w) for one input, and the network's logits for it."""

    index: int
    name: str
    type: str
    maps: np.ndarray  # (K, h, w)
    logits: np.ndarray  # (classes,)

    @property
    def ranges(self) -> np.ndarray:
        """[min, max] of each channel, (K, 2)."""
        flat = self.maps.reshape(len(self.maps), -1)
        return np.stack([flat.min(axis=1), flat.max(axis=1)], axis=1)

    @property
    def probabilities(self) -> np.ndarray:
        return ops.softmax(self.logits[None])[0]


def spatial_layers(model) -> list[str]:
    """Names of the layers whose output is (K, h, w)."""
    return [layer.name for layer, shape in zip(model.layers, model.shapes, strict=True) if len(shape) == 3]


def spatial_index(model, layer: str | int) -> int:
    """The index of `layer` (name or index), which must have a (K, h, w) output.

    Raises KeyError for an unknown layer and ValueError for a layer without a (K, h, w) output.
    """
    index = model.index(layer)
    if len(model.shapes[index]) != 3:
        spatial = spatial_layers(model)
        choices = f"layers with feature maps: {', '.join(spatial)}" if spatial else "this model has none"
        raise ValueError(
            f"layer {model.layers[index].name} has no spatial output (shape {model.shapes[index]}); {choices}"
        )
    return index


def layer_outputs(model, x: np.ndarray, index: int, batch_size: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Layer `index`'s output (N, K, h, w) and the logits (N, classes) of a batch x (N, C, H, W),
    `batch_size` rows per forward pass (default `default_rows(model)`)."""
    maps, logits = [], []
    for rows in row_chunks(len(x), batch_size, model):
        logits.append(model.predict_logits(x[rows]))
        maps.append(model.outputs[index].copy())
    return np.concatenate(maps), np.concatenate(logits)


def feature_maps(model, x: np.ndarray, layer: str | int) -> FeatureMaps:
    """The output of `layer` (name or index) for one input `x` (C, H, W), exactly as the network computes it.

    Raises KeyError for an unknown layer and ValueError for a layer without a (K, h, w) output.
    """
    index = spatial_index(model, layer)
    maps, logits = layer_outputs(model, np.asarray(x, dtype=np.float64)[None], index)
    layer_ = model.layers[index]
    return FeatureMaps(index, layer_.name, layer_.type, maps[0], logits[0])
