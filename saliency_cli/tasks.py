"""The built-in tasks: synthetic blob tasks (data, probes, ground-truth masks) and a real data set (digits),
each with its default network.

Coordinates: x = column, y = row, 0-based from the top-left; arrays are (C, H, W).
Blob pixel model: background uniform in [0, noise); blob pixels 1.0 + uniform in [0, 0.2).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import ClassVar, NamedTuple

import numpy as np

from .errors import UserError
from .nn.layers import LAYER_TYPES
from .nn.network import Network

TRAIN_NOISE = 0.1
BLOB_LEVEL, BLOB_JITTER = 1.0, 0.2
PROBE_SEED = 0
#: A data task's probes: `held-out:N` is held-out image N (0-based) with its label.
HELD_OUT = "held-out"


class Blob(NamedTuple):
    """A class's blob: a channel and inclusive x (column) and y (row) ranges.

    NOTE: a NamedTuple rather than a frozen dataclass: as immutable, and ~0.3 ms less start-up to define."""

    channel: int
    xs: tuple[int, int]
    ys: tuple[int, int]


def he_network(configs, input_shape, seed: int, task: str | None = None, classes=None) -> Network:
    """A network of the layer `configs` with He-normal weights and zero biases, seeded."""
    rng = np.random.default_rng(seed)
    layers = [LAYER_TYPES[cfg["type"]].from_config(cfg) for cfg in configs]
    for layer in layers:
        if "weight" in layer.params:
            w = layer.params["weight"]
            fan_in = int(np.prod(w.shape[1:]))
            layer.params["weight"] = rng.normal(0.0, np.sqrt(2.0 / fan_in), size=w.shape)
    return Network(layers, tuple(input_shape), task=task, classes=None if classes is None else list(classes))


def build_network(task, seed: int) -> Network:
    """`task`'s default network with He-normal weights and zero biases, seeded."""
    return he_network(task.layers, task.input_shape, seed, task.name, task.classes)


@dataclass(frozen=True)
class Task:
    """A synthetic task: its input shape, classes, one blob per class, default network and named probes."""

    #: Whether the data comes from a seeded generator (else from a fixed data set), and whether the task knows
    #: where the evidence for each class is (a ground-truth mask per label).
    generated: ClassVar[bool] = True
    has_masks: ClassVar[bool] = True
    #: The probe explained when none is named, and `train`'s default number of epochs.
    default_probe: ClassVar[str] = "clean"
    epochs: ClassVar[int] = 8

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
        if name not in self.probes:
            raise UserError(f"--probe {name}: task {self.name} has the probes {' and '.join(sorted(self.probes))}")
        label, noise = self.probes[name]
        x, y, m = self.sample(1, np.random.default_rng(seed), noise=noise, labels=label)
        return x[0], int(y[0]), m[0]

    def probe_source(self, name: str, seed: int = PROBE_SEED) -> str:
        """How a probe is named in reports."""
        return f"{name} (seed {seed})"

    def training_data(self, config) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict]:
        """Fresh data from the generator for `config` (its samples, held-out fraction, noise and seed):
        x_train, y_train, x_held, y_held and what the training record says about the data."""
        data_rng = np.random.default_rng([config.seed, 1])
        held = max(1, round(config.samples * config.held_out))
        x, y, _ = self.sample(config.samples + held, data_rng, noise=config.noise)
        return x[:-held], y[:-held], x[-held:], y[-held:], {"noise": config.noise}

    def build_network(self, seed: int) -> Network:
        """The task's default network with He-normal weights and zero biases, seeded."""
        return build_network(self, seed)


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


def held_out_index(name: str) -> int | None:
    """N of a probe named `held-out:N` (`held-out` alone is image 0), or None for any other name."""
    head, _, tail = name.partition(":")
    if head != HELD_OUT:
        return None
    if not tail:
        return 0
    if not (tail.isascii() and tail.isdigit()) or len(tail) > 9:  # NOTE: not "٣" or "³", which isdigit() takes
        raise UserError(f"--probe {name}: N in held-out:N must be an image number, 0 or more")
    return int(tail)


_DATA_CACHE: dict[str, tuple] = {}


@dataclass(frozen=True)
class DataTask:
    """A task on a fixed data set: a seeded, stratified split into training and held-out images, loaded when
    first used. Probes are held-out images (`held-out:N`); there is no ground truth of where the evidence is."""

    generated: ClassVar[bool] = False
    has_masks: ClassVar[bool] = False
    default_probe: ClassVar[str] = f"{HELD_OUT}:0"
    epochs: ClassVar[int] = 20

    name: str
    input_shape: tuple[int, int, int]
    classes: tuple[str, ...]
    layers: tuple[dict, ...]
    #: () -> (x (N, C, H, W) float64 in [0, 1], y (N,) int64)
    load: Callable[[], tuple[np.ndarray, np.ndarray]]
    #: what the training record says about the data: its name and files ({"path", "sha256"} each)
    provenance: dict = field(default_factory=dict)
    held_out_fraction: float = 0.2
    split_seed: int = 0
    description: str = ""

    def split(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """x_train, y_train, x_held, y_held: the same for every run (the split's seed is fixed)."""
        if self.name not in _DATA_CACHE:
            from .datasets import stratified_split

            x, y = self.load()
            train, held = stratified_split(y, self.held_out_fraction, self.split_seed)
            _DATA_CACHE[self.name] = (x[train], y[train], x[held], y[held])
        return _DATA_CACHE[self.name]

    def held_out(self) -> tuple[np.ndarray, np.ndarray]:
        """The held-out images (N, C, H, W) and their labels (N,), in the data file's order."""
        return self.split()[2:]

    def mask(self, label: int) -> None:
        """No ground truth: a real data set does not say where a class's evidence is."""
        return None

    def probe(self, name: str, seed: int = PROBE_SEED) -> tuple[np.ndarray, int, None]:
        """Held-out image N (`held-out:N`) and its label; no mask."""
        index = held_out_index(name)
        x, y = self.held_out()
        if index is None:
            raise UserError(f"--probe {name}: task {self.name} has no generated probes; use --probe held-out:N")
        if seed != PROBE_SEED:
            raise UserError(f"--probe-seed draws a generated probe; the held-out images of task {self.name} are fixed")
        if index >= len(x):
            raise UserError(f"--probe {name}: task {self.name} has the held-out images 0..{len(x) - 1}")
        return x[index], int(y[index]), None

    def probe_source(self, name: str, seed: int = PROBE_SEED) -> str:
        """How a probe is named in reports."""
        return f"{self.name} {HELD_OUT}:{held_out_index(name)}"

    def training_data(self, config) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict]:
        """The fixed split (see `split`) and what the training record says about the data (the same keys as
        for a user's data: name, files, shape, classes, held-out fraction, split)."""
        x_train, y_train, x_held, y_held = self.split()
        about = {
            **self.provenance,
            "shape": [len(x_train) + len(x_held), *self.input_shape],
            "classes": len(self.classes),
            "holdout": self.held_out_fraction,
            "split": f"stratified, fixed (seed {self.split_seed})",
        }
        return x_train, y_train, x_held, y_held, {"data": about}

    def build_network(self, seed: int) -> Network:
        """The task's default network with He-normal weights and zero biases, seeded."""
        return build_network(self, seed)


def _load_digits() -> tuple[np.ndarray, np.ndarray]:
    from .datasets import DIGITS_MAX, load_digits

    images, labels = load_digits()
    return images[:, None].astype(np.float64) / DIGITS_MAX, labels


def _digits_provenance() -> dict:
    from .datasets import DIGITS_SHA256

    return {
        "name": "UCI Optical Recognition of Handwritten Digits (CC BY 4.0)",
        "files": [{"path": "saliency_cli/data/digits.csv.gz", "sha256": DIGITS_SHA256}],
    }


TASKS["digits"] = DataTask(
    name="digits",
    input_shape=(1, 8, 8),
    classes=tuple(str(d) for d in range(10)),
    layers=(
        _conv(1, 8),
        RELU,
        {"type": "maxpool2d", "kernel_size": 2, "stride": 2},
        FLATTEN,
        _dense(8 * 4 * 4, 32),
        RELU,
        _dense(32, 10),
        SOFTMAX,
    ),
    load=_load_digits,
    provenance=_digits_provenance(),
    description="1x8x8 handwritten digits 0-9 (UCI, 1,797 images, pixels 0..16 scaled to [0, 1]); "
    "a fixed stratified split: 1,438 training, 359 held-out",
)


def task_of(net) -> Task | DataTask | None:
    """The built-in task a network was made for, or None.

    NOTE: a model file's task name is only a claim: the task counts only when the network's input shape
    and number of classes are the task's too (a 3-class model saying "blobs8x8-gap" has no blob for class 2).
    """
    task = TASKS.get(net.task) if isinstance(net.task, str) else None
    if task is None or tuple(net.input_shape) != task.input_shape or net.num_classes != len(task.classes):
        return None
    return task


def no_task_for(net, what: str) -> str:
    """Why `net` has no `what` (built-in probes, a probe generator...): it names no task, names an unknown one, or
    names one it does not fit; for a message that goes on to say what to pass instead."""
    if net.task is None:
        return f"the model names no task, so it has no {what}"
    why = task_mismatch(net)
    return f"model task {net.task!r} has no {what}" + (f" for this model ({why})" if why else "")


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
