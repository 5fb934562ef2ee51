"""`saliency-cli saliency`: gradient saliency, SmoothGrad and Integrated Gradients on one probe."""

from __future__ import annotations

import click

from ..attribution.gradients import BASELINES, QUADRATURES, SCORES
from ..attribution.report import METHODS
from .common import emit_json, load_network, stdin_bytes, stdout_console, use_color
from .options import model_options, output_options, probe_options


def _parse_methods(ctx, param, value: str) -> tuple[str, ...]:
    names = [v.strip() for v in value.split(",") if v.strip()]
    unknown = [n for n in names if n not in METHODS]
    if unknown or not names:
        raise click.BadParameter(f"{value!r}: give a comma-separated subset of {','.join(METHODS)}")
    return tuple(dict.fromkeys(names))  # de-duplicated, order kept


def _load_baseline(spec: str, net, input_path: str | None):
    """A named baseline, or an array read from a .npy file (checked against the model's input)."""
    from ..errors import UserError
    from ..inputs import check_shape, read_npy

    if spec in BASELINES:
        return spec, spec
    if spec == "-" and input_path == "-":
        raise UserError("--baseline - and --input - cannot both read standard input")
    name = "stdin" if spec == "-" else spec
    array = check_shape(read_npy(spec, stdin_bytes()), net.input_shape, f"--baseline {name}")
    return array, name


def _choose_quadrature(ctx, net, quadrature: str, score: str, methods, convergence: bool) -> str:
    """Exact IG wherever the network and score allow it: asked-for exact refuses, the default falls back."""
    from ..attribution.gradients import exact_ig_available
    from ..errors import UserError

    reason = exact_ig_available(net, score) if "ig" in methods or convergence else None
    if convergence and reason:
        raise UserError(f"--convergence compares against exact IG: {reason}")
    if quadrature != "exact" or reason is None:
        return quadrature
    if ctx.get_parameter_source("quadrature") is click.core.ParameterSource.COMMANDLINE:
        raise UserError(reason)
    from .common import stderr_console

    stderr_console().print(f"[dim]note: {reason}; using --quadrature right[/dim]", soft_wrap=True)
    return "right"


@click.command()
@model_options("blobs8x8")
@probe_options
@click.option(
    "--score",
    type=click.Choice(list(SCORES)),
    default="logit",
    show_default=True,
    help="Explain the class's pre-softmax logit or its softmax probability.",
)
@click.option(
    "--methods",
    default=",".join(METHODS),
    show_default=True,
    callback=_parse_methods,
    help="Comma-separated methods to run.",
)
@click.option("--samples", type=click.IntRange(min=1), default=16, show_default=True, help="SmoothGrad noisy copies.")
@click.option(
    "--noise-frac",
    type=click.FloatRange(min=0),
    default=0.15,
    show_default=True,
    help="SmoothGrad sigma = F x (max(x) - min(x)).",
)
@click.option(
    "--sigma", type=click.FloatRange(min=0), default=None, help="Absolute SmoothGrad sigma (instead of --noise-frac)."
)
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Seed of SmoothGrad's noise.")
@click.option("--steps", type=click.IntRange(min=1), default=50, show_default=True, help="IG steps K.")
@click.option(
    "--quadrature",
    type=click.Choice(["exact", *QUADRATURES]),
    default="exact",
    show_default=True,
    help="IG integration: exact (piecewise-linear networks; falls back to right where it cannot apply) "
    "or a K-step rule on [0, 1] (right: alpha_k = k/K); every rule's weights sum to 1.",
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
    help="IG baseline: zero, mean (each channel's mean of the input) or a .npy file of the input's shape.",
)
@click.option("--top-k", type=click.IntRange(min=1), default=8, show_default=True, help="Pixels in the top-K table.")
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=None,
    help="Rows per forward/backward pass, to bound memory.  [default: all at once]",
)
@click.option(
    "--max-gap",
    type=click.FloatRange(min=0),
    default=None,
    help="Exit with code 1 when IG's relative completeness gap exceeds this (e.g. 0.05).",
)
@output_options
@click.pass_context
def saliency(
    ctx,
    task,
    model_path,
    probe,
    probe_seed,
    input_path,
    target,
    score,
    methods,
    samples,
    noise_frac,
    sigma,
    seed,
    steps,
    quadrature,
    baseline,
    top_k,
    batch_size,
    max_gap,
    convergence,
    fmt,
    no_color,
):
    """Explain one probe with gradient saliency, SmoothGrad and Integrated Gradients.

    Shows the input and the three maps per channel, the attribution mass per channel, the
    top-K pixels of the gradient map and IG's completeness check: sum(IG) against
    score(x) - score(baseline). The model's weights are hashed before and after.

    \b
    Example:
      saliency-cli saliency --probe noisy --quadrature gauss-legendre --steps 16
    """
    from ..errors import UserError
    from ..inputs import check_target, make_probe

    if sigma is not None and ctx.get_parameter_source("noise_frac") is click.core.ParameterSource.COMMANDLINE:
        raise UserError("give --sigma or --noise-frac, not both")
    if max_gap is not None and "ig" not in methods:
        raise UserError("--max-gap checks Integrated Gradients: add ig to --methods")

    net = load_network(task, model_path)
    check_target(net, target)
    probe_ = make_probe(net, probe, probe_seed, input_path, stdin_bytes())
    base, base_name = _load_baseline(baseline, net, input_path)
    quadrature = _choose_quadrature(ctx, net, quadrature, score, methods, convergence)

    from ..attribution.report import report_document, saliency_report

    report = saliency_report(
        net,
        probe_,
        target=target,
        score=score,
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
        convergence=convergence,
    )
    if fmt == "json":
        emit_json(report_document(report))
    else:
        from ..render.saliency import saliency_view

        console = stdout_console(no_color)
        console.print(saliency_view(report, use_color(console, no_color)))
    if max_gap is not None and report.completeness.exceeds(max_gap):
        from .common import stderr_console

        stderr_console().print(
            f"IG completeness gap {report.completeness.gap_rel} exceeds --max-gap {max_gap}", highlight=False
        )
        ctx.exit(1)
