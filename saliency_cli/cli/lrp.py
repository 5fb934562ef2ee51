"""`saliency-cli lrp`: Layer-wise Relevance Propagation with a conservation ledger."""

from __future__ import annotations

import math

import click

from ..methods.lrp.composites import COMPOSITES
from ..methods.lrp.first import FIRST_RULES
from ..methods.lrp.rules import RULES
from .batch import batch_size_option, document_options, targets_option
from .common import check_probe_choice, load_network, print_stderr, stdin_bytes
from .export import export_option
from .figure import FILE_OPTIONS, MAP_OPTIONS, map_figure_options
from .help import GroupedCommand
from .method_options import lrp_settings_options, pool_rule_option
from .options import WHAT_IS_EXPLAINED, dtype_option, given, model_options, output_options, probe_options, top_k_option
from .params import Number
from .sharing import NAMES as SHARING
from .sharing import sharing_options

_RULE_HELP = "; ".join(f"{name}: {cls.summary}" for name, cls in sorted(RULES.items()))
_COMPOSITE_HELP = "; ".join(f"{name}: {p.summary}" for name, p in sorted(COMPOSITES.items()))
_FIRST_HELP = "; ".join(f"{name}: {cls.summary}" for name, cls in sorted(FIRST_RULES.items()))


#: `lrp --help` in sections.
_GROUPS = [
    ("What is explained", [*WHAT_IS_EXPLAINED, "target", "targets_path"]),
    ("Rules", ["rule", "composite", "first_rule", "last_rule", "pool_rule", "compare", "no_bias"]),
    ("Rule settings", ["eps", "gamma", "alpha", "low", "high"]),
    (
        "Checks and output",
        ["max_residual", "top_k", "fmt", "fields", "compact", "no_color", "quiet", "export"],
    ),
    ("Figure", [*FILE_OPTIONS, *MAP_OPTIONS]),
    ("Work", ["batch_size", "dtype", *SHARING]),
]

#: setting -> the rules that use it, for the message refusing a setting no rule in use reads.
_USED_BY = {
    name: sorted(r for r, cls in {**RULES, **FIRST_RULES}.items() if name in cls().params())
    for name in ("eps", "gamma", "alpha", "low", "high")
}


def _or(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def _refuse_unused_settings(ctx, net, rule, composite, first_rule, last_rule, pool_rule, compare) -> None:
    """One line (exit 2) for a rule setting the user gave that no rule applied to this model reads."""
    from ..errors import UserError
    from ..reports.lrp import COMPARE, settings_in_use

    rules = COMPARE if compare else (rule,)
    used = settings_in_use(net, rules=rules, composite=composite, first=first_rule, last=last_rule, pool=pool_rule)
    if composite is not None:
        what = f"--composite {composite}"
    else:
        what = "--compare" if compare else f"--rule {rule}"
    if first_rule is not None:
        what += f" with --first-rule {first_rule}"
    if last_rule is not None:
        what += f" {'and' if first_rule else 'with'} --last-rule {last_rule}"
    model = f"the {net.task} model" if net.task else "this model"
    for name in ("eps", "gamma", "alpha", "low", "high"):
        if given(ctx, name) and name not in used:
            rules_ = _or(_USED_BY[name])
            why = f"no layer gets the {rules_} rule with a free {name}" if composite else f"it sets the {rules_} rule"
            raise UserError(f"--{name} is not used by {what} on {model}: {why}; drop it")
    if given(ctx, "pool_rule") and "pool" not in used:
        raise UserError(f"--pool-rule is not used: {model} has no max-pooling layer; drop it")


@click.command(cls=GroupedCommand, option_groups=_GROUPS)
@model_options("blobs6x6")
@probe_options
@targets_option
@click.option(
    "--rule",
    type=click.Choice(sorted(RULES)),
    default="epsilon",
    show_default=True,
    help=f"One rule for every dense and conv2d layer ({_RULE_HELP}).",
)
@click.option(
    "--composite",
    type=click.Choice(sorted(COMPOSITES)),
    default=None,
    help=f"A rule per layer type instead of --rule ({_COMPOSITE_HELP}).",
)
@click.option(
    "--first-rule",
    type=click.Choice(sorted(FIRST_RULES)),
    default=None,
    help="Rule for the first conv2d or dense layer(s), those the input reaches through no other such layer, "
    f"replacing that of --rule or --composite ({_FIRST_HELP}).",
)
@click.option(
    "--last-rule",
    type=click.Choice(sorted(RULES)),
    default=None,
    help="Rule for the last conv2d or dense layer(s), those whose output reaches the logits through no other "
    "such layer, replacing that of --rule or --composite (e.g. epsilon on the last layer of --rule gamma).",
)
@pool_rule_option
@click.option("--low", type=Number(-1e6, 1e6), default=None, help="Lower zbox bound (default: the input's min).")
@click.option("--high", type=Number(-1e6, 1e6), default=None, help="Upper zbox bound (default: the input's max).")
@lrp_settings_options(refused=True)
@click.option("--compare", is_flag=True, help="Run epsilon, gamma and alpha-beta side by side (instead of --rule).")
@click.option("--no-bias", is_flag=True, help="Biases take no part in the relevance pass (z computed without b).")
@click.option(
    "--max-residual",
    type=Number(0),
    default=None,
    help="Exit with code 1 when the largest unexplained ledger residual exceeds this (e.g. 1e-9).",
)
@top_k_option("Positions")
@batch_size_option()
@dtype_option("Compute dtype: LRP computes in float64 only, which its conservation ledger needs (float32 is refused).")
@sharing_options
@output_options(formats=("text", "json", "jsonl"))
@document_options
@export_option
@map_figure_options
@click.pass_context
def lrp(
    ctx,
    task,
    model_path,
    probe,
    probe_seed,
    input_path,
    target,
    targets_path,
    rule,
    composite,
    first_rule,
    last_rule,
    pool_rule,
    low,
    high,
    eps,
    gamma,
    alpha,
    compare,
    no_bias,
    max_residual,
    top_k,
    batch_size,
    dtype,
    sharing,
    fmt,
    no_color,
    fields,
    compact,
    export,
):
    """Explain a probe, or a batch of probes, with Layer-wise Relevance Propagation and check conservation.

    The explained class's logit is sent back layer by layer: --rule on every dense and conv2d
    layer, or --composite for a rule per layer type (first match wins), optionally with
    --first-rule on the first layer and --last-rule on the last. Max pooling follows --pool-rule,
    global average pooling shares relevance in proportion to its inputs, and relu, flatten and
    softmax pass relevance through. The ledger shows, per layer, the rule used, sum R_out and sum R_in and where the
    difference went (bias, stabiliser, dropped zero-denominator terms); what remains is the
    unexplained residual.

    A layer without a rule would be listed as SKIPPED (no rule) and, where it changes the shape,
    stop the walk with exit code 1 (as when --max-residual fails); every layer type of the
    shipped models has a rule.

    An --input of shape (N, C, H, W) is a batch, walked N probes at a time (up to --batch-size):
    the text output is one summary row per probe, and --format jsonl gives one document per line.

    \b
    Example:
      saliency-cli lrp --rule gamma --probe clean
      saliency-cli lrp --task blobs8x8 --composite epsilon-gamma-box
      saliency-cli lrp --task blobs8x8 --input batch.npy --targets labels.npy --format jsonl --compact
    """
    from ..errors import UserError
    from ..reports.lrp import COMPARE, FIELDS, lrp_document, lrp_reports
    from .batch import check_document_options, choose_targets, load_probes, show_reports
    from .figure import figure_request, save_probe_figure
    from .sharing import keywords_block, map_probe_blocks, part_of, probe_blocks

    if dtype != "float64":
        raise UserError(
            f"--dtype {dtype}: LRP computes in float64, which its conservation ledger needs (residuals of ~1e-16); "
            "drop --dtype (float32 is for saliency and cam)"
        )
    rule_given = given(ctx, "rule")
    if compare and rule_given:
        raise UserError("--compare runs all three rules: give --rule or --compare, not both")
    if composite is not None and (rule_given or compare):
        raise UserError("--composite chooses the rule of every layer: give --composite or --rule/--compare, not both")
    if low is not None and high is not None and not low < high:
        raise UserError(f"--low must be below --high, got --low {low:g} and --high {high:g}")
    zbox = first_rule == "zbox" or (composite is not None and COMPOSITES[composite].first == "zbox")
    if (low is not None or high is not None) and not zbox:
        raise UserError(
            "--low/--high bound the zbox rule, which is not in use "
            "(add --first-rule zbox or --composite epsilon-gamma-box)"
        )
    check_document_options(fmt, fields, compact, FIELDS)
    check_probe_choice(input_path)

    net = load_network(task, model_path)
    _refuse_unused_settings(ctx, net, rule, composite, first_rule, last_rule, pool_rule, compare)
    probes, batch = load_probes(net, probe, probe_seed, input_path, stdin_bytes())
    targets = choose_targets(net, target, targets_path, len(probes), batch)
    sharing.check(batch)
    figure = figure_request(batch)
    options = {
        "rules": COMPARE if compare else (rule,),
        "composite": composite,
        "target": targets,
        "pool": pool_rule,
        "first": first_rule,
        "last": last_rule,
        "low": low,
        "high": high,
        "eps": eps,
        "gamma": gamma,
        "alpha": alpha,
        "bias": not no_bias,
        "top_k": top_k,
        "compare": compare,
        "batch_size": batch_size,
    }
    if batch:
        parts = probe_blocks(len(probes))
        jobs = [(lrp_reports, probes[p], dict(options, target=part_of(targets, p))) for p in parts]
        reports = [r for block in map_probe_blocks("lrp", keywords_block, net, jobs, parts, sharing) for r in block]
    else:
        reports = lrp_reports(net, probes, **options)
    views = ("batch.lrp_batch_view", "lrp.compare_view" if compare else "lrp.lrp_view")
    output = {"fields": fields, "compact": compact, "no_color": no_color, "export": export}
    show_reports(fmt, "lrp", reports, batch, document=lrp_document, views=views, **output)
    save_probe_figure(figure, "lrp", reports)

    failures = []
    stopped = [r for r in reports if not r.complete]
    if stopped:
        where = f" on {len(stopped)} of {len(reports)} probes (first: {stopped[0].source})" if batch else ""
        failures.append(f"relevance could not be carried to the input{where} (see the ledger)")
    # NOTE: written so that a NaN residual (an overflow somewhere) fails the check too.
    over = [r for r in reports if max_residual is not None and not r.max_unexplained <= max_residual]
    if over:
        worst = max(over, key=lambda r: math.inf if math.isnan(r.max_unexplained) else r.max_unexplained)
        where = f" ({worst.source}; {len(over)} of {len(reports)} probes)" if batch else ""
        failures.append(
            f"largest unexplained residual {worst.max_unexplained:.3g}{where} exceeds --max-residual {max_residual:g}"
        )
    if failures:
        print_stderr(["; ".join(failures)])
        ctx.exit(1)
