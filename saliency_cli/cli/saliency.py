"""`saliency-cli saliency`: gradient saliency, SmoothGrad and Integrated Gradients on a probe or a batch."""

from __future__ import annotations

import click

from ..methods.exact_ig import MAX_PIECES
from ..methods.gradients import REDUCTIONS, SCORES
from ..methods.integrated import BASELINES, QUADRATURES
from ..reports.saliency import METHODS
from .batch import batch_size_option, document_options, targets_option
from .common import check_probe_choice, load_network, note, stdin_bytes
from .export import export_option
from .figure import FILE_OPTIONS, MAP_OPTIONS, map_figure_options
from .help import GroupedCommand
from .method_options import check_noise, noise_options, samples_option
from .options import (
    WHAT_IS_EXPLAINED,
    dtype_option,
    given,
    model_options,
    output_options,
    parse_methods,
    probe_options,
    refuse_unused,
    top_k_option,
)
from .params import Number
from .sharing import NAMES as SHARING
from .sharing import sharing_options

#: `--score` choices: every score but "unit", which --layer/--unit choose.
_SCORE_CHOICES = [name for name in SCORES if name != "unit"]


def _load_baseline(spec: str, net, input_path: str | None, dtype: str):
    """A named baseline, or an array read from a file as one --input probe is (`inputs.read_baseline`)."""
    from ..errors import UserError
    from ..inputs import read_baseline
    from .options import image_choice

    if spec in BASELINES:
        return spec, spec
    if spec == "-" and input_path == "-":
        raise UserError("--baseline - and --input - cannot both read standard input")
    return read_baseline(spec, net, stdin_bytes(), image_choice(input_path), dtype), "stdin" if spec == "-" else spec


def _choose_quadrature(ctx, net, quadrature: str, score, methods, convergence: bool) -> str:
    """Exact IG wherever the network and score allow it: asked-for exact refuses, the default falls back."""
    from ..errors import UserError
    from ..methods.integrated import exact_ig_available

    reason = exact_ig_available(net, score) if "ig" in methods or convergence else None
    if convergence and reason:
        raise UserError(f"--convergence compares against exact IG: {reason}")
    if quadrature != "exact" or reason is None:
        return quadrature
    if given(ctx, "quadrature"):
        raise UserError(reason)

    note(f"note: {reason}; using --quadrature right")
    return "right"


def _check_work_options(ctx, quadrature: str, steps: int, methods, convergence: bool) -> None:
    """Options that only cost or are ignored, refused before any model is read or any work done."""
    from ..methods.integrated import check_quadrature

    if quadrature != "exact" and "ig" in methods:
        check_quadrature(quadrature, steps)  # e.g. gauss-legendre with more than 1000 nodes
    if given(ctx, "max_pieces") and not (convergence or ("ig" in methods and quadrature == "exact")):
        refuse_unused(ctx, ["max_pieces"], "caps exact IG's linear pieces: it needs --quadrature exact and ig")


#: `saliency --help` in sections.
_WHAT = [*WHAT_IS_EXPLAINED, "target", "targets_path", "score", "against"]
_GROUPS = [
    ("What is explained", [*_WHAT, "layer", "unit"]),
    ("Methods", ["methods", "reduce", "samples", "noise_frac", "sigma", "seed", "smooth"]),
    ("Integrated Gradients", ["steps", "quadrature", "max_pieces", "baseline", "convergence", "max_gap"]),
    ("Output", ["top_k", "fmt", "fields", "compact", "no_color", "quiet", "export"]),
    ("Figure", [*FILE_OPTIONS, *MAP_OPTIONS]),
    ("Work", ["batch_size", "dtype", *SHARING]),
]


def _refuse_ignored(ctx, methods: tuple[str, ...], smooth: int, convergence: bool) -> None:
    """Options the chosen methods would not read are refused (one line, exit 2), never silently dropped."""
    if "smoothgrad" not in methods:
        refuse_unused(ctx, ["samples"], "sets SmoothGrad's noisy copies: add smoothgrad to --methods")
        if not smooth:
            refuse_unused(
                ctx,
                ["noise_frac", "sigma", "seed"],
                "sets SmoothGrad's noise: add smoothgrad to --methods or --smooth N",
            )
    if "ig" not in methods and not convergence:
        refuse_unused(ctx, ["steps", "quadrature", "baseline"], "sets Integrated Gradients: add ig to --methods")


@click.command(cls=GroupedCommand, option_groups=_GROUPS)
@model_options("blobs8x8")
@probe_options
@targets_option
@click.option(
    "--score",
    type=click.Choice(_SCORE_CHOICES),
    default="logit",
    show_default=True,
    help="What is explained: the class's pre-softmax logit, its softmax probability, or logit-diff: the "
    "logit of the class minus that of --against C2.",
)
@click.option(
    "--against",
    type=click.IntRange(min=0),
    default=None,
    help="With --score logit-diff: the class C2 whose logit is subtracted.",
)
@click.option(
    "--layer",
    default=None,
    help="With --unit: explain a unit of this layer's output instead of a class (a name such as conv1, "
    "or an index; see `saliency-cli models`).",
)
@click.option(
    "--unit",
    default=None,
    help="With --layer: the unit, as a flat index K into the layer's output (per example) or, for a conv "
    "layer's (C, H, W) output, as c,x,y (channel, x = column, y = row).",
)
@click.option(
    "--reduce",
    type=click.Choice(list(REDUCTIONS)),
    default="none",
    show_default=True,
    help="Reduce every map over channels: the max (as Xplique's Saliency) or mean of |map|. Reduced maps "
    "are unsigned and keep a channel axis of length 1: (1, H, W). IG's completeness refers to the unreduced map.",
)
@click.option(
    "--methods",
    default=",".join(METHODS),
    show_default=True,
    callback=parse_methods(tuple(METHODS)),
    help="Comma-separated methods to run: " + ", ".join(METHODS) + ".",
)
@samples_option
@noise_options()
@click.option(
    "--smooth",
    type=click.IntRange(0, 100_000),
    default=0,
    show_default=True,
    help="SmoothGrad over IG: IG is the mean of the IG maps of N noisy copies of the input (noise as "
    "--noise-frac/--sigma/--seed; baseline and target fixed). 0: off (plain IG).",
)
@click.option(
    "--steps",
    type=click.IntRange(1, 100_000),
    default=50,
    show_default=True,
    help="IG steps K of a K-step --quadrature; given alone, it selects --quadrature right.",
)
@click.option(
    "--max-pieces",
    type=click.IntRange(1, 10_000_000),
    default=MAX_PIECES,
    show_default=True,
    help="Exact IG: most linear pieces along one path (each costs a pass through the network). Past it the "
    "default quadrature falls back to right with --steps; an explicit --quadrature exact is refused.",
)
@click.option(
    "--quadrature",
    type=click.Choice(["exact", *QUADRATURES]),
    default="exact",
    show_default=True,
    help="IG integration: exact (piecewise-linear networks; falls back to right where it cannot apply, and "
    "--steps alone selects right) or a K-step rule on [0, 1] (right: alpha_k = k/K); every rule's weights sum to 1.",
)
@click.option(
    "--convergence",
    is_flag=True,
    help="Also show each quadrature's completeness gap for K = 8 .. 512 beside exact IG.",
)
@click.option(
    "--baseline",
    default="zero",
    show_default=True,
    help="IG baseline: zero, mean (each channel's mean of the input), or a file read as one --input probe is: "
    "a .npy array of the input's shape ('-' reads stdin) or an image file.",
)
@top_k_option("Pixels")
@batch_size_option("probes, noisy copies and path points")
@dtype_option(
    "Compute dtype of the network's passes: float32 is faster (maps agree to ~1e-6 relative, IG's "
    "completeness gap is float32's). Exact IG always computes in float64."
)
@sharing_options
@click.option(
    "--max-gap",
    type=Number(0),
    default=None,
    help="Exit with code 1 when IG's relative completeness gap exceeds this (e.g. 0.05).",
)
@output_options(formats=("text", "json", "jsonl"))
@document_options
@export_option
@map_figure_options
@click.pass_context
def saliency(
    ctx,
    task,
    model_path,
    probe,
    probe_seed,
    input_path,
    target,
    targets_path,
    score,
    against,
    layer,
    unit,
    reduce,
    methods,
    samples,
    noise_frac,
    sigma,
    seed,
    smooth,
    steps,
    max_pieces,
    quadrature,
    baseline,
    top_k,
    batch_size,
    max_gap,
    dtype,
    sharing,
    convergence,
    fmt,
    no_color,
    fields,
    compact,
    export,
):
    """Explain a probe, or a batch of probes, with gradient saliency, SmoothGrad and Integrated Gradients.

    Shows the input and the three maps per channel, the attribution mass per channel, the
    top-K pixels of the gradient map and IG's completeness check: sum(IG) against
    score(x) - score(baseline). The model's weights are hashed before and after.

    What is explained: a class's logit or probability, the difference of two logits
    (--score logit-diff --against C2), or one unit of any layer (--layer/--unit).
    An --input of shape (N, C, H, W) is a batch: the work is batched across the probes, the
    text output is one summary row per probe, and --format jsonl gives one document per line.

    \b
    Example:
      saliency-cli saliency --probe noisy --quadrature gauss-legendre --steps 16
      saliency-cli saliency --input batch.npy --targets labels.txt --format jsonl
    """
    from dataclasses import replace

    from ..errors import UserError
    from ..methods.exact_ig import TooManyPieces
    from ..reports.saliency import FIELDS
    from .batch import check_document_options, choose_targets, load_probes
    from .figure import figure_request, save_probe_figure
    from .saliency_inputs import make_score
    from .sharing import map_probe_blocks, part_of, probe_blocks
    from .work import check_saliency_work

    _refuse_ignored(ctx, methods, smooth, convergence)
    check_noise(ctx, sigma)
    if max_gap is not None and "ig" not in methods:
        raise UserError("--max-gap checks Integrated Gradients: add ig to --methods")
    if smooth and "ig" not in methods:
        raise UserError("--smooth smooths Integrated Gradients: add ig to --methods")
    if smooth and convergence:
        raise UserError("--convergence studies plain IG: drop --smooth")
    check_document_options(fmt, fields, compact, FIELDS)
    check_probe_choice(input_path)
    if "ig" in methods and given(ctx, "steps") and not given(ctx, "quadrature"):
        # NOTE: exact IG (the default) has no steps: --steps alone asks for a K-step rule, the one the default
        # falls back to where exact IG cannot apply.
        quadrature = "right"
        note(f"note: --steps {steps} selects --quadrature right (exact IG, the default, has no steps)")
    _check_work_options(ctx, quadrature, steps, methods, convergence)

    net = load_network(task, model_path)
    chosen = make_score(net, score, against, layer, unit, given(ctx, "score"))
    if not chosen.uses_target and (target is not None or targets_path is not None):
        raise UserError("--layer/--unit explain a unit, not a class: drop --target/--targets")
    probes, batch = load_probes(net, probe, probe_seed, input_path, stdin_bytes(), dtype)
    targets = choose_targets(net, target, targets_path, len(probes), batch)
    figure = figure_request(batch)
    if convergence and batch:
        raise UserError("--convergence studies one probe: give a (C, H, W) --input or a built-in --probe")
    sharing.check(batch)
    base, base_name = _load_baseline(baseline, net, input_path, dtype)
    quadrature = _choose_quadrature(ctx, net, quadrature, chosen, methods, convergence)
    if quadrature == "exact" and "ig" in methods:
        refuse_unused(
            ctx,
            ["steps"],
            "sets the K-step quadratures: exact IG has no steps "
            "(drop --steps, or give a K-step rule such as --quadrature right)",
        )
        if dtype != "float64":
            note(f"note: exact IG computes in float64; the other maps use {dtype} (--quadrature right for all)")

    from ..reports.saliency import ReportOptions, report_document, saliency_report

    options = ReportOptions(
        score=chosen,
        methods=methods,
        samples=samples,
        noise_frac=noise_frac,
        sigma=sigma,
        seed=seed,
        steps=steps,
        quadrature=quadrature,
        baseline=base,
        baseline_label=base_name,
        top_k=top_k,
        batch_size=batch_size,
        reduce=reduce,
        smooth=smooth,
        max_gap=max_gap,
        dtype=dtype,
        max_pieces=max_pieces,
    )

    def compute(options):
        typed = [name for name in ("samples", "steps", "smooth") if given(ctx, name)]
        options = replace(options, batch_size=check_saliency_work(net, probes, options, convergence, typed))
        if batch:
            from ..reports.saliency import saliency_reports

            parts = probe_blocks(len(probes))
            jobs = [(probes[p], part_of(targets, p), options) for p in parts]
            return [
                r for block in map_probe_blocks("saliency", saliency_reports, net, jobs, parts, sharing) for r in block
            ]
        return [saliency_report(net, probes[0], target=target, convergence=convergence, **vars(options))]

    try:
        reports = compute(options)
    except TooManyPieces as exc:
        # NOTE: the walk stopped at the cap, so this cost at most --max-pieces passes; as with a softmax
        # score, the default quadrature falls back to a fixed one and an explicit exact is refused (and with
        # --checkpoint, whose DIR was opened for exact IG's blocks).
        if convergence or given(ctx, "quadrature") or sharing.checkpoint is not None:
            raise UserError(
                f"{exc} (--max-pieces {max_pieces}); raise --max-pieces or use --quadrature right"
            ) from None
        note(f"note: {exc} (--max-pieces {max_pieces}); using --quadrature right with {steps} steps")
        reports = compute(replace(options, quadrature="right"))
    from .batch import show_reports

    views = ("saliency_batch.batch_view", "saliency.saliency_view")
    output = {"fields": fields, "compact": compact, "no_color": no_color, "export": export}
    show_reports(fmt, "saliency", reports, batch, document=report_document, views=views, **output)
    save_probe_figure(figure, "saliency", reports)
    failed = [r for r in reports if max_gap is not None and not r.completeness.ok]
    if failed:
        from ..render.saliency import gap_percent, threshold_percent
        from .common import print_stderr

        check = failed[0].completeness
        gap = "undefined (delta is 0)" if check.gap_rel is None else gap_percent(check.gap_rel)
        which = "" if not batch else f" on {len(failed)} of {len(reports)} probes (first: {failed[0].source})"
        print_stderr([f"IG completeness gap {gap} exceeds --max-gap {threshold_percent(max_gap)}{which}"])
        ctx.exit(1)
