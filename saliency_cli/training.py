"""Train a network from scratch: a task's default network on its data, or a `--arch` network on a user's data;
fit, held-out evaluation, training record."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .nn.network import Network
from .nn.train import TrainConfig, accuracy, fit
from .tasks import DataTask, Task, he_network

OnEpoch = Callable[[int, float, float], None]


def train_task(task: Task | DataTask, config: TrainConfig, on_epoch: OnEpoch | None = None) -> tuple[Network, dict]:
    """A trained network for `task` and its training record (deterministic given `config.seed`)."""
    x_train, y_train, x_held, y_held, data = task.training_data(config)
    net = task.build_network(config.seed)
    return net, _fit(net, (x_train, y_train, x_held, y_held), config, on_epoch, data)


def split_data(y: np.ndarray, holdout: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The seeded stratified split of a user's data: (train, held_out) indices (see `datasets.stratified_split`)."""
    from .datasets import stratified_split

    return stratified_split(y, holdout, [int(seed), 1])


def train_on_data(
    data, configs: list[dict], spec: str, holdout: float, config: TrainConfig, on_epoch: OnEpoch | None = None
) -> tuple[Network, dict]:
    """A network of `configs` (parsed from `spec`) trained on a user's `data` (userdata.TrainingData), with a
    seeded stratified `holdout` fraction held out, and its training record (deterministic given `config.seed`)."""
    train, held = split_data(data.y, holdout, config.seed)
    classes = [str(k) for k in range(data.classes)]
    net = he_network(configs, data.x.shape[1:], config.seed, task=None, classes=classes)
    split = (data.x[train], data.y[train], data.x[held], data.y[held])
    about = {
        "data": {
            "name": data.name,
            "files": [dict(f) for f in data.files],
            "shape": list(data.x.shape),
            "classes": data.classes,
            "holdout": holdout,
            "split": "stratified, seeded by the training seed",
        },
        "arch": spec,
    }
    return net, _fit(net, split, config, on_epoch, about)


def _fit(net: Network, split, config: TrainConfig, on_epoch: OnEpoch | None, about: dict) -> dict:
    """Fit `net` on split = (x_train, y_train, x_held, y_held); the training record, also set as `net.training`."""
    x_train, y_train, x_held, y_held = split
    # NOTE: the im2col engine, whose round-off the shipped models were trained with: same seed, same bytes.
    with net.reference_engine():
        history = fit(net, x_train, y_train, config, on_epoch)
        rows = config.batch_size
        train_acc, held_acc = accuracy(net, x_train, y_train, rows), accuracy(net, x_held, y_held, rows)
    record = {
        "optimizer": "adam",
        "loss": "softmax cross-entropy",
        "seed": config.seed,
        "epochs": config.epochs,
        "lr": config.lr,
        "batch_size": config.batch_size,
        "samples": len(x_train),
        "held_out_samples": len(x_held),
        **about,
        "final_loss": history[-1]["loss"] if history else None,
        "train_accuracy": train_acc,
        "held_out_accuracy": held_acc,
    }
    net.training = record
    return record
