"""Option bundles shared by the commands: model, probe and output options."""

from __future__ import annotations

import math

import click

from ..tasks import TASKS


class Number(click.ParamType):
    """A finite float within bounds: NaN, infinities and out-of-range values are one-line errors.

    (click.FloatRange lets NaN through, and a NaN threshold or rate silently disables a check.)
    """

    name = "float"

    def __init__(self, min: float | None = None, max: float | None = None, min_open: bool = False):
        self.min, self.max, self.min_open = min, max, min_open

    def convert(self, value, param, ctx):
        number = click.FLOAT.convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        too_low = self.min is not None and (number <= self.min if self.min_open else number < self.min)
        if too_low or (self.max is not None and number > self.max):
            self.fail(f"{number:g} is not in the range {self._describe()}", param, ctx)
        return number

    def _describe(self) -> str:
        low = "" if self.min is None else f"{self.min:g} {'<' if self.min_open else '<='} "
        high = "" if self.max is None else f" <= {self.max:g}"
        return f"{low}x{high}"

    def get_metavar(self, param, ctx=None):
        return f"FLOAT [{self._describe()}]"


def _compose(*decorators):
    def apply(func):
        for decorator in reversed(decorators):
            func = decorator(func)
        return func

    return apply


def model_options(default_task: str):
    """--task / --model."""
    return _compose(
        click.option(
            "--task",
            type=click.Choice(sorted(TASKS)),
            default=default_task,
            show_default=True,
            help="Task whose default model (./models/<task>.npz, else the packaged copy) is explained.",
        ),
        click.option(
            "--model",
            "model_path",
            type=click.Path(dir_okay=False),
            default=None,
            help="A model file to explain instead of the task's default.",
        ),
    )


def probe_options(func):
    """--probe / --probe-seed / --input / --target."""
    return _compose(
        click.option(
            "--probe",
            type=click.Choice(["clean", "noisy"]),
            default="clean",
            show_default=True,
            help="Built-in probe of the task: clean (class 0, low noise) or noisy (class 1, high noise).",
        ),
        click.option(
            "--probe-seed",
            type=click.IntRange(min=0),
            default=0,
            show_default=True,
            help="Seed of the built-in probe.",
        ),
        click.option(
            "--input",
            "input_path",
            type=str,
            default=None,
            help="Explain this .npy array of shape (C, H, W) instead of a probe; '-' reads it from stdin.",
        ),
        click.option(
            "--target",
            "-c",
            type=click.IntRange(min=0),
            default=None,
            help="Class to explain (default: the predicted class).",
        ),
    )(func)


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
    """--format / --no-color; `@output_options` or `@output_options(formats=(...))`."""

    def apply(f):
        return _compose(
            format_option(*formats),
            click.option(
                "--no-color",
                is_flag=True,
                help="Plain ASCII heatmaps and no colour (also when piped or NO_COLOR is set).",
            ),
        )(f)

    return apply(func) if func is not None else apply
