"""`saliency-cli evaluate`: which explanation to believe — localisation, faithfulness and sanity on ground truth."""

from __future__ import annotations

import click

from ..evaluation.localisation import MASK_LEVELS
from ..evaluation.methods import METHODS
from ..evaluation.metrics import METRICS
from ..evaluation.sanity import MPRT_ORDERS
from ..evaluation.substrates import SUBSTRATES
from .batch import batch_size_option
from .common import emit_json, load_network, stdin_bytes
from .export import export_option, print_report, save_export
from .figure import FILE_OPTIONS, figure_file_options
from .help import GroupedCommand
from .method_options import EVALUATION_METHOD_OPTIONS, evaluation_method_options
from .options import (
    given,
    image_options,
    input_option,
    model_options,
    output_options,
    parse_names,
    refuse_unused,
    seed_option,
)
from .sharing import NAMES as SHARING
from .sharing import sharing_options

#: `evaluate --help` in sections.
_GROUPS = [
    (
        "Model and probes",
        [
            *("task", "model_path", "onnx_output", "count", "noise", "seed"),
            *("input_path", "input_scale", "resize", "masks_path", "labels_path"),
        ],
    ),
    (
        "What is scored",
        [
            "methods",
            "metrics",
            "mask_level",
            "steps",
            "substrate",
            "insertion_substrate",
            "mprt_order",
            "draws",
            "include_wrong",
            "resamples",
        ],
    ),
    ("Method options", EVALUATION_METHOD_OPTIONS),
    ("Work", ["batch_size", *SHARING]),
    ("Output", ["fmt", "per_probe", "no_color", "quiet", "export"]),
    ("Figure", FILE_OPTIONS),
]

_WIDTH = max(len(name) for name in METRICS)
_METRIC_LINES = "\n".join(f"  {m.name:<{_WIDTH}} {m.arrow}  {m.summary}" for m in METRICS.values())

_HELP = f"""Which explanation to believe: score every method on many probes with ground-truth masks.

Localisation (does the map point at the evidence?), faithfulness (does removing what the map
calls relevant change the decision?) and sanity (does the map change when the model does?),
each per probe, then averaged with a seeded bootstrap 95% interval. Two controls read every
number against chance: random (a seeded uniform map) and input (|x|). The report opens with
one recommendation: of the methods that pass sanity (absolute MPRT and random-logit below
both controls, paired intervals) and beat both controls on some localisation or faithfulness
metric, the best mean rank over those metrics. Saturated metrics (the methods' means span no
more than their intervals) are shown dimmed and used in no verdict. Probes without masks
(--task digits' held-out images, an --input without --masks) get every metric but localisation's.

\b
Metrics (↑ higher is better, ↓ lower; the JSON and docs/evaluation.md define each in full):
{_METRIC_LINES}

\b
Example:
  saliency-cli evaluate --task blobs8x8-gap --probes 100
  saliency-cli evaluate --methods ig,lrp:epsilon,random --format json --per-probe
  saliency-cli evaluate --model m.npz --input batch.npy --masks masks.npy --labels labels.txt
  saliency-cli evaluate --task digits --probes 100
"""


def _noise_levels(ctx, param, value: str) -> tuple[float, ...]:
    try:
        levels = tuple(float(v) for v in value.split(",") if v.strip())
    except ValueError:
        raise click.BadParameter(f"{value!r}: give comma-separated numbers such as 0.05,0.25,0.45") from None
    if not levels or len(levels) > 100 or not all(0.0 <= v <= 10.0 for v in levels):
        raise click.BadParameter(f"{value!r}: give 1 to 100 noise levels, each in [0, 10]")
    return levels


@click.command(cls=GroupedCommand, option_groups=_GROUPS, help=_HELP)
@model_options("blobs8x8")
@click.option(
    "--probes",
    "count",
    type=click.IntRange(1, 100_000),
    default=200,
    show_default=True,
    help="Probes drawn from the task's generator: class-balanced, spread over --noise, seeded by --seed "
    "(a stream that training never uses).",
)
@click.option(
    "--noise",
    default="0.05,0.25,0.45",
    show_default=True,
    callback=_noise_levels,
    help="Background noise levels the probes are spread over.",
)
@seed_option(
    "Seeds the probes, the random control, tie-breaking, MPRT's weights, the bootstrap and SmoothGrad's noise."
)
@input_option(
    "Evaluate on your own batch: a .npy array (N, C, H, W) ('-' reads stdin), or one image file (see "
    "--input-scale and --resize); without --masks, every metric but localisation's."
)
@image_options
@click.option(
    "--masks", "masks_path", default=None, help="With --input: ground-truth masks (N, C, H, W), boolean or 0/1."
)
@click.option(
    "--labels",
    "labels_path",
    default=None,
    help="With --input: the N labels (.npy or text); without them the predicted class is explained.",
)
@click.option(
    "--methods",
    default=None,
    callback=parse_names(METHODS, "method"),
    help=f"Comma-separated methods (default: every one that applies to the model; lrp:zplus only by "
    f"name; the controls random and input are always added): {','.join(METHODS)}.",
)
@click.option(
    "--metrics",
    default=",".join(METRICS),
    show_default=True,
    callback=parse_names(METRICS, "metric"),
    help="Comma-separated metrics (listed above).",
)
@click.option(
    "--steps",
    type=click.IntRange(1, 1000),
    default=16,
    show_default=True,
    help="Deletion/insertion steps: equal fractions of the positions from 0 to 1.",
)
@click.option(
    "--substrate",
    type=click.Choice(list(SUBSTRATES)),
    default="zero",
    show_default=True,
    help="Deletion and LeRF: what removed positions become: zero, each channel's mean, or a Gaussian blur of "
    "the input (sigma = the image's side, zero beyond the edges).",
)
@click.option(
    "--insertion-substrate",
    type=click.Choice(list(SUBSTRATES)),
    default="blur",
    show_default=True,
    help="Insertion: the canvas the most relevant positions are restored into (a blur, as in Petsiuk et al.).",
)
@click.option(
    "--mask-level",
    type=click.Choice(MASK_LEVELS),
    default="pixel",
    show_default=True,
    help="Localisation: at pixels (the map summed over channels, the mask of any channel) or per channel.",
)
@click.option(
    "--draws",
    type=click.IntRange(1, 100),
    default=3,
    show_default=True,
    help="MPRT: independent seeded re-initialisations; a probe's value is the mean over them, and the "
    "interval resamples draws and probes.",
)
@click.option(
    "--mprt-order",
    type=click.Choice(MPRT_ORDERS),
    default="cascading",
    show_default=True,
    help="MPRT: re-initialise layers cumulatively from the output down, or one at a time.",
)
@click.option(
    "--resamples",
    type=click.IntRange(0, 100_000),
    default=1000,
    show_default=True,
    help="Bootstrap resamples for the 95% intervals (0: no interval).",
)
@click.option("--include-wrong", is_flag=True, help="Keep misclassified probes in the localisation means.")
@click.option(
    "--per-probe",
    is_flag=True,
    help="With --format json: every metric's value per probe, and each probe's label, target and noise.",
)
@batch_size_option("probes, perturbation steps and noisy copies")
@sharing_options(workers="auto")
@evaluation_method_options
@output_options
@export_option
@figure_file_options
@click.pass_context
def evaluate(
    ctx, task, model_path, count, noise, seed, input_path, masks_path, labels_path, methods, metrics, steps, substrate,
    insertion_substrate, mask_level, draws, mprt_order, resamples, include_wrong, per_probe, batch_size, sharing,
    options, fmt, no_color, export,
):  # fmt: skip
    """`saliency-cli evaluate` (its help is `_HELP`)."""
    from dataclasses import replace

    from ..errors import UserError

    if input_path is None and (masks_path or labels_path):
        raise UserError("--masks and --labels go with --input")
    if input_path is not None and (given(ctx, "count") or given(ctx, "noise")):
        raise UserError("--probes and --noise draw probes from the task; with --input they do not apply")
    sharing.check(batch=True)
    if per_probe and fmt != "json":
        raise UserError("--per-probe adds to the JSON document: add --format json")
    if given(ctx, "ig_steps") and options.quadrature == "exact":
        raise UserError("--ig-steps sets a quadrature rule's steps: exact IG has none")

    from .figure import figure_request, save_evaluation_figure

    figure = figure_request()
    net = load_network(task, model_path)
    methods = _check_methods(net, methods, options)
    if "ig" in methods:
        _check_quadrature(net, options, given(ctx, "ig_steps"))
    probes = _probes(
        net, task, count if given(ctx, "count") else None, noise, seed, input_path, masks_path, labels_path
    )
    if probes.masks is None:
        metrics = _without_localisation(ctx, metrics)
    from .work import check_evaluate_work

    work = check_evaluate_work(net, len(probes), methods, metrics, options, steps, resamples, draws)

    from ..evaluation.document import evaluation_document
    from ..evaluation.run import BLOCK, Settings
    from .sharing import resolve_workers

    workers = resolve_workers(sharing.workers, -(-len(probes) // BLOCK), sharing.scheduler, work)
    sharing = replace(sharing, workers=workers)
    from ..evaluation.summary import summarise

    settings = Settings(
        methods, metrics, steps, substrate, mprt_order, seed, resamples, include_wrong, workers, options,
        draws=draws, insertion_substrate=insertion_substrate, mask_level=mask_level,
    )  # fmt: skip
    summary = summarise(_run(net, probes, settings, sharing))

    def view(color):
        from ..render.evaluate import evaluate_view

        return evaluate_view(summary, color)

    # NOTE: ten metric columns need more than 80 characters: the tables split their columns over parts that
    # repeat the method (render/tables.py), so no line is wider than the terminal (or the file) and none is cropped.
    if fmt == "json":
        save_export(view, "saliency-cli evaluate", no_color, export)
        emit_json("evaluate", evaluation_document(summary, net, _settings_doc(settings, net, probes), per_probe))
    else:
        print_report(view, "saliency-cli evaluate", no_color, export)
    save_evaluation_figure(figure, summary, net)


def _check_quadrature(net, options, steps_given: bool) -> None:
    from ..errors import UserError
    from ..evaluation.methods import EXACT_UNITS, switching_units
    from ..methods.integrated import exact_ig_available
    from .common import note

    reason = exact_ig_available(net, "logit")
    if options.quadrature == "exact" and reason is not None:
        raise UserError(reason)
    used = options.ig_quadrature(net)
    if options.quadrature == "auto" and used == "exact" and steps_given:
        raise UserError("--ig-steps sets a quadrature rule's steps, and IG is exact on this model: add --quadrature")
    if options.quadrature == "auto" and used != "exact":
        why = (
            reason
            or f"the model has {switching_units(net)} relu/pooling units (> {EXACT_UNITS}): its exact paths are long"
        )
        note(f"note: {why}; IG uses --quadrature {used} --ig-steps {options.ig_steps} (--quadrature exact forces it)")


def _check_methods(net, methods, options) -> tuple[str, ...]:
    from ..errors import UserError
    from ..evaluation.methods import default_methods

    if methods is None:
        return tuple(default_methods(net, options))
    for name in methods:
        reason = METHODS[name].applies(net, options)
        if reason is not None:
            raise UserError(f"--methods {name} does not apply to this model: {reason}")
    # NOTE: the controls are always scored, so that every number can be read against chance.
    chosen = [name for name in methods if not METHODS[name].control]
    return (*chosen, *(name for name, m in METHODS.items() if m.control))


def _probes(net, task, count, noise, seed, input_path, masks_path, labels_path):
    from ..errors import UserError
    from ..evaluation.probes import held_out_probes, task_probes, user_probes
    from ..inputs import check_finite_pass, read_npy
    from ..tasks import no_task_for, task_of
    from .batch import read_input_array, read_labels

    if input_path is None:
        known = task_of(net)  # NOTE: the file's task name counts only with the task's input shape and classes
        if known is None:
            raise UserError(f"{no_task_for(net, 'probe generator')}; pass --input (with --masks and --labels)")
        if not known.generated:
            refuse_unused(click.get_current_context(), ["noise"], _FIXED.format(task=known.name))
            return held_out_probes(known, count)
        return task_probes(known, 200 if count is None else count, noise, seed)
    if masks_path == "-" and input_path == "-":
        raise UserError("--input - and --masks - cannot both read standard input")
    x, name = read_input_array(net, input_path)
    masks = None if masks_path is None else read_npy(masks_path, stdin_bytes())
    labels = None if labels_path is None else read_labels(net, x, labels_path)
    probes = user_probes(x, masks, labels, net.input_shape, name)
    check_finite_pass(net, probes.x, name)
    return probes


_FIXED = "sets a blob task's generator; task {task} is evaluated on its held-out images"


def _without_localisation(ctx, metrics: tuple[str, ...]) -> tuple[str, ...]:
    """Probes without ground-truth masks: the metrics less the localisation ones (the report says why); asking
    for one of those, or for --include-wrong (which only the localisation means read), is refused."""
    from ..errors import UserError
    from ..evaluation.metrics import LOCALISATION

    local = [m for m in metrics if METRICS[m].family == LOCALISATION]
    if local and given(ctx, "metrics"):
        raise UserError(f"--metrics {local[0]} needs ground-truth masks, and these probes have none")
    if given(ctx, "include_wrong"):
        raise UserError("--include-wrong keeps misclassified probes in the localisation means: these probes have none")
    return tuple(m for m in metrics if m not in local)


def _run(net, probes, settings, sharing):
    """The evaluation on the blocks' executor (`sharing`: cli/sharing.py's options), with a progress bar on a
    terminal's stderr (not with --quiet)."""
    from ..evaluation.run import evaluate as run
    from ..evaluation.run import work_units
    from .progress import progress_bar
    from .sharing import open_blocks

    total = work_units(probes, settings)
    with open_blocks("evaluate", sharing) as blocks, progress_bar("evaluate: methods x blocks", total) as update:
        done = [0]

        def advance(units: int) -> None:
            done[0] += units
            update(done[0], total)

        return run(net, probes, settings, progress=advance, blocks=blocks)


def _settings_doc(settings, net, probes) -> dict:
    """What was asked for, in the JSON document (never the worker count: it changes no number)."""
    o = settings.options
    return {
        "source": probes.source,
        "ground_truth_masks": probes.masks is not None,
        "noise": None if probes.noise is None else sorted(set(probes.noise.tolist())),
        "methods": list(settings.methods),
        "metrics": list(settings.metrics),
        "steps": settings.steps,
        "substrate": settings.substrate,
        "insertion_substrate": settings.insertion_substrate,
        "mask_level": settings.mask_level,
        "mprt_order": settings.mprt_order,
        "draws": settings.draws,
        "resamples": settings.resamples,
        "include_wrong": settings.include_wrong,
        "batch_size": o.batch_size,
        "smoothgrad": {"samples": o.samples, "noise_frac": o.noise_frac, "seed": o.seed},
        "ig": {"quadrature": o.ig_quadrature(net), "steps": None if o.ig_quadrature(net) == "exact" else o.ig_steps,
               "baseline": o.baseline},
        "lrp": {"eps": o.eps, "gamma": o.gamma, "alpha": o.alpha, "beta": o.alpha - 1.0, "pool": o.pool},
        "cam_layer": o.cam_layer,
    }  # fmt: skip
