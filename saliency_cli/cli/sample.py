"""`saliency-cli sample`: write one probe, or a batch with its labels and masks, as .npy for pipelines.

A blob task's samples come from its seeded generator; digits' are its held-out images, in order."""

from __future__ import annotations

import io
import sys

import click

from ..tasks import TASKS
from .help import HelpCommand
from .options import out_option, quiet_option, seed_option, task_option
from .params import Number

#: The largest --count: bounds the arrays made before anything is written.
MAX_COUNT = 100_000


@click.command(cls=HelpCommand)
@task_option("Task to draw the sample from (digits: its held-out images, in order; no masks).")
@click.option(
    "--label",
    type=int,
    default=None,
    help="Class of the sample (of every sample with --count).  [default: 0; with --count, balanced classes]",
)
@click.option(
    "--count",
    type=click.IntRange(1, MAX_COUNT),
    default=None,
    help="Write a batch (N, C, H, W) of N samples, class-balanced (class counts differ by at most one) in a "
    "seeded random order, instead of one (C, H, W) probe (digits: the first N held-out images, of --label if given).",
)
@click.option(
    "--noise",
    type=Number(0, 1),
    default=0.1,
    show_default=True,
    help="The task generator's noise level: background pixels uniform in [0, noise) (not SmoothGrad's --noise-frac).",
)
@seed_option("Seed of the sample.")
@out_option("A .npy file to write (its directory must exist), or '-' for stdout.", default="-", show_default=True)
@click.option(
    "--labels-out",
    default=None,
    help="Also write the class labels to this .npy file, an int64 array: (N,) with --count, else 0-d.",
)
@click.option(
    "--masks-out",
    default=None,
    help="Also write the ground-truth blob masks to this .npy file, a bool array shaped like the sample "
    "(N, C, H, W) with --count.",
)
@click.option("--force", is_flag=True, help="Replace existing --out, --labels-out and --masks-out files.")
@quiet_option
@click.pass_context
def sample(ctx, task, label, count, noise, seed, out, labels_out, masks_out, force):
    """Write one probe (C, H, W), or a batch (N, C, H, W), as a .npy array.

    A blob task's probes are drawn from its generator; digits' are its held-out images, in the data set's
    order (the first one, or the first N with --count), which have labels but no ground-truth masks.

    \b
    Example:
      saliency-cli sample --label 1 --noise 0.3 | saliency-cli saliency --input - --format json
      saliency-cli sample --count 1000 --noise 0.3 --out batch.npy --labels-out labels.npy
      saliency-cli sample --task digits --count 20 --out digits.npy --labels-out digit-labels.npy
    """
    import numpy as np

    from ..errors import UserError

    spec = TASKS[task]
    if not spec.generated:
        from .options import refuse_unused

        refuse_unused(ctx, ["noise", "seed"], f"sets the blob generator; the images of task {task} are fixed")
        if masks_out is not None:
            raise UserError(
                f"--masks-out: task {task} has no ground-truth masks (a real data set does not say "
                "where a class's evidence is)"
            )
    outputs = _check_outputs({"--out": out, "--labels-out": labels_out, "--masks-out": masks_out}, force)
    if outputs["--out"] is None and sys.stdout.isatty():
        raise UserError("refusing to write binary .npy to a terminal; pipe it or pass --out FILE.npy")
    if label is not None and not 0 <= label < len(spec.classes):
        raise UserError(f"--label {label} is out of range: task {task} has classes 0..{len(spec.classes) - 1}")
    rng = np.random.default_rng(seed)
    if not spec.generated:
        x, y = _held_out(spec, count, label)
        masks = np.zeros(0, dtype=bool)
    elif count is None:
        x, y, masks = spec.sample(1, rng, noise=noise, labels=0 if label is None else label)
        x, y, masks = x[0], y[0], masks[0]
    elif label is None:
        x, y, masks = spec.balanced_sample(count, rng, noise=noise)
    else:
        x, y, masks = spec.sample(count, rng, noise=noise, labels=label)
    arrays = {"--out": x, "--labels-out": np.asarray(y, dtype=np.int64), "--masks-out": masks.astype(bool)}
    _write(outputs, arrays, force)


def _held_out(spec, count: int | None, label: int | None):
    """A data task's first held-out image (count None) or first `count` ones, of class `label` if given."""
    import numpy as np

    from ..errors import UserError

    x, y = spec.held_out()
    if label is not None:
        x, y = x[y == label], y[y == label]
    n = 1 if count is None else count
    if n > len(x):
        which = "" if label is None else f" of class {label}"
        raise UserError(f"--count {count}: task {spec.name} has {len(x)} held-out images{which}")
    return (x[0], np.int64(y[0])) if count is None else (x[:n], y[:n])


def _check_outputs(specs: dict, force: bool) -> dict:
    """The paths to write, option -> Path (None for --out '-'), checked before anything is made or written.

    Refuses what `files.check_target` refuses, a name not ending in .npy (the files are .npy arrays, as
    --figure's name says its format), an existing file without --force, and two options naming the same file.
    """
    from ..errors import UserError
    from ..files import check_new, check_target

    paths: dict = {}
    for option, spec in specs.items():
        if spec is None:
            continue
        if spec == "-":
            if option != "--out":
                raise UserError(f"{option} -: standard output holds the sample; give a file name")
            paths[option] = None
            continue
        check_target(spec, option)  # NOTE: first, so that a directory is named as one
        if not spec.lower().endswith(".npy"):
            raise UserError(f"{option} {spec}: give a file name ending in .npy (sample writes .npy arrays)")
        path = check_new(spec, option, force)
        same = [o for o, p in paths.items() if p is not None and p.resolve() == path.resolve()]
        if same:
            raise UserError(f"{option} {spec}: the same file as {same[0]}")
        paths[option] = path
    return paths


def _write(paths: dict, arrays: dict, force: bool) -> None:
    """Each array as .npy to its path, --out '-' to stdout.

    Without --force a file is created only if its name is still free when it is written (another run
    may have taken it meanwhile: refused, never overwritten); with --force it replaces the file under
    the file's lock, atomically.
    """
    import numpy as np

    from ..files import write_output

    for option, path in paths.items():
        buf = io.BytesIO()
        np.save(buf, arrays[option], allow_pickle=False)
        if path is None:
            from .common import write_stdout

            write_stdout(buf.getvalue())
        else:
            write_output(path, buf.getvalue(), option, force)
