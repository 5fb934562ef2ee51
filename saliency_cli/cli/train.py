"""`saliency-cli train`: train a task's default network, or an --arch network on a user's --data, and write
its model file atomically."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import click

from ..errors import UserError
from ..tasks import TASKS, he_network
from .common import emit_json, note, require_finite, stdout_console
from .help import HelpCommand
from .options import format_option, no_color_option, out_option, quiet_option, seed_option, task_option
from .params import AliasedOption, Number
from .work import chunk_rows


def _refuse_non_model(out, force: bool) -> bool:
    """Whether `out` holds a model; refuses (unless `force`) to replace a file there that is not one.

    Checked before training, and again under the file's lock just before the new model replaces it.
    """
    from ..errors import ModelFileError, UserError
    from ..nn.modelfile import load_model

    if not out.exists():
        return False
    try:
        load_model(out)
    except ModelFileError as exc:
        if not force:
            raise UserError(
                f"refusing to overwrite {out}: it is not a valid model file ({exc.problem}); "
                "use --force to replace it (it is then kept as a backup)"
            ) from None
        return False
    return True


@click.command(cls=HelpCommand)
@task_option("Task to train on: a synthetic blob task, or digits (a real data set with a fixed held-out split).")
@click.option(
    "--epochs",
    type=click.IntRange(1, 10_000),
    default=None,
    help="Passes over the data.  [default: 8; digits: 20]",
)
@click.option(
    "--lr",
    type=Number(0, 10, min_open=True),
    default=0.01,
    show_default=True,
    help="Adam learning rate.",
)
@click.option("--batch-size", type=click.IntRange(1, 100_000), default=32, show_default=True, help="Mini-batch size.")
@click.option(
    "--examples",
    "--samples",
    "examples",
    cls=AliasedOption,
    hidden_aliases=("--samples",),
    type=click.IntRange(10, 1_000_000),
    default=2000,
    show_default=True,
    help="Training examples of a blob task; a further 20% are drawn for the held-out set (digits has a fixed "
    "split: 1,438 training and 359 held-out images).",
)
@seed_option("Seeds data, initialisation and shuffling: the same seed gives the same model file.")
@click.option(
    "--data",
    "data_path",
    default=None,
    help="Train on your own data instead of a task: an .npz with arrays x (N, C, H, W) and y (N,) of integer "
    "labels 0..K-1, or a .npy of x with --labels.",
)
@click.option("--labels", "labels_path", default=None, help="With --data x.npy: the labels, a .npy of N integers.")
@click.option(
    "--arch",
    default=None,
    help="With --data: the network, a comma list of layers (docs/training.md): conv<C>:<K>[:s<S>][:p<P>], "
    "maxpool<K>[:s<S>], dense<N>, relu, leaky_relu[:<A>], flatten, gap, softmax.  [default: "
    "conv8:3,relu,maxpool2,flatten,dense32,relu,dense<K> (images under 4x4: flatten,dense32,relu,dense<K>)]",
)
@click.option(
    "--holdout",
    type=Number(0, 0.9, min_open=True),
    default=0.2,
    show_default=True,
    help="With --data: the fraction of each class held out (a stratified split seeded by --seed).",
)
@out_option(
    "Where to write the model (its directory must exist).  [default: models/<task>.npz; with --data it is required]"
)
@click.option("--force", is_flag=True, help="Replace --out even when it is not a model file (it is kept as <out>.bak).")
@format_option("text", "json", help="A summary table, or one JSON document on stdout.")
@no_color_option
@quiet_option
@click.pass_context
def train(
    ctx, task, epochs, lr, batch_size, examples, seed, data_path, labels_path, arch, holdout, out, force, fmt, no_color
):
    """Train the default network of a built-in task, or a network of your own on your own data.

    Softmax cross-entropy, Adam, shuffled mini-batches and a held-out set. The model is written
    atomically; a different model already at --out is kept as <out>.bak (or .bak.1, .bak.2, ...:
    no backup is ever overwritten). With --data, the data is checked in full before training (finite
    values, (N, C, H, W) and (N,), labels 0..K-1 with every class present), and the model file
    records the data files' SHA-256, their shape, the class count and --arch.

    \b
    Example:
      saliency-cli train --task blobs6x6 --epochs 10                # writes models/blobs6x6.npz
      saliency-cli train --task digits --out digits.npz
      saliency-cli train --data mine.npz --arch conv8:3,relu,maxpool2,flatten,dense10 --out mine-model.npz
    """
    from ..files import check_target, commit_replacing
    from ..nn.modelfile import model_bytes
    from ..nn.train import TrainConfig
    from ..reports.probe import model_info
    from .options import given

    if data_path is None:
        for name, option in (("labels_path", "--labels"), ("arch", "--arch"), ("holdout", "--holdout")):
            if given(ctx, name):
                raise UserError(f"{option} goes with --data (training on your own data)")
        fit, label, epochs, untrained = _task_run(ctx, task, epochs, seed)
    else:
        for name in ("task", "examples"):
            if given(ctx, name):
                raise UserError(f"--{name} picks a built-in task's data: drop it with --data")
        if out is None:
            raise UserError("--data needs --out: the model file to write")
        fit, label, untrained = _data_run(data_path, labels_path, arch, holdout, seed)
        epochs = 20 if epochs is None else epochs
    if out is None:
        # NOTE: only the default ./models is created when missing; a given --out needs an existing directory.
        default = Path("models") / f"{task}.npz"
        if not default.parent.exists() and not default.parent.is_symlink():
            default.parent.mkdir()
        out = str(default)
    if out.lower().endswith(".onnx"):  # NOTE: every command reads such a name as an ONNX graph, not a model file
        raise UserError(f"--out {out}: a model file named .onnx would be read as an ONNX graph; name it .npz")
    out = check_target(out)
    _refuse_non_model(out, force)
    chunk_rows(untrained, batch_size)  # NOTE: a batch's activations fit in memory, refused before training if not
    config = TrainConfig(epochs=epochs, lr=lr, batch_size=batch_size, samples=examples, seed=seed)
    from ..render.tables import sci
    from .progress import progress_bar

    start = time.perf_counter()
    # NOTE: the loss and accuracy appear after the first epoch (not as "loss nan" at 0/N); losses get
    # small (1e-6), so they are in scientific notation.
    with progress_bar(f"train {label}", epochs, status="{task.fields[status]}", transient=False) as progress:

        def on_epoch(epoch, loss, acc):
            progress(epoch, epochs, status=f"loss {sci(loss)}  acc {acc:.3f}")

        net, record = fit(config, on_epoch)
    seconds = time.perf_counter() - start
    # NOTE: a diverged run (NaN or infinite weights or loss) is refused, not written as a model no one can load.
    require_finite({"parameters": net.parameters(), "training": record}, "the trained model")
    data = model_bytes(net)

    # NOTE: decided under --out's lock from what is there now: another run may have written it meanwhile.
    was_model = []
    backup = commit_replacing(out, data, lambda path: was_model.append(_refuse_non_model(path, force)))
    if backup is not None:
        note(f"kept the previous {'model' if all(was_model) else 'file'} as {backup}")
    sha = hashlib.sha256(data).hexdigest()
    if fmt == "json":
        emit_json(
            "train",
            {
                "command": "train",
                "model": model_info(net, path=str(out), sha256=sha),
                "seconds": seconds,
                "training": record,
            },
        )
        return
    from ..render.summary import train_summary

    stdout_console(no_color).print(train_summary(label, record, seconds, out, sha))


def _task_run(ctx, task: str, epochs: int | None, seed: int):
    """(fit(config, on_epoch) -> (net, record), the run's name, the epochs, the untrained network) for a
    built-in task."""
    from ..training import train_task
    from .options import refuse_unused

    spec = TASKS[task]
    if not spec.generated:  # NOTE: a data task's split is fixed: no examples are drawn
        refuse_unused(ctx, ["examples"], f"draws examples of a blob task; the split of task {task} is fixed")
    return (
        (lambda config, on_epoch: train_task(spec, config, on_epoch)),
        task,
        spec.epochs if epochs is None else epochs,
        spec.build_network(seed),
    )


def _data_run(data_path: str, labels_path: str | None, arch: str | None, holdout: float, seed: int):
    """(fit(config, on_epoch) -> (net, record), the run's name, the untrained network) for a user's data and
    --arch, everything checked before training: the data, the spec against its shape, and that the split holds
    some out."""
    from ..nn.arch import ArchError, default_arch, parse_arch
    from ..training import split_data, train_on_data
    from ..userdata import load_training_data

    data = load_training_data(data_path, labels_path)
    spec = default_arch(data.x.shape[1:], data.classes) if arch is None else arch
    try:
        configs = parse_arch(spec, data.x.shape[1:], data.classes)
    except ArchError as exc:
        raise UserError(str(exc)) from None
    if len(split_data(data.y, holdout, 0)[1]) == 0:
        raise UserError(f"--holdout {holdout:g} holds out no example: each class has one; give more data")

    def fit(config, on_epoch):
        return train_on_data(data, configs, spec, holdout, config, on_epoch)

    classes = [str(k) for k in range(data.classes)]
    return fit, data.name, he_network(configs, data.x.shape[1:], seed, task=None, classes=classes)
