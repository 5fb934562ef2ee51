"""Option bundles shared by the commands: model, probe and output options."""

from __future__ import annotations

import click

from ..tasks import TASKS


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


def output_options(func):
    """--format / --no-color."""
    return _compose(
        click.option(
            "--format",
            "fmt",
            type=click.Choice(["text", "json"]),
            default="text",
            show_default=True,
            help="Rich text for people, or one JSON document on stdout for pipelines.",
        ),
        click.option(
            "--no-color",
            is_flag=True,
            help="Plain ASCII heatmaps and no colour (also when piped or NO_COLOR is set).",
        ),
    )(func)
