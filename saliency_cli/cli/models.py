"""`saliency-cli models`: what a model file holds."""

from __future__ import annotations

import click

from .common import emit_json
from .export import export_option, print_report, save_export
from .help import HelpCommand
from .options import format_option, given, model_path_option, no_color_option, quiet_option, task_option


def models_info(net) -> dict:
    from ..reports.applies import methods_apply
    from ..reports.probe import model_info

    hidden = ("type", "name", "inputs", "output")
    return {
        "model": model_info(net),
        "input_shape": list(net.input_shape),
        "classes": net.classes,
        "layers": [
            {**row, "settings": {k: v for k, v in layer.config().items() if k not in hidden}}
            for row, layer in zip(net.summary(), net.layers, strict=True)
        ],
        "parameters": net.num_parameters(),
        "training": net.training,
        "methods": methods_apply(net),
    }


@click.command(cls=HelpCommand)
@click.argument("path", required=False, type=click.Path(dir_okay=False))
@task_option("Show this task's default model (./models/<task>.npz, else the packaged copy).")
@model_path_option("Show this model file (the same as giving PATH).")
@format_option("text", "json", help="Tables, or one JSON document on stdout.")
@no_color_option
@quiet_option
@export_option
@click.pass_context
def models(ctx, path, task, model_path, fmt, no_color, export):
    """Show a model's layers, output shapes, parameter counts and training record.

    PATH (or --model PATH) names a model file; without one, the --task's default model is shown.

    \b
    Example:
      saliency-cli models models/blobs6x6.npz
      saliency-cli models --model models/blobs6x6.npz --format json
    """
    from ..errors import UserError
    from .common import load_network

    if path is not None and model_path is not None:
        raise UserError("give the model file as PATH or as --model PATH, not both")
    path = path if path is not None else model_path
    if path is not None and given(ctx, "task"):
        raise UserError("--task picks a default model: give --task or a model file, not both")
    info = models_info(load_network(task, path))
    from ..render.summary import model_summary

    def view(color):
        return model_summary(info)

    if fmt == "json":
        save_export(view, "saliency-cli models", no_color, export)
        emit_json("models", {"command": "models", **info})
        return
    print_report(view, "saliency-cli models", no_color, export)
