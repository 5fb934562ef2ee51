"""`saliency-cli features`: the per-channel feature maps of one layer for a probe."""

from __future__ import annotations

import click

from .common import check_probe_choice, emit_json, load_network, stdin_bytes
from .export import export_option, print_report, save_export
from .options import model_options, output_options


def _first_spatial_layer(net) -> str:
    """The first layer with (K, h, w) feature maps; a one-line error naming the models that have one."""
    from ..errors import UserError
    from ..methods.features import spatial_layers
    from ..tasks import TASKS

    spatial = spatial_layers(net)
    if spatial:
        return spatial[0]
    conv = sorted(name for name, task in TASKS.items() if any(spec["type"] == "conv2d" for spec in task.layers))
    model = f"the {net.task} model" if net.task else "this model"
    raise UserError(
        f"{model} has no layer with feature maps to show (no conv layer); "
        f"use a conv model: {' or '.join('--task ' + name for name in conv)}"
    )


@click.command()
@model_options("blobs8x8-gap")
@click.option(
    "--layer",
    default=None,
    help="Layer (name or index) whose output is shown, exactly as computed (conv1 is before its activation; "
    "lrelu1 after it).  [default: the first layer with feature maps, conv1 on the shipped conv models]",
)
@click.option(
    "--probe",
    type=click.Choice(["clean", "noisy"]),
    default="clean",
    show_default=True,
    help="Built-in probe of the task: clean (class 0, low noise) or noisy (class 1, high noise).",
)
@click.option("--probe-seed", type=click.IntRange(min=0), default=0, show_default=True, help="Seed of the probe.")
@click.option(
    "--input",
    "input_path",
    default=None,
    help="Use this .npy array of shape (C, H, W) instead of a probe; '-' reads it from stdin.",
)
@output_options
@export_option
def features(task, model_path, layer, probe, probe_seed, input_path, fmt, no_color, export):
    """Show what each channel of a layer responds to: its feature maps for one probe.

    One small heatmap per channel, each on its own scale and titled with the channel index and its
    [min, max]. The default model is blobs8x8-gap, whose three conv layers keep the 8x8 resolution.
    JSON gives the arrays (K, h, w) and the ranges.

    \b
    Example:
      saliency-cli features --layer conv1 --probe noisy
    """
    from ..errors import UserError
    from ..inputs import make_probe
    from ..methods.features import feature_maps
    from ..reports.probe import model_info

    check_probe_choice(input_path)
    net = load_network(task, model_path)
    if layer is None:
        layer = _first_spatial_layer(net)
    probe_ = make_probe(net, probe, probe_seed, input_path, stdin_bytes())
    try:
        result = feature_maps(net, probe_.x, layer)
    except KeyError as exc:
        raise UserError(f"--layer {layer}: {exc.args[0]}") from None
    except ValueError as exc:
        raise UserError(f"--layer {layer}: {exc}") from None
    about = {"model": model_info(net), "source": probe_.source, "label": probe_.label}
    from ..render.features import features_view

    def view(color):
        return features_view(result, about, color)

    if fmt == "json":
        save_export(view, "saliency-cli features", no_color, export)
        emit_json(
            {
                "command": "features",
                **about,
                "prediction": {
                    "class": int(result.logits.argmax()),
                    "scores": result.logits,
                    "probabilities": result.probabilities,
                },
                "layer": {"index": result.index, "name": result.name, "type": result.type},
                "shape": list(result.maps.shape),
                "maps": result.maps,
                "ranges": result.ranges,
            }
        )
        return
    print_report(view, "saliency-cli features", no_color, export)
