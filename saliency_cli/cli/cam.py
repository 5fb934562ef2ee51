"""`saliency-cli cam`: CAM, Grad-CAM and Grad-CAM++ on one probe, optionally smoothed."""

from __future__ import annotations

import click

from ..methods.cam import CAM_METHODS
from .common import emit_json, load_network, stdin_bytes
from .export import export_option, print_report, save_export
from .options import Number, model_options, output_options, probe_options


@click.command()
@model_options("blobs8x8-gap")
@probe_options
@click.option(
    "--method",
    type=click.Choice(sorted(CAM_METHODS)),
    default="gradcam",
    show_default=True,
    help="cam: dense weights after global average pooling (needs that head); gradcam: mean gradient per "
    "channel; gradcam++: positive gradients weighted per position.",
)
@click.option(
    "--layer",
    default=None,
    help="Layer (name or index) whose feature maps are weighed; a conv layer's maps are taken after the "
    "activation that follows it.  [default: the last conv layer wider than 1x1]",
)
@click.option(
    "--smooth",
    type=click.IntRange(min=1, max=100_000),
    default=None,
    help="SmoothGrad: average the maps of N noisy copies of the input (one batch).",
)
@click.option(
    "--noise-frac",
    type=Number(0, 100),
    default=0.15,
    show_default=True,
    help="With --smooth: sigma = F x (max(x) - min(x)).",
)
@click.option("--sigma", type=Number(0, 1e6), default=None, help="With --smooth: absolute noise sigma.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="With --smooth: noise seed.")
@output_options
@export_option
@click.pass_context
def cam(
    ctx, task, model_path, probe, probe_seed, input_path, target, method, layer, smooth, noise_frac, sigma, seed, fmt,
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
      saliency-cli cam --method gradcam++ --task blobs8x8-gap --probe clean --smooth 25
    """
    from ..errors import UserError
    from ..inputs import check_target, make_probe
    from ..methods.cam import CamError
    from ..reports.cam import cam_document, cam_report

    given = {
        name
        for name in ("noise_frac", "sigma", "seed")
        if ctx.get_parameter_source(name) is click.core.ParameterSource.COMMANDLINE
    }
    if given and not smooth:
        raise UserError(f"--{sorted(given)[0].replace('_', '-')} only applies with --smooth N")
    if sigma is not None and "noise_frac" in given:
        raise UserError("give --sigma or --noise-frac, not both")

    net = load_network(task, model_path)
    check_target(net, target)
    probe_ = make_probe(net, probe, probe_seed, input_path, stdin_bytes())
    try:
        report = cam_report(
            net,
            probe_,
            method=method,
            layer=layer,
            target=target,
            smooth=smooth,
            noise_frac=noise_frac,
            sigma=sigma,
            seed=seed,
        )
    except CamError as exc:
        raise UserError(str(exc)) from None
    from ..render.cam import cam_view

    def view(color):
        return cam_view(report, color)

    if fmt == "json":
        save_export(view, "saliency-cli cam", no_color, export)
        emit_json(cam_document(report))
        return
    print_report(view, "saliency-cli cam", no_color, export)
