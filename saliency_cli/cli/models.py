"""`saliency-cli models`: what a model file holds."""

from __future__ import annotations

import click

from ..tasks import TASKS
from .common import emit_json
from .export import export_option, print_report, save_export
from .options import format_option


def models_info(net) -> dict:
    from ..reports.probe import model_info

    return {
        **model_info(net),
        "input_shape": list(net.input_shape),
        "classes": net.classes,
        "layers": [
            {**row, "settings": {k: v for k, v in layer.config().items() if k != "type"}}
            for row, layer in zip(net.summary(), net.layers, strict=True)
        ],
        "parameters": net.num_parameters(),
        "training": net.training,
    }


@click.command()
@click.argument("path", required=False, type=click.Path(dir_okay=False))
@click.option(
    "--task",
    type=click.Choice(sorted(TASKS)),
    default="blobs8x8",
    show_default=True,
    help="Show this task's default model when no PATH is given.",
)
@format_option("text", "json", help="Tables, or one JSON document on stdout.")
@export_option
def models(path, task, fmt, export):
    """Show a model's layers, output shapes, parameter counts and training record.

    \b
    Example:
      saliency-cli models models/blobs6x6.npz
    """
    from .common import load_network

    info = models_info(load_network(task, path))
    from ..render.summary import model_summary

    def view(color):
        return model_summary(info)

    if fmt == "json":
        save_export(view, "saliency-cli models", export=export)
        emit_json({"command": "models", **info})
        return
    print_report(view, "saliency-cli models", export=export)
