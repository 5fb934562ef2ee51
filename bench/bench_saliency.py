"""Saliency benchmark (issue 3): one full report in-process, and the whole CLI process.

Run with `make bench`. A benchmark, not a test: it prints numbers and asserts nothing.
The aim for `saliency-cli saliency --probe clean --format json` is under 0.5 s on a 2-core machine.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from timing import best_of

from saliency_cli.inputs import make_probe
from saliency_cli.locate import find_default_model
from saliency_cli.nn.modelfile import load_model
from saliency_cli.reports.saliency import saliency_report

ROOT = Path(__file__).resolve().parent.parent


def in_process() -> None:
    for task in ("blobs8x8", "blobs6x6"):
        net = load_model(find_default_model(task)[0])
        probe = make_probe(net, "clean")
        for steps, rule in ((50, "right"), (500, "right"), (16, "gauss-legendre"), (50, "exact")):

            def report(net=net, probe=probe, steps=steps, rule=rule):
                return saliency_report(net, probe, steps=steps, quadrature=rule)

            t = best_of(report)
            ig = "exact" if rule == "exact" else f"{steps} {rule}"
            what = f"report: vanilla + SG 16 + IG {ig}"
            print(f"{task:<12} {what:<44} {t * 1e3:>9.2f} ms")
        t = best_of(lambda net=net, probe=probe: saliency_report(net, probe, batch_size=8))
        print(f"{task:<12} {'report at defaults, --batch-size 8':<44} {t * 1e3:>9.2f} ms")


def whole_process() -> None:
    exe = shutil.which("saliency-cli", path=str(Path(sys.executable).parent)) or "saliency-cli"
    for args in (["--help"], ["saliency", "--probe", "clean", "--format", "json"], ["saliency", "--probe", "clean"]):

        def run(args=args):
            subprocess.run([exe, *args], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)

        run()  # warm the file cache
        t = best_of(run, repeats=5)
        print(f"{'process':<12} {'saliency-cli ' + ' '.join(args):<44} {t * 1e3:>9.0f} ms  (aim < 500 ms)")


def main() -> None:
    print(f"{'task':<12} {'what':<44} {'time':>12}")
    in_process()
    whole_process()


if __name__ == "__main__":
    main()
