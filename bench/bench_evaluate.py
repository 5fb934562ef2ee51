"""Evaluate benchmark: the default run (200 probes, every method and metric, 3 MPRT draws) per shipped blob task.

Run with `make bench`. A benchmark, not a test: it prints numbers and asserts nothing. The aim is under
30 s per task on a 2-core machine. Each run is timed once (a run is long); the per-method split shows
where the time goes. `--workers 2` is timed as well. Besides the wall time, the process's CPU time (all
its threads) is printed: on a shared machine the wall time mostly measures the other processes.
"""

from __future__ import annotations

import time

from saliency_cli.evaluation.methods import MethodOptions, default_methods
from saliency_cli.evaluation.probes import task_probes
from saliency_cli.evaluation.run import Settings, evaluate
from saliency_cli.evaluation.summary import summarise
from saliency_cli.locate import find_default_model
from saliency_cli.nn.modelfile import load_model
from saliency_cli.tasks import TASKS

NOISE = (0.05, 0.25, 0.45)


def run(task: str, workers: int = 1, methods=None) -> str:
    """'wall s  (cpu s)' of one evaluation (the CPU time of worker processes is not counted)."""
    net = load_model(find_default_model(task)[0])
    chosen = tuple(methods or default_methods(net, MethodOptions()))
    start, cpu = time.perf_counter(), time.process_time()
    probes = task_probes(TASKS[task], 200, NOISE, 0)
    summarise(evaluate(net, probes, Settings(methods=chosen, workers=workers)))
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    return f"{wall:>8.1f}s  (cpu {cpu:.1f} s)"


def main() -> None:
    print(f"{'task':<14} {'what':<44} {'time':>9}")
    for task in ("blobs6x6", "blobs8x8", "blobs8x8-gap"):
        net = load_model(find_default_model(task)[0])
        methods = default_methods(net, MethodOptions())
        print(f"{task:<14} {'evaluate, defaults (200 probes, all)':<44} {run(task)}  aim < 30 s")
        print(f"{task:<14} {'evaluate, defaults, --workers 2':<44} {run(task, workers=2)}")
        for method in methods:
            print(f"{task:<14} {'  of which ' + method:<44} {run(task, methods=(method,))}")


if __name__ == "__main__":
    main()
