"""Train a task's default network from scratch: data, fit, held-out evaluation, training record."""

from __future__ import annotations

from collections.abc import Callable

from .nn.network import Network
from .nn.train import TrainConfig, accuracy, fit
from .tasks import DataTask, Task


def train_task(
    task: Task | DataTask, config: TrainConfig, on_epoch: Callable[[int, float, float], None] | None = None
) -> tuple[Network, dict]:
    """A trained network for `task` and its training record (deterministic given `config.seed`)."""
    x_train, y_train, x_held, y_held, data = task.training_data(config)
    net = task.build_network(config.seed)
    # NOTE: the im2col engine, whose round-off the shipped models were trained with: same seed, same bytes.
    with net.reference_engine():
        history = fit(net, x_train, y_train, config, on_epoch)
        train_acc, held_acc = accuracy(net, x_train, y_train), accuracy(net, x_held, y_held)
    record = {
        "optimizer": "adam",
        "loss": "softmax cross-entropy",
        "seed": config.seed,
        "epochs": config.epochs,
        "lr": config.lr,
        "batch_size": config.batch_size,
        "samples": len(x_train),
        "held_out_samples": len(x_held),
        **data,
        "final_loss": history[-1]["loss"] if history else None,
        "train_accuracy": train_acc,
        "held_out_accuracy": held_acc,
    }
    net.training = record
    return net, record
