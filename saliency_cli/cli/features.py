"""`saliency-cli features`: the per-channel feature maps of one layer for a probe."""

from __future__ import annotations

import click

from .batch import batch_size_option, document_options
from .common import check_probe_choice, load_network, stdin_bytes
from .export import export_option
from .figure import map_figure_options
from .help import HelpCommand
from .options import model_options, output_options, probe_input_options


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


@click.command(cls=HelpCommand)
@model_options("blobs8x8-gap")
@click.option(
    "--layer",
    default=None,
    help="Layer (name or index) whose output is shown, exactly as computed (conv1 is before its activation; "
    "lrelu1 after it).  [default: the first layer with feature maps, conv1 on the shipped conv models]",
)
@probe_input_options
@batch_size_option()
@output_options(formats=("text", "json", "jsonl"))
@document_options
@export_option
@map_figure_options
def features(
    task, model_path, layer, probe, probe_seed, input_path, batch_size, fmt, no_color, fields, compact, export
):
    """Show what each channel of a layer responds to: its feature maps for a probe or a batch.

    One small heatmap per channel, each on its own scale and titled with the channel index and its
    [min, max]. The default model is blobs8x8-gap, whose three conv layers keep the 8x8 resolution.
    JSON gives the arrays (K, h, w) and the ranges. An --input of shape (N, C, H, W) is a batch
    (N probes per forward pass, up to --batch-size): the text output is one summary row per probe,
    and --format jsonl one document per line.

    \b
    Example:
      saliency-cli features --layer conv1 --probe noisy
      saliency-cli features --layer conv3 --input batch.npy --format jsonl --fields ranges
    """
    from ..errors import UserError
    from ..reports.features import FIELDS, features_document, features_reports
    from .batch import check_document_options, load_probes, show_reports, with_progress
    from .figure import figure_request, save_probe_figure

    check_document_options(fmt, fields, compact, FIELDS)
    check_probe_choice(input_path)
    net = load_network(task, model_path)
    if layer is None:
        layer = _first_spatial_layer(net)
    probes, batch = load_probes(net, probe, probe_seed, input_path, stdin_bytes())
    figure = figure_request(batch)
    try:
        reports = with_progress(
            "features", len(probes), lambda p: features_reports(net, probes, layer, batch_size, progress=p)
        )
    except KeyError as exc:
        raise UserError(f"--layer {layer}: {exc.args[0]}") from None
    except ValueError as exc:
        raise UserError(f"--layer {layer}: {exc}") from None
    views = ("batch.features_batch_view", "features.features_view")
    output = {"fields": fields, "compact": compact, "no_color": no_color, "export": export}
    show_reports(fmt, "features", reports, batch, document=features_document, views=views, **output)
    save_probe_figure(figure, "features", reports)
