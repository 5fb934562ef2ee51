"""`evaluate --figure`: the evaluation's summary (`evaluation.summary.Summary`) as one figure.

- First row: the mean deletion and insertion curves (probability of the explained class against the fraction
  of positions removed or inserted) and the MPRT curves (mean Spearman correlation with the original map after
  each randomisation step), one line per method.
- Then one row per metric family (localisation, faithfulness, sanity): a dot plot per metric, the methods as
  rows, each mean with its bootstrap interval as a bar; the direction (higher or lower is better) in the title.

Controls (random, input) are drawn in grey, dashed and with hollow markers, below a rule in the dot plots,
so that every number reads against chance. Fixed layout in inches, as the probe figures (see `grid`).
"""

from __future__ import annotations

import numpy as np

from .backend import new_figure
from .grid import HEAD, Layout

#: Colours of the methods, in order (matplotlib's tab10, then tab20's lighter halves); controls are grey.
_PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#17becf",
    "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94", "#f7b6d2", "#dbdb8d", "#9edae5",
)  # fmt: skip
_CONTROL_COLOURS = ("0.35", "0.6")

#: Inches: a curve panel's extra margins (axis labels), the legend's width, the method labels' width, the
#: title strip of a row, and the height of one method's row in a dot plot.
_CURVE_MARGIN, _LEGEND, _LABELS, _STRIP, _DOT_ROW = 0.6, 2.2, 1.9, 0.34, 0.16

#: Inches per character of the heading's bold first line (9 pt) and its second (7 pt), at most.
_CHARS = (0.085, 0.053)


class _Style:
    """Each method's colour, line style and marker fill: controls grey, dashed and hollow."""

    def __init__(self, methods: list[str], controls: list[str]):
        self.colours = {m: _PALETTE[i % len(_PALETTE)] for i, m in enumerate(methods)}
        self.colours.update({c: _CONTROL_COLOURS[i % 2] for i, c in enumerate(controls)})
        self.controls = set(controls)

    def line(self, method: str) -> dict:
        control = method in self.controls
        return {"color": self.colours[method], "linestyle": "--" if control else "-", "linewidth": 1.2}

    def marker(self, method: str) -> dict:
        colour = self.colours[method]
        face = "white" if method in self.controls else colour
        return {"color": colour, "markerfacecolor": face, "markeredgecolor": colour, "marker": "o", "markersize": 3.5}


def _curve_panels(summary) -> list[tuple[str, str, list, dict]]:
    """(title, x label, x values, method -> y values) of each curve panel the summary has data for."""
    from ...evaluation.summary import curve_fractions

    panels = []
    if summary.curves:
        fractions = curve_fractions(summary)
        for name, what in (("deletion", "removed"), ("insertion", "inserted")):
            ys = {m: c[name] for m, c in summary.curves.items() if name in c}
            if ys:
                panels.append((f"{name} (mean probability)", f"fraction of positions {what}", fractions, ys))
    if summary.mprt:
        layers = summary.evaluation.mprt_layers
        settings = summary.evaluation.settings
        draws = f"{settings.draws} draws" if settings.draws != 1 else "1 draw"
        title = f"MPRT ({settings.mprt_order}, |map|, mean of {draws})"
        panels.append((title, "layers randomised", list(range(1, len(layers) + 1)), dict(summary.mprt)))
    return panels


def _families(summary) -> list[tuple[str, list[str]]]:
    from ...evaluation.metrics import FAMILIES

    chosen = [(family, [m for m in names if m in summary.metrics]) for family, names in FAMILIES.items()]
    return [(family, metrics) for family, metrics in chosen if metrics]


def evaluation_inches(summary, layout: Layout, heading: str = "") -> tuple[float, float]:
    """(width, height) of the evaluation figure in inches (wide enough for the lines of `heading`)."""
    size = layout.size
    curves, families = _curve_panels(summary), _families(summary)
    methods = len(summary.methods) + len(summary.controls)
    widest = max((len(metrics) for _, metrics in families), default=0)
    text = max((len(line) * c for line, c in zip(heading.splitlines(), _CHARS, strict=False)), default=0.0) + 0.4
    width = max(len(curves) * (1.45 * size + _CURVE_MARGIN) + _LEGEND, _LABELS + widest * (0.9 * size + 0.2), text)
    height = HEAD + (_STRIP + 1.1 * size + 0.5 if curves else 0) + len(families) * _dot_height(methods)
    return width, height


def _dot_height(methods: int) -> float:
    return _STRIP + 0.2 + methods * _DOT_ROW + 0.35


def evaluation_figure(summary, heading: str, layout: Layout):
    """The Figure of `summary` (see the module's docstring); `heading` is a bold line and a line of details."""
    from ...evaluation.metrics import METRICS

    width, height = evaluation_inches(summary, layout, heading)
    figure = new_figure(width, height, layout.dpi)
    title, _, detail = heading.partition("\n")
    figure.text(0.5, 1 - 0.16 / height, title, ha="center", va="center", fontsize=9, weight="bold")
    figure.text(0.5, 1 - 0.34 / height, detail, ha="center", va="center", fontsize=7)
    methods, controls = list(summary.methods), list(summary.controls)
    style = _Style(methods, controls)
    order = methods + controls

    def axes_at(left, top, w, h):  # inches from the top-left corner
        return figure.add_axes((left / width, 1 - (top + h) / height, w / width, h / height))

    top = HEAD
    curves = _curve_panels(summary)
    if curves:
        top += _STRIP
        w, h = 1.45 * layout.size, 1.1 * layout.size
        for i, (name, xlabel, xs, ys) in enumerate(curves):
            axes = axes_at(0.5 + i * (w + _CURVE_MARGIN), top, w, h)
            for method in order:
                if method in ys:
                    axes.plot(xs, ys[method], label=method, **style.line(method))
            axes.set_title(name, fontsize=8)
            axes.set_xlabel(xlabel, fontsize=7, labelpad=2)
            axes.tick_params(labelsize=6)
            axes.grid(True, color="0.9", linewidth=0.5)
            if name.startswith("MPRT"):
                axes.set_xticks(xs, summary.evaluation.mprt_layers, fontsize=6)
                axes.axhline(0, color="0.6", linewidth=0.6)
        handles = {}  # NOTE: from every curve panel, in the methods' order: a method may lack one of them
        for drawn in figure.axes:
            handles.update(zip(*reversed(drawn.get_legend_handles_labels()), strict=True))
        labels = [m for m in order if m in handles]
        figure.legend(
            [handles[m] for m in labels], labels, loc="upper left", fontsize=6.5, frameon=False,
            title="methods (controls dashed)", title_fontsize=7,
            bbox_to_anchor=((width - _LEGEND + 0.1) / width, 1 - top / height),
        )  # fmt: skip
        top += h + 0.5
    for family, metrics in _families(summary):
        block = _dot_height(len(order))
        figure.text(0.1 / width, 1 - (top + 0.14) / height, family, fontsize=8.5, weight="bold", va="center")
        plot_h = 0.2 + len(order) * _DOT_ROW
        for j, metric in enumerate(metrics):
            axes = axes_at(_LABELS + j * (0.9 * layout.size + 0.2), top + _STRIP, 0.9 * layout.size, plot_h)
            _dot_plot(axes, summary, metric, order, style, labels=j == 0)
            axes.set_title(f"{metric} {METRICS[metric].arrow}", fontsize=7.5, pad=3)
        top += block
    return figure


def _dot_plot(axes, summary, metric: str, order: list[str], style: _Style, labels: bool) -> None:
    """Each method's mean of `metric` as a dot with its interval as a bar; rows top to bottom in `order`."""
    rows = np.arange(len(order))[::-1]
    for y, method in zip(rows, order, strict=True):
        cell = summary.cells[method][metric]
        if cell.empty:
            axes.text(0.5, y, "n/a", fontsize=5.5, color="0.55", va="center", ha="center",
                      transform=axes.get_yaxis_transform())  # fmt: skip
            continue
        low, high = cell.ci
        axes.plot([low, high], [y, y], color=style.colours[method], linewidth=1.1, solid_capstyle="butt")
        axes.plot([cell.mean], [y], linestyle="none", **style.marker(method))
    controls = len(summary.controls)
    if controls and controls < len(order):
        axes.axhline(controls - 0.5, color="0.5", linewidth=0.6, linestyle=":")
    axes.set_ylim(-0.6, len(order) - 0.4)
    axes.set_yticks(rows, order if labels else [], fontsize=6)
    for tick, method in zip(axes.get_yticklabels(), order, strict=False):
        if method in style.controls:
            tick.set_color("0.4")
            tick.set_fontstyle("italic")
    axes.tick_params(axis="x", labelsize=6)
    axes.tick_params(axis="y", length=0)
    axes.grid(True, axis="x", color="0.9", linewidth=0.5)
