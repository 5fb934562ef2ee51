"""`saliency-cli evaluate`: which explanation to believe — localisation, faithfulness and sanity on ground truth."""

from __future__ import annotations

import click

from ..evaluation.metrics import METRICS
from .batch import batch_size_option
from .common import emit_json, load_network, note, stdin_bytes
from .evaluate_options import PROBE_SET, SCORING, probe_set_options, scoring_options
from .export import export_option, print_report, save_export
from .figure import FILE_OPTIONS, figure_file_options
from .help import GroupedCommand
from .method_options import EVALUATION_METHOD_OPTIONS, evaluation_method_options
from .options import given, model_options, output_options
from .sharing import NAMES as SHARING
from .sharing import sharing_options

#: `evaluate --help` in sections.
_GROUPS = [
    ("Model and probes", ["task", "model_path", "onnx_output", *PROBE_SET]),
    ("What is scored", SCORING),
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


@click.command(cls=GroupedCommand, option_groups=_GROUPS, help=_HELP)
@model_options("blobs8x8")
@probe_set_options
@scoring_options
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
    ctx, task, model_path, count, noise, seed, input_path, masks_path, labels_path, methods, scoring, per_probe,
    batch_size, sharing, options, fmt, no_color, export,
):  # fmt: skip
    """`saliency-cli evaluate` (its help is `_HELP`)."""
    from dataclasses import replace

    from ..errors import UserError
    from ..evaluation.methods import chosen_methods, ig_rule_note
    from ..evaluation.metrics import metrics_without_masks
    from ..evaluation.probes import model_task_probes
    from ..evaluation.run import BLOCK, Settings
    from ..evaluation.summary import summarise
    from .figure import figure_request, save_evaluation_figure
    from .work import check_evaluate_work

    if input_path is None and (masks_path or labels_path):
        raise UserError("--masks and --labels go with --input")
    if input_path is not None and (given(ctx, "count") or given(ctx, "noise")):
        raise UserError("--probes and --noise draw probes from the task; with --input they do not apply")
    sharing.check(batch=True)
    if per_probe and fmt != "json":
        raise UserError("--per-probe adds to the JSON document: add --format json")
    if given(ctx, "ig_steps") and options.quadrature == "exact":
        raise UserError("--ig-steps sets a quadrature rule's steps: exact IG has none")

    figure = figure_request()
    net = load_network(task, model_path)
    methods = chosen_methods(net, methods, options)
    if "ig" in methods and (why := ig_rule_note(net, options, given(ctx, "ig_steps"))):
        note(why)
    if input_path is None:
        count = count if given(ctx, "count") else None
        probes = model_task_probes(net, count, noise, seed, given(ctx, "noise"))
    else:
        probes = _user_probes(net, input_path, masks_path, labels_path)
    if probes.masks is None:
        scoring["metrics"] = metrics_without_masks(
            scoring["metrics"], given(ctx, "metrics"), given(ctx, "include_wrong")
        )
    settings = Settings(methods, seed=seed, options=options, **scoring)
    sharing = sharing.resolved(-(-len(probes) // BLOCK), check_evaluate_work(net, len(probes), settings))
    settings = replace(settings, workers=sharing.workers)
    summary = summarise(_run(net, probes, settings, sharing))

    def view(color):
        from ..render.evaluate import evaluate_view

        return evaluate_view(summary, color)

    # NOTE: ten metric columns need more than 80 characters: the tables split their columns over parts that
    # repeat the method (render/tables.py), so no line is wider than the terminal (or the file) and none is cropped.
    if fmt == "json":
        from ..evaluation.document import evaluation_document

        save_export(view, "saliency-cli evaluate", no_color, export)
        emit_json("evaluate", evaluation_document(summary, net, per_probe))
    else:
        print_report(view, "saliency-cli evaluate", no_color, export)
    save_evaluation_figure(figure, summary, net)


def _user_probes(net, input_path: str, masks_path: str | None, labels_path: str | None):
    """The probes of --input, with --masks and --labels when given."""
    from ..errors import UserError
    from ..evaluation.probes import user_probes
    from ..inputs import check_finite_pass, model_layout, read_npy
    from .batch import read_input_array, read_labels

    if masks_path == "-" and input_path == "-":
        raise UserError("--input - and --masks - cannot both read standard input")
    x, name = read_input_array(net, input_path)
    masks = None if masks_path is None else model_layout(net, read_npy(masks_path, stdin_bytes()))
    labels = None if labels_path is None else read_labels(net, x, labels_path)
    probes = user_probes(x, masks, labels, net.input_shape, name)
    check_finite_pass(net, probes.x, name)
    return probes


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
