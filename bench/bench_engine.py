"""Engine benchmark: training time, single-probe forward and input-gradient, batched throughput.

Run with `make bench`. A benchmark, not a test: it prints numbers and asserts nothing.
"""

from __future__ import annotations

import time

import numpy as np
from timing import best_of

from saliency_cli.nn.train import TrainConfig
from saliency_cli.tasks import TASKS
from saliency_cli.training import train_task


def main() -> None:
    print(f"{'task':<12} {'what':<34} {'time':>12} {'throughput':>16}")
    for name, task in TASKS.items():
        start = time.perf_counter()
        net, record = train_task(task, TrainConfig())
        print(
            f"{name:<12} {'train (defaults)':<34} {time.perf_counter() - start:>10.3f} s "
            f"{'held-out acc ' + format(record['held_out_accuracy'], '.3f'):>16}"
        )
        x1 = task.probe("clean")[0][None]
        onehot = np.eye(net.num_classes)[[0]]

        def grad(x, net=net, onehot=onehot):
            net.forward(x, stop=net.logit_index)
            return net.backward(np.broadcast_to(onehot[:1], (len(x), net.num_classes)))

        t = best_of(lambda x1=x1, net=net: net.forward(x1, stop=net.logit_index))
        print(f"{name:<12} {'forward, 1 probe':<34} {t * 1e3:>10.3f} ms")
        t = best_of(lambda x1=x1, grad=grad: grad(x1))
        print(f"{name:<12} {'forward + input gradient, 1 probe':<34} {t * 1e3:>10.3f} ms")
        for n in (1, 64, 1024):
            xs = task.sample(n, np.random.default_rng(0))[0]
            t = best_of(lambda xs=xs, grad=grad: grad(xs), repeats=5)
            print(f"{name:<12} {f'forward + gradient, batch {n}':<34} {t * 1e3:>10.3f} ms {n / t:>12,.0f} /s")


if __name__ == "__main__":
    main()
