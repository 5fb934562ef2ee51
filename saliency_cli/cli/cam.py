"""`saliency-cli cam`: CAM, Grad-CAM and Grad-CAM++ on one probe, optionally smoothed."""

from __future__ import annotations

import click

from .common import check_probe_choice, emit_json, load_network, stdin_bytes
from .export import export_option, print_report, save_export
from .help import GroupedCommand
from .options import (
    NOISE_FRAC_HELP,
    SIGMA_HELP,
    AliasedOption,
    Number,
    given,
    model_options,
    output_options,
    parse_methods,
    probe_options,
)

#: `--methods` order: as listed here, whatever order the user gives.
_ORDER = ("cam", "gradcam", "gradcam++")

#: `cam --help` in sections.
_GROUPS = [
    ("What is explained", ["task", "model_path", "probe", "probe_seed", "input_path", "target", "targets_path"]),
    ("Methods", ["methods", "layer", "smooth", "noise_frac", "sigma", "seed"]),
    ("Output", ["fmt", "fields", "compact", "no_color", "quiet", "export"]),
]


@click.command(cls=GroupedCommand, option_groups=_GROUPS)
@model_options("blobs8x8-gap")
@probe_options
@click.option(
    "--methods",
    "--method",
    "methods",
    cls=AliasedOption,
    hidden_aliases=("--method",),
    default="gradcam",
    show_default=True,
    callback=parse_methods(_ORDER),
    help="Comma-separated methods (one report each): cam: dense weights after global average pooling (needs "
    "that head); gradcam: mean gradient per channel; gradcam++: positive gradients weighted per position. "
    "--method is the same option.",
)
@click.option(
    "--layer",
    default=None,
    help="Layer (name or index) whose feature maps are weighed; a conv layer's maps are taken after the "
    "activation that follows it.  [default: the last conv layer wider than 1x1]",
)
@click.option(
    "--smooth",
    type=click.IntRange(min=0, max=100_000),
    default=0,
    show_default=True,
    help="SmoothGrad: average the maps of N noisy copies of the input (one batch). 0: off.",
)
@click.option(
    "--noise-frac", type=Number(0, 100), default=0.15, show_default=True, help="With --smooth: " + NOISE_FRAC_HELP
)
@click.option("--sigma", type=Number(0, 1e6), default=None, help="With --smooth: " + SIGMA_HELP)
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="With --smooth: noise seed.")
@output_options
@export_option
@click.pass_context
def cam(
    ctx, task, model_path, probe, probe_seed, input_path, target, methods, layer, smooth, noise_frac, sigma, seed, fmt,
    no_color, export,
):  # fmt: skip
    """Class activation maps: where in the image a conv layer's evidence for a class is.

    Weighs the layer's feature maps A^k by w_k and sums them: CAM uses the dense weights after global
    average pooling, Grad-CAM the mean of d logit_c / d A^k, Grad-CAM++ per-position weights of the
    positive gradients. Shows the map before and after the ReLU at layer resolution, upsampled to
    the input (nearest and bilinear, align corners), its peak (x = column, y = row) and whether the
    peak falls on the explained class's ground-truth blob.

    \b
    Example:
      saliency-cli cam --methods gradcam++ --task blobs8x8-gap --probe clean --smooth 25
      saliency-cli cam --methods cam,gradcam,gradcam++
    """
    from ..errors import UserError
    from ..inputs import check_target, make_probe
    from ..methods.cam import CamError
    from ..reports.cam import cam_document, cam_report

    noise = [name for name in ("noise_frac", "sigma", "seed") if given(ctx, name)]
    if noise and not smooth:
        raise UserError(f"--{noise[0].replace('_', '-')} only applies with --smooth N (N >= 1)")
    if sigma is not None and "noise_frac" in noise:
        raise UserError("give --sigma or --noise-frac, not both")

    check_probe_choice(input_path)
    net = load_network(task, model_path)
    check_target(net, target)
    probe_ = make_probe(net, probe, probe_seed, input_path, stdin_bytes())
    methods = [m for m in _ORDER if m in methods]
    try:
        reports = [
            cam_report(
                net,
                probe_,
                method=method,
                layer=layer,
                target=target,
                smooth=smooth or None,
                noise_frac=noise_frac,
                sigma=sigma,
                seed=seed,
            )
            for method in methods
        ]
    except CamError as exc:
        raise UserError(str(exc)) from None
    from rich.console import Group
    from rich.text import Text

    from ..render.cam import cam_view

    def view(color):
        views = [cam_view(report, color) for report in reports]
        return Group(*(part for i, v in enumerate(views) for part in ([Text()] if i else []) + [v]))

    if fmt == "json":
        save_export(view, "saliency-cli cam", no_color, export)
        documents = [cam_document(report) for report in reports]
        if len(documents) == 1:
            emit_json(documents[0])
        else:
            emit_json({"command": "cam", "model": documents[0]["model"], "methods": documents})
        return
    print_report(view, "saliency-cli cam", no_color, export)
