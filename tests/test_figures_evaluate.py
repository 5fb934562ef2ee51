"""`evaluate --figure`: curves, MPRT per layer and dot plots per family, checked on the figure and its pixels."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from saliency_cli.evaluation.methods import MethodOptions
from saliency_cli.evaluation.metrics import METRICS
from saliency_cli.evaluation.probes import task_probes
from saliency_cli.evaluation.run import Settings, evaluate
from saliency_cli.evaluation.summary import summarise
from saliency_cli.render.figures.backend import figure_bytes, pinned
from saliency_cli.render.figures.evaluation import _PALETTE, evaluation_figure, evaluation_inches
from saliency_cli.render.figures.grid import Layout
from saliency_cli.tasks import TASKS

METHODS = ("vanilla", "ig", "lrp:epsilon", "random", "input")


@pytest.fixture(scope="module")
def summary():
    from saliency_cli.locate import find_default_model
    from saliency_cli.nn.modelfile import load_model

    net = load_model(find_default_model("blobs6x6")[0])
    probes = task_probes(TASKS["blobs6x6"], 12, (0.05, 0.3), 0)
    settings = Settings(METHODS, steps=8, resamples=50, options=MethodOptions(quadrature="right", ig_steps=16))
    return summarise(evaluate(net, probes, settings))


def drawn(summary, layout=None):
    layout = layout or Layout(size=2.0, dpi=100)
    with pinned():
        figure = evaluation_figure(summary, "evaluate\ntest", layout)
        data = figure_bytes(figure, "png")
    return figure, data


def test_one_panel_per_curve_and_per_metric(summary):
    figure, data = drawn(summary)
    titles = [a.get_title() for a in figure.axes]
    assert titles[:3] == [
        "deletion (mean probability)",
        "insertion (mean probability)",
        "MPRT (cascading, |map|, mean of 3 draws)",
    ]
    assert len(titles) == 3 + len(summary.metrics) == 15  # 12 metrics: the signed sanity ones too
    assert all(any(t.startswith(f"{m} ") for t in titles[3:]) for m in summary.metrics)
    # every method has a line in each curve panel, the controls dashed
    for axes in figure.axes[:3]:
        lines = {line.get_label(): line for line in axes.get_lines() if not line.get_label().startswith("_")}
        assert list(lines) == list(METHODS)
        assert [lines[m].get_linestyle() for m in METHODS] == ["-", "-", "-", "--", "--"]
    mprt = figure.axes[2]
    assert [t.get_text() for t in mprt.get_xticklabels()] == summary.evaluation.mprt_layers
    width, height = evaluation_inches(summary, Layout(2.0, 100))
    assert Image.open(io.BytesIO(data)).size == (round(width * 100), round(height * 100))


def test_each_mean_is_a_dot_in_its_methods_colour_and_controls_are_hollow(summary):
    figure, data = drawn(summary)
    pixels = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    axes = next(a for a in figure.axes if a.get_title().startswith("auc "))
    order = list(METHODS)
    for row, method in enumerate(order):
        cell = summary.cells[method]["auc"]
        y = len(order) - 1 - row
        dx, dy = axes.transData.transform((cell.mean, y))
        colour = pixels[pixels.shape[0] - 1 - int(dy), int(dx)]
        if method in ("random", "input"):
            assert tuple(colour) == (255, 255, 255), method  # hollow: the marker's face is white
        else:
            want = np.array([int(_PALETTE[row][i : i + 2], 16) for i in (1, 3, 5)])
            assert np.abs(colour.astype(int) - want).max() <= 1, (method, colour, want)
    # the method labels (on each family's first plot): the controls' in grey italics
    first = next(a for a in figure.axes if a.get_title().startswith("pointing-game "))
    labels = {t.get_text(): t for t in first.get_yticklabels()}
    assert labels["random"].get_fontstyle() == "italic" and labels["ig"].get_fontstyle() == "normal"


def test_intervals_are_drawn_as_bars(summary):
    figure, _ = drawn(summary)
    axes = next(a for a in figure.axes if a.get_title() == f"deletion {METRICS['deletion'].arrow}")
    bars = [line.get_xdata() for line in axes.get_lines() if len(line.get_xdata()) == 2 and line.get_linestyle() == "-"]
    cis = [tuple(summary.cells[m]["deletion"].ci) for m in METHODS]
    assert sorted(tuple(b) for b in bars) == sorted(cis)


def test_the_cli_writes_it_and_the_bytes_repeat(run, tmp_path):
    args = ["evaluate", "--task", "blobs6x6", "--probes", "6", "--resamples", "20", "--methods", "vanilla,ig"]
    args += ["--metrics", "pointing-game,deletion,insertion", "--steps", "4", "--format", "json"]
    first, second = tmp_path / "a.png", tmp_path / "b.png"
    for out in (first, second):
        result = run(*args, "--figure", out, "--dpi", "80")
        assert result.exit_code == 0, result.stderr
    assert first.read_bytes() == second.read_bytes()
    image = np.asarray(Image.open(first).convert("L"))
    assert image.std() > 10
    result = run(*args, "--figure", first)
    assert result.exit_code == 2 and "refusing to overwrite" in result.stderr


def test_map_options_are_not_evaluates(run):
    result = run("evaluate", "--cmap", "magma")
    assert result.exit_code == 2 and "No such option" in result.stderr
