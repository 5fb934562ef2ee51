"""`saliency-cli explore`: the interactive explorer (Textual, the optional extra `explore`)."""

from __future__ import annotations

import re
import sys

import click

from .common import load_network, note
from .help import HelpCommand
from .options import (
    given,
    image_options,
    input_option,
    model_options,
    no_color_option,
    quiet_option,
    seed_option,
    target_option,
)


def _lrp_choices() -> list[str]:
    from ..explore.state import LRP_CHOICES

    return list(LRP_CHOICES)


def _parse_size(ctx, param, value: str) -> tuple[int, int]:
    match = re.fullmatch(r"([0-9]{2,3})x([0-9]{2,3})", value.strip())  # NOTE: ASCII digits (\d takes '٨٠')
    if not match or not (60 <= int(match[1]) <= 400 and 20 <= int(match[2]) <= 200):
        raise click.BadParameter(f"{value!r}: give WIDTHxHEIGHT in columns and rows, e.g. 160x45 (60..400 x 20..200)")
    return int(match[1]), int(match[2])


def _check_screenshot(ctx, param, value: str | None):
    from ..errors import UserError
    from ..files import check_target

    if value is None:
        return None
    if not value.lower().endswith(".svg"):
        raise UserError(f"--screenshot {value}: give a file name ending in .svg")
    return check_target(value, "--screenshot")


@click.command(cls=HelpCommand)
@model_options("blobs8x8")
@input_option(
    "Explore this .npy array, (N, C, H, W) or (C, H, W), or one image file (.png, .jpg, .jpeg, .pgm, .ppm; "
    "see --input-scale and --resize), instead of generated probes; '-' reads a .npy array from stdin."
)
@image_options
@click.option(
    "--labels",
    "labels_path",
    default=None,
    help="With --input: the true class of each input (a .npy array or a text file of N integers).",
)
@click.option(
    "--probes",
    type=click.IntRange(1, 10_000),
    default=64,
    show_default=True,
    help="Generated probes: class-balanced, spread over the noise levels 0.05, 0.15, 0.3 and 0.45 (digits: the "
    "first N held-out images).",
)
@seed_option("Seeds the probes and `r`.")
@click.option("--index", type=click.IntRange(min=0), default=0, show_default=True, help="The sample shown first.")
@target_option
@click.option("--rule", default="epsilon", show_default=True, help="LRP rule or composite shown first (`l` cycles).")
@click.option(
    "--quadrature",
    type=click.Choice(["exact", "right"]),
    default="exact",
    show_default=True,
    help="IG shown first: exact, or right-Riemann with --steps (`i` toggles; --steps alone selects right).",
)
@click.option(
    "--steps",
    type=click.IntRange(1, 4096),
    default=32,
    show_default=True,
    help="IG steps with right; given alone, it selects right (as in `saliency`).",
)
@click.option(
    "--screenshot",
    default=None,
    callback=_check_screenshot,
    help="Do not open the app: draw the first screen off-screen once every map is computed, save it as this "
    ".svg and exit (for scripts).",
)
@click.option(
    "--size",
    default="160x45",
    show_default=True,
    callback=_parse_size,
    help="With --screenshot: the screen's columns x rows.",
)
@no_color_option
@quiet_option
@click.pass_context
def explore(
    ctx, task, model_path, input_path, labels_path, probes, seed, index, target, rule, quadrature, steps, screenshot,
    size, no_color,
):  # fmt: skip
    """Explore a model interactively: every method's map for one sample at a time, in the terminal.

    A keyboard-driven app (Textual): step through a seeded, class-balanced set of generated probes at
    several noise levels (or your --input), choose the target class, the LRP rule and the IG
    quadrature, and see the prediction, the input and the vanilla, SmoothGrad, IG, LRP and Grad-CAM
    maps side by side, each with its check (IG gap, LRP unexplained remainder) and its mass on the
    true blob; tabs show every spatial layer's feature maps, the LRP ledger and the measured cost.
    Maps are computed in the background and cached. Press ? for the keys, q to quit, ctrl+s to save
    the screen as SVG. Needs the extra: pip install 'saliency-cli[explore]'.

    \b
    Example:
      saliency-cli explore --task blobs8x8-gap --probes 32 --seed 1
      saliency-cli explore --index 5 --rule gamma --screenshot explore.svg
    """
    from ..errors import UserError
    from ..extras import import_extra

    import_extra("textual", "explore", "explore")
    if labels_path is not None and input_path is None:
        raise UserError("--labels names the classes of --input's arrays: give --input too")
    if input_path is not None and given(ctx, "probes"):
        raise UserError("--probes sizes the generated set: drop it with --input")
    if rule not in _lrp_choices():
        raise UserError(f"--rule {rule!r}: choose a rule or composite from {', '.join(_lrp_choices())}")
    if screenshot is None and input_path == "-":
        raise UserError(
            "--input - reads standard input, which the app needs for the keys: give a file, or --screenshot"
        )
    if screenshot is None and given(ctx, "size"):
        raise UserError("--size sets the screen of --screenshot; an open app takes the terminal's size")

    net = load_network(task, model_path)
    samples = _sample_set(net, input_path, labels_path, probes, seed)
    if index >= len(samples):
        raise UserError(f"--index {index} is out of range: the set has samples 0..{len(samples) - 1}")
    if target is not None and target >= net.num_classes:
        raise UserError(f"--target {target} is out of range: the model has classes 0..{net.num_classes - 1}")
    quadrature = _choose_quadrature(ctx, net, quadrature)
    if screenshot is None and not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UserError("explore is interactive: run it in a terminal, or give --screenshot FILE.svg")

    from ..explore.app import ExploreApp
    from ..explore.state import Selection
    from .common import colour_allowed

    # NOTE: a screenshot is in colour unless --no-color (as --export): the same options give the same bytes
    color = not no_color and (screenshot is not None or colour_allowed())
    selection = Selection(index=index, target=target, lrp=rule, quadrature=quadrature, steps=steps)
    app = ExploreApp(net, samples, selection, seed=seed, color=color, screenshot=screenshot)
    if screenshot is None:
        app.run()
        return
    app.run(headless=True, size=size)
    if not app.saved:
        raise UserError(f"--screenshot {screenshot}: the screen was not saved")
    backup = app.kept.get(screenshot)  # (a Path: `_check_screenshot` gives one)
    note(f"saved the screen to {screenshot}" + (f" (the previous file kept as {backup})" if backup else ""))


def _sample_set(net, input_path, labels_path, probes, seed):
    from ..explore.samples import generated_set, user_set

    if input_path is None:
        return generated_set(net, probes, seed)
    from .batch import read_input_array, read_labels

    x, name = read_input_array(net, input_path)
    labels = None if labels_path is None else read_labels(net, x, labels_path)
    return user_set(net, x, name, labels)


def _choose_quadrature(ctx, net, quadrature: str) -> str:
    """Exact IG where the network allows it: asked for, refused with the reason; by default, right instead."""
    from ..errors import UserError
    from ..methods.integrated import exact_ig_available

    typed = given(ctx, "quadrature")
    if not typed and given(ctx, "steps"):
        # NOTE: as in `saliency`: exact IG has no steps, so --steps alone asks for the right-Riemann rule
        return "right"
    reason = exact_ig_available(net) if quadrature == "exact" else None
    if reason is None:
        return quadrature
    if typed:
        raise UserError(reason)
    note(f"note: {reason}; IG uses the right-Riemann rule")
    return "right"
