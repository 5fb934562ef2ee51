"""Training: softmax cross-entropy, Adam, shuffled mini-batches, a held-out set. Never prints."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import ops
from .network import Network


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 8
    lr: float = 0.01
    batch_size: int = 32
    samples: int = 2000
    held_out: float = 0.2
    seed: int = 0
    noise: float = 0.1


class Adam:
    """Adam (Kingma & Ba 2015) over a dict of parameter arrays, updated in place."""

    def __init__(self, params: dict[str, np.ndarray], lr: float, b1=0.9, b2=0.999, eps=1e-8):
        self.lr, self.b1, self.b2, self.eps, self.t = lr, b1, b2, eps, 0
        self.m = {k: np.zeros_like(v) for k, v in params.items()}
        self.v = {k: np.zeros_like(v) for k, v in params.items()}

    def step(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        self.t += 1
        for k, g in grads.items():
            self.m[k] = self.b1 * self.m[k] + (1 - self.b1) * g
            self.v[k] = self.b2 * self.v[k] + (1 - self.b2) * g * g
            m_hat = self.m[k] / (1 - self.b1**self.t)
            v_hat = self.v[k] / (1 - self.b2**self.t)
            params[k] -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)


def cross_entropy(logits: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean softmax cross-entropy of (N, K) logits and its gradient with respect to the logits."""
    logp = ops.log_softmax(logits)
    n = len(y)
    loss = -logp[np.arange(n), y].mean()
    grad = np.exp(logp)
    grad[np.arange(n), y] -= 1.0
    return float(loss), grad / n


def accuracy(net: Network, x: np.ndarray, y: np.ndarray, rows: int = 1024) -> float:
    """The share of `x` whose predicted class is `y`, `rows` examples at a time (a batch's memory, not all of x's)."""
    correct = sum(int((net.predict_logits(x[i : i + rows]).argmax(axis=1) == y[i : i + rows]).sum())
                  for i in range(0, len(x), rows))  # fmt: skip
    return correct / len(x) if len(x) else float("nan")


def fit(
    net: Network,
    x: np.ndarray,
    y: np.ndarray,
    config: TrainConfig,
    on_epoch: Callable[[int, float, float], None] | None = None,
) -> list[dict]:
    """Train `net` in place on (x, y); calls `on_epoch(epoch, loss, accuracy)`; returns the history."""
    rng = np.random.default_rng([config.seed, 2])
    layers = [(i, layer) for i, layer in enumerate(net.layers) if layer.params]
    optimisers = {i: Adam(layer.params, config.lr) for i, layer in layers}
    history = []
    for epoch in range(1, config.epochs + 1):
        order = rng.permutation(len(x))
        total, correct = 0.0, 0
        for start in range(0, len(x), config.batch_size):
            idx = order[start : start + config.batch_size]
            logits = net.predict_logits(x[idx])
            loss, dlogits = cross_entropy(logits, y[idx])
            net.backward(dlogits, param_grads=True)
            for i, layer in layers:
                optimisers[i].step(layer.params, layer.grads)
            total += loss * len(idx)
            correct += int((logits.argmax(axis=1) == y[idx]).sum())
        history.append({"epoch": epoch, "loss": total / len(x), "accuracy": correct / len(x)})
        if on_epoch:
            on_epoch(epoch, history[-1]["loss"], history[-1]["accuracy"])
    return history
