"""`saliency-cli cost`: each attribution method's time and memory, measured against one forward pass."""

from __future__ import annotations

import click

from ..reports.cost import COST_METHODS
from .common import emit_json, load_network, require_finite
from .export import export_option, print_report, save_export
from .help import HelpCommand
from .options import (
    format_option,
    given,
    model_options,
    no_color_option,
    parse_methods,
    quiet_option,
    refuse_unused,
    seed_option,
)

#: `--methods` choices, in the order of the table (the cost registry's).
_METHODS = tuple(COST_METHODS)


@click.command(cls=HelpCommand)
@model_options("blobs8x8-gap")
@click.option(
    "--size",
    type=click.IntRange(min=1, max=128),
    default=None,
    help="Build the model's architecture for an SxS input with random weights (e.g. 64) and measure that; "
    "memory grows with S^2 x --steps.",
)
@click.option(
    "--methods",
    default=",".join(_METHODS),
    show_default=True,
    callback=parse_methods(_METHODS),
    help="Comma-separated methods to measure.",
)
@click.option("--steps", type=click.IntRange(1, 4096), default=50, show_default=True, help="IG steps S.")
@click.option(
    "--samples", type=click.IntRange(1, 4096), default=16, show_default=True, help="SmoothGrad's noisy copies N."
)
@click.option(
    "--repeats", type=click.IntRange(1, 100), default=3, show_default=True, help="Timed runs per method (best kept)."
)
@seed_option("Seed of --size's weights.")
@format_option("text", "json", help="A table for people, or one JSON document on stdout.")
@no_color_option
@quiet_option
@export_option
@click.pass_context
def cost(ctx, task, model_path, size, methods, steps, samples, repeats, seed, fmt, no_color, export):
    """Measure what each attribution method costs on a model: time, ratio to a forward pass, memory.

    For vanilla gradient, SmoothGrad, Integrated Gradients, Grad-CAM, Grad-CAM++, CAM (when the
    model has a global-average-pooling head) and LRP (when its walk reaches the input): the
    forward-pass equivalents in theory (a backward pass counted as two forward passes), the best
    time per probe over --repeats runs, its ratio to one forward pass, and the extra peak memory of
    one run (tracemalloc). The probe is the task's default probe (clean; digits: held-out:0), a random
    input with --size, or, for an imported model, a seeded random input of its own shape.

    \b
    Example:
      saliency-cli cost --size 64 --steps 50 --samples 16
      saliency-cli cost --methods vanilla,ig,lrp
    """
    import numpy as np

    from ..errors import UserError
    from ..inputs import make_probe
    from ..reports.cost import cost_document, measure_costs, scaled_network
    from ..reports.probe import model_info
    from ..tasks import no_task_for, task_of
    from .work import check_cost_work

    if "ig" not in methods:
        refuse_unused(ctx, ["steps"], "sets Integrated Gradients: add ig to --methods")
    if "smoothgrad" not in methods:
        refuse_unused(ctx, ["samples"], "sets SmoothGrad's noisy copies: add smoothgrad to --methods")
    if size is None:
        refuse_unused(ctx, ["seed"], "seeds --size's random weights: add --size S")
    net = load_network(task, model_path)
    about = model_info(net)
    imported = hasattr(net, "plan") or (net.training or {}).get("source") == "onnx"
    if size is None and task_of(net) is None and imported:
        # NOTE: an imported model (a graph, or a chain the sequential engine runs) names no task and has no probe to
        # draw: it is timed at its own input shape on a seeded random input
        x = np.random.default_rng([seed, 1]).uniform(0.0, 1.0, size=net.input_shape)
        about.update(scaled=False, random_weights=False, random_input=True)
    elif size is None:
        if task_of(net) is None:
            raise UserError(f"{no_task_for(net, 'built-in probe to time')}; pass --size S for a random input")
        x = make_probe(net, None).x
        about.update(scaled=False, random_weights=False)
    elif hasattr(net, "plan"):
        raise UserError("--size rebuilds the tool's own layer types; an imported graph is timed at its own input shape")
    else:
        try:
            net = scaled_network(net, size, seed)
        except ValueError as exc:
            raise UserError(f"--size {size}: {exc}") from None
        x = np.random.default_rng([seed, 1]).uniform(0.0, 1.0, size=net.input_shape)
        about.update(scaled=True, random_weights=True, seed=seed, size=size)
    methods = tuple(m for m in _METHODS if m in methods)
    typed = [name for name in ("steps", "samples", "repeats") if given(ctx, name)]
    check_cost_work(net, methods, steps, samples, repeats, typed, sized=size is not None)
    from .progress import progress_bar

    with progress_bar("cost: method runs") as progress:
        report = measure_costs(
            net, x, methods=methods, steps=steps, samples=samples, repeats=repeats, about=about, progress=progress
        )
    require_finite(cost_document(report))
    from ..render.cost import cost_view

    def view(color):
        return cost_view(report)

    if fmt == "json":
        save_export(view, "saliency-cli cost", no_color, export)
        emit_json("cost", cost_document(report))
        return
    print_report(view, "saliency-cli cost", no_color, export)
