"""Synthetic blob tasks: data, probes, ground-truth masks and each task's default network.

Coordinates: x = column, y = row, 0-based from the top-left; arrays are (C, H, W).
Pixel model: background uniform in [0, noise); blob pixels 1.0 + uniform in [0, 0.2).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import NamedTuple

import numpy as np

from .nn.layers import LAYER_TYPES
from .nn.network import Network

TRAIN_NOISE = 0.1
BLOB_LEVEL, BLOB_JITTER = 1.0, 0.2
PROBE_SEED = 0


class Blob(NamedTuple):
    """A class's blob: a channel and inclusive x (column) and y (row) ranges.

    NOTE: a NamedTuple rather than a frozen dataclass: as immutable, and ~0.3 ms less start-up to define."""

    channel: int
    xs: tuple[int, int]
    ys: tuple[int, int]


@dataclass(frozen=True)
class Task:
    """A synthetic task: its input shape, classes, one blob per class, default network and named probes."""

    name: str
    input_shape: tuple[int, int, int]
    classes: tuple[str, ...]
    blobs: tuple[Blob, ...]
    layers: tuple[dict, ...]
    #: probe name -> (label, noise)
    probes: dict[str, tuple[int, float]] = field(default_factory=dict)
    description: str = ""

    def mask(self, label: int) -> np.ndarray:
        """Boolean (C, H, W) ground truth: where class `label`'s blob is."""
        blob = self.blobs[label]
        m = np.zeros(self.input_shape, dtype=bool)
        m[blob.channel, blob.ys[0] : blob.ys[1] + 1, blob.xs[0] : blob.xs[1] + 1] = True
        return m

    def sample(
        self, n: int, rng: np.random.Generator, noise: float = TRAIN_NOISE, labels=None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """`n` samples: inputs (n, C, H, W), labels (n,), masks (n, C, H, W).

        Labels are drawn uniformly unless given (an int or one per sample).
        """
        if labels is None:
            y = rng.integers(0, len(self.classes), size=n)
        else:
            y = np.broadcast_to(np.asarray(labels, dtype=np.int64), (n,)).copy()
        masks = np.stack([self.mask(int(label)) for label in range(len(self.classes))])[y]
        background = rng.uniform(0.0, noise, size=(n, *self.input_shape)) if noise > 0 else None
        blob = BLOB_LEVEL + rng.uniform(0.0, BLOB_JITTER, size=(n, *self.input_shape))
        x = np.where(masks, blob, 0.0 if background is None else background)
        return x, y, masks

    def balanced_sample(
        self, n: int, rng: np.random.Generator, noise: float = TRAIN_NOISE
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """`n` samples whose class counts differ by at most one, in a seeded random order (see `sample`)."""
        labels = rng.permutation(np.arange(n) % len(self.classes))
        return self.sample(n, rng, noise=noise, labels=labels)

    def probe(self, name: str, seed: int = PROBE_SEED) -> tuple[np.ndarray, int, np.ndarray]:
        """A named probe: input (C, H, W), its label and its mask, from a fixed seed."""
        label, noise = self.probes[name]
        x, y, m = self.sample(1, np.random.default_rng(seed), noise=noise, labels=label)
        return x[0], int(y[0]), m[0]

    def build_network(self, seed: int) -> Network:
        """The task's default network with He-normal weights and zero biases, seeded."""
        rng = np.random.default_rng(seed)
        layers = [LAYER_TYPES[cfg["type"]].from_config(cfg) for cfg in self.layers]
        for layer in layers:
            if "weight" in layer.params:
                w = layer.params["weight"]
                fan_in = int(np.prod(w.shape[1:]))
                layer.params["weight"] = rng.normal(0.0, np.sqrt(2.0 / fan_in), size=w.shape)
        return Network(layers, self.input_shape, task=self.name, classes=list(self.classes))


def _conv(i, o, k=3, s=1, p=1):
    return {
        "type": "conv2d",
        "in_channels": i,
        "out_channels": o,
        "kernel_size": k,
        "stride": s,
        "padding": p,
    }


def _dense(i, o):
    return {"type": "dense", "in_features": i, "out_features": o}


RELU, SOFTMAX, FLATTEN = {"type": "relu"}, {"type": "softmax"}, {"type": "flatten"}

TASKS: dict[str, Task] = {
    "blobs8x8": Task(
        name="blobs8x8",
        input_shape=(2, 8, 8),
        classes=("top-left", "bottom-right"),
        blobs=(Blob(0, (0, 2), (0, 2)), Blob(1, (5, 7), (5, 7))),
        layers=(
            _conv(2, 8),
            RELU,
            {"type": "maxpool2d", "kernel_size": 2, "stride": 2},
            FLATTEN,
            _dense(8 * 4 * 4, 16),
            RELU,
            _dense(16, 2),
            SOFTMAX,
        ),
        probes={"clean": (0, 0.05), "noisy": (1, 0.45)},
        description="2x8x8; class 0: 3x3 blob at (1,1) on channel 0; class 1: 3x3 blob at (6,6) on channel 1",
    ),
    "blobs6x6": Task(
        name="blobs6x6",
        input_shape=(1, 6, 6),
        classes=("top-left", "bottom-right"),
        blobs=(Blob(0, (0, 1), (0, 1)), Blob(0, (4, 5), (4, 5))),
        layers=(FLATTEN, _dense(36, 16), RELU, _dense(16, 12), RELU, _dense(12, 2), SOFTMAX),
        probes={"clean": (0, 0.05), "noisy": (1, 0.30)},
        description="1x6x6; class 0: 2x2 blob at the top-left; class 1: 2x2 blob at the bottom-right",
    ),
}

LEAKY = {"type": "leaky_relu", "negative_slope": 0.1}

# Same data, probes and masks as blobs8x8; the network is the reference notebook's CAM-ready one:
# three padded 3x3 convolutions keep the 8x8 resolution, and global average pooling feeds one dense
# layer, so that CAM (dense weights x last feature maps) applies.
TASKS["blobs8x8-gap"] = replace(
    TASKS["blobs8x8"],
    name="blobs8x8-gap",
    layers=(
        _conv(2, 8),
        LEAKY,
        _conv(8, 16),
        LEAKY,
        _conv(16, 32),
        LEAKY,
        {"type": "global_avg_pool"},
        _dense(32, 2),
        SOFTMAX,
    ),
    description=TASKS["blobs8x8"].description + "; conv 8-16-32 + global average pooling (CAM-ready)",
)


def task_of(net) -> Task | None:
    """The built-in task a network was made for, or None.

    NOTE: a model file's task name is only a claim: the task counts only when the network's input shape
    and number of classes are the task's too (a 3-class model saying "blobs8x8-gap" has no blob for class 2).
    """
    task = TASKS.get(net.task) if isinstance(net.task, str) else None
    if task is None or tuple(net.input_shape) != task.input_shape or net.num_classes != len(task.classes):
        return None
    return task


def task_mismatch(net) -> str | None:
    """Why a model naming a built-in task does not fit it (input shape or class count), or None."""
    task = TASKS.get(net.task) if isinstance(net.task, str) else None
    if task is None:
        return None
    if tuple(net.input_shape) != task.input_shape:
        return f"its input {tuple(net.input_shape)} is not task {task.name}'s {task.input_shape}"
    if net.num_classes != len(task.classes):
        return f"it has {net.num_classes} classes, task {task.name} has {len(task.classes)}"
    return None
