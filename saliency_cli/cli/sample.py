"""`saliency-cli sample`: write one probe of a task as .npy, for pipelines."""

from __future__ import annotations

import io
import sys

import click

from ..tasks import TASKS
from .options import Number


@click.command()
@click.option(
    "--task",
    type=click.Choice(sorted(TASKS)),
    default="blobs8x8",
    show_default=True,
    help="Task to draw the sample from.",
)
@click.option("--label", type=int, default=0, show_default=True, help="Class of the sample.")
@click.option(
    "--noise",
    type=Number(0, 1),
    default=0.1,
    show_default=True,
    help="Background noise: pixels uniform in [0, noise).",
)
@click.option("--seed", type=click.IntRange(0), default=0, show_default=True, help="Seed of the sample.")
@click.option("--out", default="-", show_default=True, help="A .npy file to write, or '-' for stdout.")
@click.option("--force", is_flag=True, help="Replace an existing --out file.")
def sample(task, label, noise, seed, out, force):
    """Write one synthetic probe of shape (C, H, W) as a .npy array.

    \b
    Example:
      saliency-cli sample --label 1 --noise 0.3 | saliency-cli saliency --input - --format json
    """
    import numpy as np

    from ..errors import UserError
    from ..files import check_target, write_or_fail

    spec = TASKS[task]
    if out != "-":
        check_target(out)
    if not 0 <= label < len(spec.classes):
        raise UserError(f"--label {label} is out of range: task {task} has classes 0..{len(spec.classes) - 1}")
    x, _, _ = spec.sample(1, np.random.default_rng(seed), noise=noise, labels=label)
    buf = io.BytesIO()
    np.save(buf, x[0], allow_pickle=False)
    if out == "-":
        if sys.stdout.isatty():
            raise UserError("refusing to write binary .npy to a terminal; pipe it or pass --out FILE.npy")
        sys.stdout.buffer.write(buf.getvalue())
        sys.stdout.buffer.flush()
    else:
        path = check_target(out)
        if path.exists() and not force:
            raise UserError(f"refusing to overwrite {path}: it exists; use --force to replace it")
        write_or_fail(path, buf.getvalue())
