"""The feature-maps report: one layer's output for each probe, with the prediction, and its JSON document.

Nothing here prints or knows about Click/Rich.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..methods.batching import row_chunks
from ..methods.features import layer_outputs, spatial_index
from .probe import ProbeReport, probe_document, probe_fields


@dataclass
class FeaturesReport(ProbeReport):
    index: int  # the layer's index, name and type
    name: str
    type: str
    maps: np.ndarray  # (K, h, w), the layer's output exactly as computed

    @property
    def layer(self) -> dict:
        return {"index": self.index, "name": self.name, "type": self.type}

    @property
    def ranges(self) -> np.ndarray:
        """[min, max] of each channel, (K, 2)."""
        flat = self.maps.reshape(len(self.maps), -1)
        return np.stack([flat.min(axis=1), flat.max(axis=1)], axis=1)


def features_reports(net, probes, layer, batch_size: int | None = None, progress=None) -> list[FeaturesReport]:
    """Layer `layer`'s feature maps for every probe, `batch_size` probes per forward pass; `progress(done,
    total)`, when given, is called with the numbers of probes done and in all after each pass.

    Raises KeyError for an unknown layer and ValueError for a layer without a (K, h, w) output.
    """
    index = spatial_index(net, layer)
    spec = net.layers[index]
    before = net.params_hash()
    reports: list[FeaturesReport] = []
    for rows in row_chunks(len(probes), batch_size, net):
        chunk = probes[rows]
        x = np.stack([np.asarray(p.x, dtype=np.float64) for p in chunk])
        maps, logits = layer_outputs(net, x, index, batch_size)
        after = net.params_hash()
        for i, probe in enumerate(chunk):
            reports.append(
                FeaturesReport(
                    **probe_fields(net, probe.x, probe.source, probe.label, logits[i], None, False),
                    params_before=before,
                    params_after=after,
                    index=index,
                    name=spec.name,
                    type=spec.type,
                    maps=maps[i],
                )
            )
        if progress is not None:
            progress(len(reports), len(probes))
    return reports


#: Every top-level key a features document can have (for `--fields`), in document order.
FIELDS = (
    "command", "model", "input", "source", "label", "prediction", "layer", "shape", "maps", "ranges",
    "weights_unchanged", "params_sha256",
)  # fmt: skip


def features_document(report: FeaturesReport) -> dict:
    """The JSON document of `saliency-cli features --format json` (numpy arrays left for the encoder)."""
    probe = {k: v for k, v in probe_document(report).items() if k != "target"}  # nothing is explained
    return {
        "command": "features",
        **probe,
        "layer": report.layer,
        "shape": list(report.maps.shape),
        "maps": report.maps,
        "ranges": report.ranges,
        "weights_unchanged": report.weights_unchanged,
        "params_sha256": report.params_after,
    }
