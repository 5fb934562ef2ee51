"""`--figure FILE.png|.pdf|.svg` and the options that shape it, shared by saliency, lrp, cam, features and
evaluate. Everything is checked before any work (the extension, the file, the extra, the colour maps); the
figure is drawn from the command's reports after its usual output, and written atomically, never over an
existing file without --force.

The options are not parameters of the commands' functions: they are kept in the click context
(`ctx.meta`) and read back as one `FigureRequest` by `figure_request`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

import click

from .options import compose, given
from .params import Number

if TYPE_CHECKING:
    from pathlib import Path

_META = "saliency_cli.figure_options"

#: Most pixels a figure may have (width x height at --dpi), checked before drawing.
MAX_FIGURE_PIXELS = 60_000_000


def _keep(ctx, param, value):
    ctx.meta.setdefault(_META, {})[param.name] = value
    return value


def _option(*names, **kwargs):
    return click.option(*names, expose_value=False, callback=_keep, **kwargs)


#: The figure options of every command, for --help sections.
FILE_OPTIONS = ["figure", "force", "dpi", "panel_size"]
MAP_OPTIONS = ["cmap", "cmap_signed", "scale", "overlay", "figure_rows"]


def figure_file_options(func):
    """--figure FILE / --force / --dpi / --panel-size."""
    return compose(
        _option(
            "--figure",
            metavar="FILE",
            default=None,
            help="Also draw a figure to keep, FILE.png, .pdf or .svg by the extension (matplotlib, from the extra "
            "`figures`; the same bytes for the same input). An existing FILE is kept unless --force.",
        ),
        _option("--force", is_flag=True, help="Replace an existing --figure FILE (the old one is kept as FILE.bak)."),
        _option(
            "--dpi", type=click.IntRange(50, 600), default=150, show_default=True, help="--figure's pixels per inch."
        ),
        _option(
            "--panel-size",
            type=Number(1, 8),
            default=2.0,
            show_default=True,
            help="--figure's panel width in inches (each panel the same: the figure grows with its rows).",
        ),
    )(func)


def map_figure_options(func):
    """figure_file_options, and --cmap / --cmap-signed / --scale / --overlay / --figure-rows."""
    return compose(
        figure_file_options,
        _option(
            "--cmap",
            default="viridis",
            show_default=True,
            help="--figure's colour map of unsigned maps (any of matplotlib's, e.g. magma, cividis, gray).",
        ),
        _option(
            "--cmap-signed",
            default="bwr",
            show_default=True,
            help="--figure's colour map of signed maps, on a range symmetric around 0 (e.g. RdBu_r, coolwarm).",
        ),
        _option(
            "--scale",
            type=click.Choice(["own", "shared"]),
            default="own",
            show_default=True,
            help="--figure's ranges: each method's own (its channels share one), or one range shared by every map "
            "of the figure.",
        ),
        _option("--overlay", is_flag=True, help="--figure: draw each map over the greyscale input, see-through."),
        _option(
            "--figure-rows",
            type=click.IntRange(1, 256),
            default=8,
            show_default=True,
            help="With a batch --input: the figure shows its first K probes, one row each.",
        ),
    )(func)


@dataclass(frozen=True)
class FigureRequest:
    """A checked --figure: where, in which format, with which colours, layout and rows."""

    path: Path
    kind: str
    force: bool
    colours: object  # render.figures.colours.Colours
    layout: object  # render.figures.grid.Layout
    rows: int = 8


def figure_request(batch: bool | None = None) -> FigureRequest | None:
    """The checked --figure of this command line, or None; a UserError for any problem, before any work.

    `batch` says whether the probes came as a batch (None: the command has no batches and no map options).
    """
    from ..errors import UserError

    ctx = click.get_current_context()
    values = ctx.meta.get(_META, {})
    if values.get("figure") is None:
        for name in values:
            if name != "figure" and given(ctx, name):
                raise UserError(f"--{name.replace('_', '-')} shapes a figure: add --figure FILE.png|.pdf|.svg")
        return None
    spec = values["figure"]
    from pathlib import Path

    from ..files import check_new
    from ..render.figures.backend import FIGURE_FORMATS, matplotlib

    kind = FIGURE_FORMATS.get(Path(spec).suffix.lower())
    if kind is None:
        raise UserError(f"--figure {spec}: give a file name ending in .png, .pdf or .svg")
    path = check_new(spec, "--figure", values["force"])
    export = ctx.params.get("export")
    if export is not None and Path(os.path.abspath(export)) == Path(os.path.abspath(path)):
        raise UserError(f"--figure {spec} and --export {export} name the same file: give each its own")
    matplotlib()  # the extra, checked before any work
    if batch is False and given(ctx, "figure_rows"):
        raise UserError("--figure-rows picks the probes of a batch --input (N, C, H, W): drop it")
    from ..render.figures.colours import Colours, check_cmap
    from ..render.figures.grid import Layout

    colours = None
    if "cmap" in values:
        colours = Colours(
            unsigned=check_cmap(values["cmap"], "--cmap"),
            signed=check_cmap(values["cmap_signed"], "--cmap-signed"),
            scale=values["scale"],
            overlay=values["overlay"],
        )
    layout = Layout(size=values["panel_size"], dpi=values["dpi"])
    return FigureRequest(path, kind, values["force"], colours, layout, values.get("figure_rows", 8))


def check_pixels(request: FigureRequest, inches: tuple[float, float]) -> None:
    """Refuse a figure of more than MAX_FIGURE_PIXELS pixels before it is drawn."""
    from ..errors import UserError

    width, height = (round(n * request.layout.dpi) for n in inches)
    if width * height > MAX_FIGURE_PIXELS:
        raise UserError(
            f"--figure would be {width}x{height} pixels (more than {MAX_FIGURE_PIXELS:,}): lower --figure-rows, "
            "--dpi or --panel-size"
        )


def write_figure(request: FigureRequest, data: bytes) -> None:
    """The figure's bytes to its file (atomically; see `files.write_output`), and a note saying where."""
    from ..files import write_output
    from .common import note

    backup = write_output(request.path, data, "--figure", request.force)
    note(f"wrote the figure {request.path}" + (f" (the previous one kept as {backup})" if backup else ""))


def save_probe_figure(request: FigureRequest | None, command: str, reports) -> None:
    """Draw and write the figure of a probe command's reports (cam: one list of reports per probe), its first
    `request.rows` probes; nothing without --figure."""
    if request is None:
        return
    from ..render.figures.draw import PANELS, probe_figure_bytes
    from ..render.figures.grid import figure_inches
    from ..render.probe import task_words

    shown = list(reports)[: request.rows]
    first = shown[0][0] if command == "cam" else shown[0]
    check_pixels(request, figure_inches(len(shown), len(PANELS[command](shown[0])), request.layout))
    model = _model_name(first.model["path"]) if first.model.get("path") else "(in memory)"
    more = f", the first {len(shown)} of {len(reports)} probes" if len(shown) < len(reports) else ""
    heading = f"saliency-cli {command}\nmodel {model} ({task_words(first.model)}){more}"
    write_figure(request, probe_figure_bytes(command, shown, heading, request.colours, request.layout, request.kind))


def save_evaluation_figure(request: FigureRequest | None, summary, net) -> None:
    """Draw and write `evaluate`'s figure of `summary` (see `render.figures.evaluation`); nothing without --figure."""
    if request is None:
        return
    from ..render.figures.backend import figure_bytes, pinned
    from ..render.figures.evaluation import evaluation_figure, evaluation_inches
    from ..render.probe import task_words

    ev = summary.evaluation
    model = _model_name(net.path) if getattr(net, "path", None) else "(in memory)"
    heading = (
        f"saliency-cli evaluate\nmodel {model} ({task_words({'task': net.task})}), {len(ev.probes)} probes, "
        f"means with {ev.settings.resamples}-resample bootstrap 95% intervals"
    )
    check_pixels(request, evaluation_inches(summary, request.layout, heading))
    with pinned():
        data = figure_bytes(evaluation_figure(summary, heading, request.layout), request.kind)
    write_figure(request, data)


def _model_name(path) -> str:
    from pathlib import Path

    return Path(path).name
