"""Batch benchmark (issue 13): saliency reports for N probes of one `--input` batch, per probe, as N grows.

Run with `make bench`. A benchmark, not a test: it prints numbers and asserts nothing. Work per probe should
stay flat as N grows (linear scaling): probes are batched across blocks of 100, and SmoothGrad's noise, IG's
path points and the probes' own rows go through the network together.
"""

from __future__ import annotations

import numpy as np
from timing import best_of

from saliency_cli.inputs import Probe
from saliency_cli.locate import find_default_model
from saliency_cli.nn.modelfile import load_model
from saliency_cli.reports.saliency import ReportOptions, saliency_reports
from saliency_cli.tasks import TASKS


def main() -> None:
    print(f"{'task':<14} {'IG rule':<8} {'probes':>7} {'total':>10} {'per probe':>10}")
    for task in ("blobs8x8", "blobs8x8-gap"):
        net = load_model(find_default_model(task)[0])
        x, labels, _ = TASKS[task].sample(1000, np.random.default_rng(0), noise=0.2)
        probes = [Probe(x[i], "sample", int(labels[i])) for i in range(len(x))]
        for rule in ("right", "exact"):
            options = ReportOptions(quadrature=rule)
            for n in (10, 100, 1000):
                if rule == "exact" and n > 10 and task != "blobs8x8":
                    continue  # NOTE: ~950 pieces a path on blobs8x8-gap: 100 exact paths take 40 s
                t = best_of(lambda net=net, some=probes[:n], o=options: saliency_reports(net, some, options=o), 3)
                print(f"{task:<14} {rule:<8} {n:>7} {t:>9.3f}s {t / n * 1e3:>8.2f} ms")


if __name__ == "__main__":
    main()
