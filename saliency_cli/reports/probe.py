"""What every report says of its probe: the model, the input, what the model made of it, the target.

`SaliencyReport`, `LRPReport` and `CamReport` extend `ProbeReport`; `probe_document` is the part of
their JSON documents that they share, and `top_k_pixels` their listing of a map's strongest positions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..nn import ops

#: The keys of the `model` object in every command's JSON (see `model_info`).
MODEL_KEYS = ("path", "task", "sha256")


def model_info(net, path=None, sha256: str | None = None) -> dict:
    """The `model` object of every command's JSON: {"path", "task", "sha256"} of a network.

    path and sha256 are the file's (None for a network built in memory, unless given: `train` gives
    the file it wrote).
    """
    return {
        "path": str(path) if path is not None else getattr(net, "path", None),
        "task": net.task,
        "sha256": sha256 if sha256 is not None else getattr(net, "sha256", None),
    }


@dataclass
class ProbeReport:
    """What every command's report says about its probe: the model, the input, the prediction, the target."""

    model: dict  # path, task, sha256
    input: np.ndarray  # (C, H, W)
    source: str
    label: int | None
    classes: list[str]
    logits: np.ndarray  # (K,)
    probabilities: np.ndarray  # (K,)
    predicted: int
    target: int | None  # None when no class is explained (a unit of an inner layer)
    target_forced: bool
    params_before: str  # parameter hash before and after the explanation
    params_after: str

    @property
    def weights_unchanged(self) -> bool:
        return self.params_before == self.params_after


def probe_fields(net, x, source: str, label, logits, target, forced: bool) -> dict:
    """The `ProbeReport` fields but the parameter hashes, as keyword arguments."""
    logits = np.asarray(logits, dtype=np.float64)
    return {
        "model": model_info(net),
        "input": x,
        "source": source,
        "label": label,
        "classes": list(net.classes),
        "logits": logits,
        "probabilities": ops.softmax(logits[None])[0],
        "predicted": int(logits.argmax()),
        "target": target,
        "target_forced": forced,
    }


def probe_document(report: ProbeReport) -> dict:
    """The JSON fields every command shares: model, input, source, label, prediction and target."""
    return {
        "model": report.model,
        "input": report.input,
        "source": report.source,
        "label": report.label,
        "prediction": {"class": report.predicted, "scores": report.logits, "probabilities": report.probabilities},
        "target": report.target,
    }


def top_k_pixels(attribution: np.ndarray, k: int, by: np.ndarray | None = None) -> list[dict]:
    """The `k` positions of a (C, H, W) map largest in `by` (default: the map itself), largest first,
    as {channel, x, y, value} with the map's own (signed) value.

    NOTE: ties keep row-major order (a stable sort), so the listing is deterministic.
    """
    flat = np.asarray(attribution).ravel()
    key = flat if by is None else np.asarray(by).ravel()
    order = np.argsort(-key, kind="stable")[: max(int(k), 0)]
    _, h, w = np.shape(attribution)
    # NOTE: the flat index i is (c * h + y) * w + x; Python ints and floats straight from tolist()
    return [
        {"channel": i // (h * w), "x": i % w, "y": i // w % h, "value": value}
        for i, value in zip(order.tolist(), flat[order].tolist(), strict=True)
    ]
