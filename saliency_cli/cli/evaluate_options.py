"""The options of `evaluate` that no other command has: the probe set (drawn from the task, or the user's
--input with --masks and --labels) and what is scored (the methods, the metrics and their settings)."""

from __future__ import annotations

import click

from ..evaluation.localisation import MASK_LEVELS
from ..evaluation.methods import METHODS
from ..evaluation.metrics import METRICS
from ..evaluation.sanity import MPRT_ORDERS
from ..evaluation.substrates import SUBSTRATES
from .options import compose, image_options, input_option, packed, parse_names, seed_option

#: The parameters of `probe_set_options` and `scoring_options`, for `evaluate --help`'s sections.
PROBE_SET = ["count", "noise", "seed", "input_path", "input_scale", "resize", "masks_path", "labels_path"]
SCORING = [
    *("methods", "metrics", "mask_level", "steps", "substrate", "insertion_substrate", "mprt_order", "draws"),
    *("include_wrong", "resamples"),
]


def _noise_levels(ctx, param, value: str) -> tuple[float, ...]:
    try:
        levels = tuple(float(v) for v in value.split(",") if v.strip())
    except ValueError:
        raise click.BadParameter(f"{value!r}: give comma-separated numbers such as 0.05,0.25,0.45") from None
    if not levels or len(levels) > 100 or not all(0.0 <= v <= 10.0 for v in levels):
        raise click.BadParameter(f"{value!r}: give 1 to 100 noise levels, each in [0, 10]")
    return levels


def _choice(name: str, choices, default: str, help: str):
    return click.option(name, type=click.Choice(list(choices)), default=default, show_default=True, help=help)


def probe_set_options(func):
    """--probes / --noise / --seed, or --input (with --input-scale, --resize) / --masks / --labels."""
    return compose(
        click.option(
            "--probes",
            "count",
            type=click.IntRange(1, 100_000),
            default=200,
            show_default=True,
            help="Probes drawn from the task's generator: class-balanced, spread over --noise, seeded by --seed "
            "(a stream that training never uses).",
        ),
        click.option(
            "--noise",
            default="0.05,0.25,0.45",
            show_default=True,
            callback=_noise_levels,
            help="Background noise levels the probes are spread over.",
        ),
        seed_option(
            "Seeds the probes, the random control, tie-breaking, MPRT's weights, the bootstrap and SmoothGrad's noise."
        ),
        input_option(
            "Evaluate on your own batch: a .npy array (N, C, H, W) ('-' reads stdin), or one image file (see "
            "--input-scale and --resize); without --masks, every metric but localisation's."
        ),
        image_options,
        click.option(
            "--masks", "masks_path", default=None, help="With --input: ground-truth masks (N, C, H, W), boolean or 0/1."
        ),
        click.option(
            "--labels",
            "labels_path",
            default=None,
            help="With --input: the N labels (.npy or text); without them the predicted class is explained.",
        ),
    )(func)


def scoring_options(func):
    """--methods, and --metrics ... --include-wrong handed to the command as one `scoring` dict (the keywords
    of `evaluation.run.Settings` they set)."""
    return compose(
        click.option(
            "--methods",
            default=None,
            callback=parse_names(METHODS, "method"),
            help=f"Comma-separated methods (default: every one that applies to the model; lrp:zplus only by "
            f"name; the controls random and input are always added): {','.join(METHODS)}.",
        ),
        packed(
            "scoring",
            dict,
            click.option(
                "--metrics",
                default=",".join(METRICS),
                show_default=True,
                callback=parse_names(METRICS, "metric"),
                help="Comma-separated metrics (listed above).",
            ),
            click.option(
                "--steps",
                type=click.IntRange(1, 1000),
                default=16,
                show_default=True,
                help="Deletion/insertion steps: equal fractions of the positions from 0 to 1.",
            ),
            _choice(
                "--substrate",
                SUBSTRATES,
                "zero",
                "Deletion and LeRF: what removed positions become: zero, each channel's mean, or a Gaussian blur of "
                "the input (sigma = the image's side, zero beyond the edges).",
            ),
            _choice(
                "--insertion-substrate",
                SUBSTRATES,
                "blur",
                "Insertion: the canvas the most relevant positions are restored into (a blur, as in Petsiuk et al.).",
            ),
            _choice(
                "--mask-level",
                MASK_LEVELS,
                "pixel",
                "Localisation: at pixels (the map summed over channels, the mask of any channel) or per channel.",
            ),
            click.option(
                "--draws",
                type=click.IntRange(1, 100),
                default=3,
                show_default=True,
                help="MPRT: independent seeded re-initialisations; a probe's value is the mean over them, and the "
                "interval resamples draws and probes.",
            ),
            _choice(
                "--mprt-order",
                MPRT_ORDERS,
                "cascading",
                "MPRT: re-initialise layers cumulatively from the output down, or one at a time.",
            ),
            click.option(
                "--resamples",
                type=click.IntRange(0, 100_000),
                default=1000,
                show_default=True,
                help="Bootstrap resamples for the 95% intervals (0: no interval).",
            ),
            click.option("--include-wrong", is_flag=True, help="Keep misclassified probes in the localisation means."),
        ),
    )(func)
