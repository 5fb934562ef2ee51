"""Evaluate benchmark (issue 10): the default run (200 probes, every method and metric) per shipped conv task.

Run with `make bench`. A benchmark, not a test: it prints numbers and asserts nothing. The aim is under
30 s per task on a 2-core machine. Each run is timed once (a run is long); the per-method split shows
where the time goes. `--workers 2` is timed as well.
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


def run(task: str, workers: int = 1, methods=None) -> float:
    net = load_model(find_default_model(task)[0])
    chosen = tuple(methods or default_methods(net, MethodOptions()))
    start = time.perf_counter()
    probes = task_probes(TASKS[task], 200, NOISE, 0)
    summarise(evaluate(net, probes, Settings(methods=chosen, workers=workers)))
    return time.perf_counter() - start


def main() -> None:
    print(f"{'task':<14} {'what':<44} {'time':>9}")
    for task in ("blobs8x8", "blobs8x8-gap"):
        net = load_model(find_default_model(task)[0])
        methods = default_methods(net, MethodOptions())
        total = run(task)
        print(f"{task:<14} {'evaluate, defaults (200 probes, all)':<44} {total:>8.1f}s  (aim < 30 s)")
        print(f"{task:<14} {'evaluate, defaults, --workers 2':<44} {run(task, workers=2):>8.1f}s")
        for method in methods:
            print(f"{task:<14} {'  of which ' + method:<44} {run(task, methods=(method,)):>8.1f}s")


if __name__ == "__main__":
    main()
