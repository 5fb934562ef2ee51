"""Evaluate benchmark: the default run (200 probes, every method and metric, 3 MPRT draws) per shipped task.

Run with `make bench`. A benchmark, not a test: it prints numbers and asserts nothing. The aim is under
30 s per task on a 2-core machine. Each run is timed once (a run is long); the per-method split (in one
process) shows where the time goes. The default run shares its blocks over `--workers auto` (one process per
core); `--workers 1` is timed as well. Besides the wall time, the CPU time is printed (this process's threads,
and its worker processes' once they have ended): on a shared machine the wall time mostly measures the others.
"""

from __future__ import annotations

import os
import time
from dataclasses import replace

from saliency_cli.cli.sharing import resolve_workers
from saliency_cli.cli.work import check_evaluate_work
from saliency_cli.evaluation.methods import MethodOptions, default_methods
from saliency_cli.evaluation.metrics import LOCALISATION, METRICS
from saliency_cli.evaluation.probes import held_out_probes, task_probes
from saliency_cli.evaluation.run import BLOCK, Settings, evaluate
from saliency_cli.evaluation.summary import summarise
from saliency_cli.locate import find_default_model
from saliency_cli.nn.modelfile import load_model
from saliency_cli.tasks import TASKS

NOISE = (0.05, 0.25, 0.45)


def _cpu() -> float:
    """CPU seconds of this process and of its ended children."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def timed(task: str, workers="auto", methods=None) -> tuple[float, float]:
    """(wall s, CPU s) of one evaluation with the CLI's defaults for `task`."""
    net = load_model(find_default_model(task)[0])
    chosen = tuple(methods or default_methods(net, MethodOptions()))
    start, cpu = time.perf_counter(), _cpu()
    known = TASKS[task]
    if known.generated:
        probes, metrics = task_probes(known, 200, NOISE, 0), tuple(METRICS)
    else:  # real images: every held-out image, and no localisation metric (they have no masks)
        probes = held_out_probes(known, None)
        metrics = tuple(m for m in METRICS if METRICS[m].family != LOCALISATION)
    settings = Settings(methods=chosen, metrics=metrics)
    workers = resolve_workers(workers, -(-len(probes) // BLOCK), None, check_evaluate_work(net, len(probes), settings))
    summarise(evaluate(net, probes, replace(settings, workers=workers)))
    return time.perf_counter() - start, _cpu() - cpu


def run(task: str, workers="auto", methods=None) -> str:
    """'wall s  (cpu s)' of one evaluation with the CLI's defaults for `task`."""
    wall, cpu = timed(task, workers, methods)
    return f"{wall:>8.1f}s  (cpu {cpu:.1f} s)"


def main() -> None:
    print(f"{'task':<14} {'what':<44} {'time':>9}")
    for task in ("blobs6x6", "blobs8x8", "blobs8x8-gap", "digits"):
        net = load_model(find_default_model(task)[0])
        methods = default_methods(net, MethodOptions())
        print(f"{task:<14} {'evaluate, defaults (--workers auto)':<44} {run(task)}  aim < 30 s")
        print(f"{task:<14} {'evaluate, defaults, --workers 1':<44} {run(task, workers=1)}")
        for method in methods:
            print(f"{task:<14} {'  of which ' + method + ' (one process)':<44} {run(task, 1, (method,))}")


if __name__ == "__main__":
    main()
