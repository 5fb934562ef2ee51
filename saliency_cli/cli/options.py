"""Option bundles shared by the commands: model, probe, output, seed and top-K options, each declared once.

The same option means the same thing in every command: `--model PATH` (a model file), `--no-color`,
`-q/--quiet`, `-o/--out`, `--methods` (a comma list), `--samples` (SmoothGrad's noisy copies),
`--noise-frac` (SmoothGrad's noise as a fraction of the input's range, not a task's `--noise`) and
`--smooth N` (0: off). A bundle is a decorator applying a list of click options (`compose`); `packed` hands
their values to the command as one object. The methods' options are in method_options.py, the parameter
types in params.py.
"""

from __future__ import annotations

import functools

import click

from ..tasks import TASKS
from .params import ProbeName


def given(ctx: click.Context, name: str) -> bool:
    """Whether the user gave parameter `name` on the command line (not a default, not the environment)."""
    return ctx.get_parameter_source(name) is click.core.ParameterSource.COMMANDLINE


def refuse_unused(ctx: click.Context, names, why: str) -> None:
    """A one-line error (exit 2) when the user gave any of the options `names`, which `why` ignores.

    `why` completes "--gamma <why>", e.g. "applies to the gamma rule only (--rule gamma)".
    """
    from ..errors import UserError

    for name in names:
        if given(ctx, name):
            raise UserError(f"--{name.replace('_', '-')} {why}")


def compose(*decorators):
    """One decorator applying `decorators` in order (the first outermost), as stacked @ lines do."""

    def apply(func):
        for decorator in reversed(decorators):
            func = decorator(func)
        return func

    return apply


def packed(name: str, build, *decorators, reads: tuple[str, ...] = ()):
    """`decorators` (click options) applied, their values handed to the command as one argument `name`:
    `build(**values)`, with the values of the command's parameters `reads` too (left in place for it).

    The options keep their own names: `given(ctx, "eps")` and their errors are as before.
    """

    def apply(func):
        names: list[str] = []

        @functools.wraps(func)
        def command(*args, **kwargs):
            values = {key: kwargs.pop(key) for key in names}
            kwargs[name] = build(**values, **{key: kwargs[key] for key in reads})
            return func(*args, **kwargs)

        before = len(getattr(func, "__click_params__", ()))
        command = compose(*decorators)(command)
        names.extend(p.name for p in command.__click_params__[before:] if p.expose_value)
        return command

    return apply


def seed_option(help: str):
    """--seed N (>= 0, default 0); `help` says what the command seeds with it."""
    return click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help=help)


def top_k_option(what: str):
    """--top-k K: the rows of a top-K table of `what` ("Pixels", "Positions")."""
    return click.option(
        "--top-k", type=click.IntRange(min=1), default=8, show_default=True, help=f"{what} in the top-K table."
    )


def task_option(help: str, default: str = "blobs8x8"):
    """--task NAME: a built-in task; `help` says what the command takes from it."""
    return click.option("--task", type=click.Choice(sorted(TASKS)), default=default, show_default=True, help=help)


def model_options(default_task: str):
    """--task / --model."""
    return compose(
        task_option(
            "Task whose default model (./models/<task>.npz, else the packaged copy) is explained.", default_task
        ),
        model_path_option(),
    )


def model_path_option(
    help: str = "A model file (.npz, or .onnx with the onnx extra) to use instead of the task's default.",
):
    """--model PATH (and --output NAME, for an .onnx graph's output): the same options in every command that
    takes a model."""
    return compose(
        click.option("--model", "model_path", type=click.Path(dir_okay=False), default=None, help=help),
        click.option(
            "--output",
            "onnx_output",
            default=None,
            expose_value=False,
            callback=_keep_output,
            help="The output of an .onnx model to explain, when its graph has several.",
        ),
    )


def _keep_output(ctx, param, value):
    ctx.meta["saliency_cli.onnx_output"] = value
    return value


def _set_quiet(ctx, param, value):
    if value:
        from .common import set_quiet

        set_quiet(True)
    return value


def quiet_option(func):
    """-q/--quiet: no notes on stderr (such as which packaged model is used) and no progress bars."""
    return click.option(
        "--quiet",
        "-q",
        is_flag=True,
        expose_value=False,
        is_eager=True,
        callback=_set_quiet,
        help="No notes on stderr (such as which packaged model is used) and no progress bars.",
    )(func)


def no_color_option(func):
    """--no-color: the same flag in every command that prints."""
    return click.option(
        "--no-color",
        is_flag=True,
        help="No colour, and plain ASCII heatmaps (also when piped, with TERM=dumb or with NO_COLOR set).",
    )(func)


def dtype_option(help: str):
    """--dtype float64|float32: the compute dtype of the network's passes (results are float64 arrays)."""
    return click.option(
        "--dtype", type=click.Choice(["float64", "float32"]), default="float64", show_default=True, help=help
    )


def out_option(help: str, default=None, show_default: bool = False):
    """-o/--out PATH."""
    return click.option("--out", "-o", default=default, show_default=show_default, help=help)


def parse_methods(choices, *, option: str = "--methods"):
    """A callback for a comma list of methods among `choices`: a tuple, de-duplicated, order kept."""

    def parse(ctx, param, value):
        if value is None or isinstance(value, tuple):
            return value
        names = [v.strip() for v in value.split(",") if v.strip()]
        unknown = [n for n in names if n not in choices]
        if unknown or not names:
            raise click.BadParameter(f"{value!r}: give a comma-separated subset of {','.join(choices)}")
        return tuple(dict.fromkeys(names))

    return parse


def parse_names(registry, what: str):
    """A callback for a comma list of `what` (e.g. "metric") among `registry`'s names: a tuple, de-duplicated,
    order kept (None stays None); unknown names are refused, naming them."""

    def parse(ctx, param, value):
        if value is None:
            return None
        names = [v.strip() for v in value.split(",") if v.strip()]
        unknown = [n for n in names if n not in registry]
        if unknown or not names:
            raise click.BadParameter(
                f"unknown {what} {', '.join(unknown) or repr(value)}; choose from {','.join(registry)}"
            )
        return tuple(dict.fromkeys(names))

    return parse


def probe_choice_options(func):
    """--probe / --probe-seed: which built-in probe of the task."""
    return compose(
        click.option(
            "--probe",
            type=ProbeName(),
            default=None,
            help="Built-in probe of the task: clean (class 0, low noise) or noisy (class 1, high noise) for the "
            "blob tasks; held-out:N (held-out image N and its label) for digits.  [default: clean; digits: held-out:0]",
        ),
        click.option(
            "--probe-seed",
            type=click.IntRange(min=0),
            default=0,
            show_default=True,
            help="Seed of a blob task's generated probe (clean, noisy).",
        ),
    )(func)


#: The parameters that say what is explained, for --help sections: model, probe, --input and its image options.
WHAT_IS_EXPLAINED = ["task", "model_path", "onnx_output", "probe", "probe_seed", "input_path", "input_scale", "resize"]

#: ctx.meta key of the image options (see `image_options`).
_IMAGE_META = "saliency_cli.image_options"

#: The help of `--input`, the same in every command that explains probes.
INPUT_HELP = (
    "Explain this .npy array of shape (C, H, W), or a batch (N, C, H, W), or one image file (.png, .jpg, .jpeg, "
    ".pgm, .ppm; see --input-scale and --resize) instead of a probe; '-' reads a .npy array from stdin."
)


def _keep_image_option(ctx, param, value):
    ctx.meta.setdefault(_IMAGE_META, {})[param.name] = value
    return value


def image_options(func):
    """--input-scale / --resize: how an image file given as --input becomes the model's input (see `images`)."""
    from ..images import RESAMPLING, SCALES

    return compose(
        click.option(
            "--input-scale",
            type=click.Choice(SCALES),
            default=SCALES[0],
            show_default=True,
            expose_value=False,
            callback=_keep_image_option,
            help="With an image --input: its values scaled to [0, 1] (divided by 255, or 65535 for 16-bit), or "
            "kept as 0-255.",
        ),
        click.option(
            "--resize",
            type=click.Choice(list(RESAMPLING)),
            default=None,
            expose_value=False,
            callback=_keep_image_option,
            help="With an image --input of another size than the model's input: resize it with this resampling "
            "filter (Pillow's; they average when shrinking). Without it, another size is refused.",
        ),
    )(func)


def image_choice(input_path: str | None):
    """The `images.ImageOptions` of this command line; --input-scale/--resize are refused without an image (an
    --input, or a --baseline where the command takes one)."""
    from ..errors import UserError
    from ..images import ImageOptions, is_image

    ctx = click.get_current_context(silent=True)
    values = ctx.meta.get(_IMAGE_META, {}) if ctx is not None else {}
    if not is_image(input_path) and not is_image(ctx.params.get("baseline") if ctx is not None else None):
        for name in ("input_scale", "resize"):
            if ctx is not None and name in values and given(ctx, name):
                raise UserError(
                    f"--{name.replace('_', '-')} applies to an image --input (.png, .jpg, .jpeg, .pgm, .ppm)"
                )
    return ImageOptions(scale=values.get("input_scale", "0-1"), resize=values.get("resize"))


def input_option(help: str = INPUT_HELP):
    """--input PATH: an array or image file to explain instead of a built-in probe; `help` where a command
    does something else with it (evaluate scores it, explore steps through it)."""
    return click.option("--input", "input_path", type=str, default=None, help=help)


def target_option(func):
    """-c/--target C: the class explained."""
    return click.option(
        "--target",
        "-c",
        type=click.IntRange(min=0),
        default=None,
        help="Class to explain (default: the predicted class).",
    )(func)


def probe_input_options(func):
    """--probe / --probe-seed / --input / --input-scale / --resize: the probe, built in or the user's."""
    return compose(probe_choice_options, input_option(), image_options)(func)


def probe_options(func):
    """--probe / --probe-seed / --input / --input-scale / --resize / --target."""
    return compose(probe_input_options, target_option)(func)


_FORMAT_HELP = {
    "text": "Rich text for people",
    "json": "one JSON document on stdout for pipelines",
    "jsonl": "JSON Lines: one document per probe, one line each",
}


def format_option(*formats: str, help: str | None = None):
    """--format among `formats` (default: the first), with help naming what each gives."""
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(list(formats)),
        default=formats[0],
        show_default=True,
        help=help or "; ".join(_FORMAT_HELP[f] for f in formats) + ".",
    )


def output_options(func=None, *, formats: tuple[str, ...] = ("text", "json")):
    """--format / --no-color / --quiet; `@output_options` or `@output_options(formats=(...))`."""

    def apply(f):
        return compose(format_option(*formats), no_color_option, quiet_option)(f)

    return apply(func) if func is not None else apply
