"""`saliency-cli cam`: CAM, Grad-CAM and Grad-CAM++ on one probe, optionally smoothed."""

from __future__ import annotations

import click

from .batch import batch_size_option, document_options, targets_option
from .common import check_probe_choice, load_network, stdin_bytes
from .export import export_option
from .figure import FILE_OPTIONS, MAP_OPTIONS, map_figure_options
from .help import GroupedCommand
from .method_options import check_noise, noise_options
from .options import WHAT_IS_EXPLAINED, dtype_option, given, model_options, output_options, parse_methods, probe_options
from .params import AliasedOption
from .sharing import NAMES as SHARING
from .sharing import sharing_options

#: `--methods` order: as listed here, whatever order the user gives.
_ORDER = ("cam", "gradcam", "gradcam++")

#: `cam --help` in sections.
_GROUPS = [
    ("What is explained", [*WHAT_IS_EXPLAINED, "target", "targets_path"]),
    ("Methods", ["methods", "layer", "smooth", "noise_frac", "sigma", "seed"]),
    ("Output", ["fmt", "fields", "compact", "no_color", "quiet", "export"]),
    ("Figure", [*FILE_OPTIONS, *MAP_OPTIONS]),
    ("Work", ["batch_size", "dtype", *SHARING]),
]


@click.command(cls=GroupedCommand, option_groups=_GROUPS)
@model_options("blobs8x8-gap")
@probe_options
@targets_option
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
@noise_options("With --smooth: ")
@batch_size_option("probes and noisy copies")
@dtype_option("Compute dtype of the network's passes: float32 is faster on large maps (maps agree to ~1e-6 relative).")
@sharing_options
@output_options(formats=("text", "json", "jsonl"))
@document_options
@export_option
@map_figure_options
@click.pass_context
def cam(
    ctx, task, model_path, probe, probe_seed, input_path, target, targets_path, methods, layer, smooth, noise_frac,
    sigma, seed, batch_size, dtype, sharing, fmt, no_color, fields, compact, export,
):  # fmt: skip
    """Class activation maps, for a probe or a batch: where in the image a conv layer's evidence for a class is.

    Weighs the layer's feature maps A^k by w_k and sums them: CAM uses the dense weights after global
    average pooling, Grad-CAM the mean of d logit_c / d A^k, Grad-CAM++ per-position weights of the
    positive gradients. Shows the map before and after the ReLU at layer resolution, upsampled to
    the input (nearest and bilinear, align corners), its peak (x = column, y = row) and whether the
    peak falls on the explained class's ground-truth blob. Several --methods give one report each
    (in JSON, {"methods": [...]} per probe).

    An --input of shape (N, C, H, W) is a batch, computed N probes at a time (up to --batch-size
    rows): the text output is one summary row per probe, and --format jsonl one document per line.

    \b
    Example:
      saliency-cli cam --methods gradcam++ --task blobs8x8-gap --probe clean --smooth 25
      saliency-cli cam --methods cam,gradcam,gradcam++
      saliency-cli cam --input batch.npy --targets labels.npy --format jsonl --fields target,peak
    """
    from ..errors import UserError
    from ..methods.cam import CamError
    from ..reports.cam import FIELDS, cam_block, cam_document, cam_reports
    from .batch import check_document_options, choose_targets, load_probes, show_reports
    from .figure import figure_request, save_probe_figure
    from .sharing import map_probe_blocks, part_of, probe_blocks
    from .work import check_cam_work

    noise = [name for name in ("noise_frac", "sigma", "seed") if given(ctx, name)]
    if noise and not smooth:
        raise UserError(f"--{noise[0].replace('_', '-')} only applies with --smooth N (N >= 1)")
    check_noise(ctx, sigma)

    check_document_options(fmt, fields, compact, FIELDS)
    check_probe_choice(input_path)

    net = load_network(task, model_path)
    probes, batch = load_probes(net, probe, probe_seed, input_path, stdin_bytes(), dtype)
    targets = choose_targets(net, target, targets_path, len(probes), batch)
    sharing.check(batch)
    figure = figure_request(batch)
    methods = [m for m in _ORDER if m in methods]
    check_cam_work(net, len(probes), len(methods), smooth)
    options = {"layer": layer, "target": targets, "smooth": smooth or None, "noise_frac": noise_frac, "sigma": sigma}
    options.update(seed=seed, batch_size=batch_size, dtype=dtype)

    try:
        if batch:
            parts = probe_blocks(len(probes))
            jobs = [(probes[p], methods, dict(options, target=part_of(targets, p))) for p in parts]
            blocks = map_probe_blocks("cam", cam_block, net, jobs, parts, sharing)
            runs = [[r for block in blocks for r in block[k]] for k in range(len(methods))]
        else:
            runs = [cam_reports(net, probes, method=m, **options) for m in methods]
    except CamError as exc:
        raise UserError(str(exc)) from None
    output = {"no_color": no_color, "export": export}
    if len(methods) == 1:
        views = ("batch.cam_batch_view", "cam.cam_view")
        show_reports(
            fmt, "cam", runs[0], batch, document=cam_document, views=views, fields=fields, compact=compact, **output
        )
        save_probe_figure(figure, "cam", [[r] for r in runs[0]])
        return
    # Several methods: one document per probe, {"command", "model", "methods": [one per method]}; --fields and
    # --compact apply to each method's document (and --compact drops the model block too).
    from .batch import select_fields

    def document(group):
        docs = [select_fields(cam_document(r), fields, compact) for r in group]
        return {"command": "cam", "model": group[0].model, "methods": docs}

    groups = [list(group) for group in zip(*runs, strict=True)]
    views = ("batch.cam_batch_views", "cam.cam_views")
    show_reports(fmt, "cam", groups, batch, document=document, views=views, fields=None, compact=compact, **output)
    save_probe_figure(figure, "cam", groups)
