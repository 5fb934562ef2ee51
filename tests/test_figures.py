"""--figure: what the pixels of the drawn PNG show (colour map ends, white at an exact zero, panel counts,
sizes), deterministic bytes, the file rules, and matplotlib/Pillow imported only when a figure is asked for."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from saliency_cli.inputs import Probe, make_probe
from saliency_cli.render.figures.backend import figure_bytes, pinned
from saliency_cli.render.figures.colours import Colours, colour_map
from saliency_cli.render.figures.draw import probe_figure
from saliency_cli.render.figures.grid import HEAD, Layout, figure_inches, row_height
from saliency_cli.reports.lrp import lrp_report
from saliency_cli.reports.saliency import saliency_report

REPO = Path(__file__).resolve().parents[1]


def one_line(result) -> str:
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
    return result.stderr


def drawn(command: str, reports, colours: Colours | None = None):
    """(figure, decoded RGB pixels (H, W, 3)) of a probe figure drawn as PNG, 2-inch panels at 100 dpi."""
    with pinned():
        figure = probe_figure(command, reports, "test\nfigure", colours or Colours(), Layout(size=2.0, dpi=100))
        data = figure_bytes(figure, "png")
    return figure, np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def map_axes(figure):
    return [a for a in figure.axes if hasattr(a, "panel_kind")]


def pixel_at(figure, pixels, axes, y: int, x: int) -> np.ndarray:
    """The PNG's colour at the centre of map cell (y, x) of `axes` (data coordinates are input pixels)."""
    h, w = axes.get_images()[-1].get_array().shape
    left, right, bottom, top = axes.get_images()[-1].get_extent()
    cx = left + (x + 0.5) * (right - left) / w
    cy = top + (y + 0.5) * (bottom - top) / h
    dx, dy = axes.transData.transform((cx, cy))
    return pixels[pixels.shape[0] - 1 - int(dy), int(dx)]


def expected(cmap: str, t: float) -> np.ndarray:
    return (np.array(colour_map(cmap)(t))[:3] * 255).astype(np.uint8)


def close(a, b) -> bool:
    return np.abs(a.astype(int) - b.astype(int)).max() <= 1


@pytest.fixture(scope="module")
def ig_report():
    from saliency_cli.locate import find_default_model
    from saliency_cli.nn.modelfile import load_model

    net = load_model(find_default_model("blobs8x8")[0])
    return saliency_report(net, make_probe(net, "clean"), quadrature="exact")


def test_the_maximum_of_each_map_has_its_colour_maps_end_colour(ig_report):
    figure, pixels = drawn("saliency", [ig_report])
    axes = map_axes(figure)
    assert [a.panel_kind for a in axes] == ["input"] * 2 + ["unsigned"] * 4 + ["signed"] * 2
    checked = 0
    for a, (key, c) in zip(axes[2:], [(k, c) for k in ig_report.methods for c in range(2)], strict=True):
        values = ig_report.methods[key].attribution
        if np.abs(values[c]).max() < np.abs(values).max():
            continue  # NOTE: a method's channels share one range: only the channel holding the max reaches the end
        y, x = np.unravel_index(np.argmax(np.abs(values[c])), values[c].shape)
        if a.panel_kind == "unsigned":
            want = expected("viridis", 1.0)
        else:
            want = expected("bwr", 1.0 if values[c, y, x] > 0 else 0.0)
        assert close(pixel_at(figure, pixels, a, y, x), want), (key, c)
        checked += 1
    assert checked == 3


def test_an_exact_zero_of_a_signed_map_is_white(shipped):
    net = shipped("blobs6x6")
    x = np.zeros((1, 6, 6))
    x[0, :2, :2] = 1.0  # NOTE: LRP's first dense layer gives an input of exactly 0 a relevance of exactly 0
    report = lrp_report(net, Probe(x=x, source="blob"), rules=("epsilon",))
    relevance = report.runs["epsilon"].relevance[0]
    assert (relevance == 0).sum() == 32 and np.abs(relevance).max() > 0
    figure, pixels = drawn("lrp", [report])
    (signed,) = [a for a in map_axes(figure) if a.panel_kind == "signed"]
    for y, x_ in zip(*np.nonzero(relevance == 0), strict=True):
        assert tuple(pixel_at(figure, pixels, signed, y, x_)) == (255, 255, 255)
    y, x_ = np.unravel_index(np.argmax(np.abs(relevance)), relevance.shape)
    assert close(pixel_at(figure, pixels, signed, y, x_), expected("bwr", 1.0 if relevance[y, x_] > 0 else 0.0))


@pytest.mark.parametrize("scale", [3e-4, 1e-3, 3e-3])
def test_a_colour_bar_of_small_values_keeps_its_labels_inside_the_figure(scale, shipped):
    """Relevance of ~3e-4 was labelled '-0.0003' (and ~1e-3 '-0.00100'): wider than the space beside the bar, cut
    off at the figure's right edge. The labels take a power-of-ten offset instead, so that every one is whole."""
    net = shipped("blobs6x6")
    x = np.zeros((1, 6, 6))
    x[0, :2, :2] = scale  # LRP epsilon on this bias-free-ish blob: relevance about `scale`
    report = lrp_report(net, Probe(x=x, source="small"), rules=("epsilon",))
    assert scale / 3 < np.abs(report.runs["epsilon"].relevance).max() < scale * 3
    figure, _ = drawn("lrp", [report])
    renderer = figure.canvas.get_renderer()
    bars = [a for a in figure.axes if not hasattr(a, "panel_kind")]
    labels = [t for bar in bars for t in bar.get_yticklabels() if t.get_text()]
    assert len(bars) == 2 and labels
    right = figure.bbox.x1
    assert all(t.get_window_extent(renderer).x1 <= right for t in labels), [t.get_text() for t in labels]


def test_the_colour_map_has_an_exact_middle():
    assert tuple(expected("bwr", 0.5)) == (255, 255, 255)
    assert tuple(expected("RdBu_r", 0.5)) == tuple((np.array(colour_map("RdBu_r")(0.5))[:3] * 255).astype(np.uint8))


def test_a_batch_is_a_grid_of_probes_by_panels(run, tmp_path, shipped):
    x = np.random.default_rng(0).uniform(0, 1, size=(5, 1, 6, 6))
    np.save(tmp_path / "b.npy", x)
    out = tmp_path / "grid.png"
    args = ["lrp", "--compare", "--input", tmp_path / "b.npy", "--figure", out, "--figure-rows", "3"]
    result = run(*args, "--dpi", "100", "--panel-size", "2", "--format", "json")
    assert result.exit_code == 0, result.stderr
    image = Image.open(out)
    # 3 probes of 4 panels (input, epsilon, gamma, alpha-beta): 4 columns of 2 in, 3 rows
    width, height = figure_inches(3, 4, Layout(2.0, 100))
    assert image.size == (round(width * 100), round(height * 100)) == (800, round((3 * (0.48 + 1.6) + HEAD) * 100))
    # the panels, counted in the pixels: on each grid row, the top edges of the maps' frames are dark lines as
    # wide as a map (0.7 x 2 in): one per panel
    pixels = np.asarray(image.convert("L"))
    for r in range(3):
        edge = round((HEAD + r * row_height(Layout(2.0, 100)) + 0.48) * 100)
        band = pixels[edge - 3 : edge + 4] < 60
        line = band[np.argmax(band.sum(axis=1))]
        frames = [length for length in _runs(line) if length > 100]
        assert len(frames) == 4 and all(abs(length - 140) <= 2 for length in frames), _runs(line)
    net = shipped("blobs6x6")
    from saliency_cli.reports.lrp import lrp_reports

    reports = lrp_reports(net, [Probe(x=xi, source=str(i)) for i, xi in enumerate(x[:3])], rules=("epsilon", "gamma"))
    figure, _ = drawn("lrp", reports)
    assert len(map_axes(figure)) == 3 * 3 and len(figure.axes) == 2 * 3 * 3  # a colour bar for every panel


def _runs(mask: np.ndarray) -> list[int]:
    """Lengths of the runs of True in a 1-D mask."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(int), [0]])))
    return (edges[1::2] - edges[::2]).tolist()


def test_shared_scale_gives_every_map_one_range(ig_report):
    own, _ = drawn("saliency", [ig_report])
    shared, _ = drawn("saliency", [ig_report], Colours(scale="shared"))
    top = max(float(np.abs(r.attribution).max()) for r in ig_report.methods.values())
    limits = [a.get_images()[-1].get_clim() for a in map_axes(shared) if a.panel_kind != "input"]
    assert all(abs(high - top) < 1e-12 and low in (0.0, -high) for low, high in limits)
    own_limits = {a.get_images()[-1].get_clim()[1] for a in map_axes(own) if a.panel_kind != "input"}
    assert len(own_limits) == 3  # one range per method, its channels sharing it


def test_overlay_draws_each_map_over_the_grey_input(ig_report):
    figure, _ = drawn("saliency", [ig_report], Colours(overlay=True))
    for a in map_axes(figure):
        images = a.get_images()
        if a.panel_kind == "input":
            assert len(images) == 1
        else:
            assert len(images) == 2 and images[0].get_cmap().name.startswith("gray") and images[1].get_alpha() < 1


def test_titles_name_the_method_its_settings_and_the_class(ig_report):
    figure, _ = drawn("saliency", [ig_report])
    titles = [a.get_title() for a in map_axes(figure)]
    ig = [t for t in titles if t.startswith("Integrated Gradients")]
    pieces = ig_report.methods["integrated_gradients"].settings["pieces"]
    assert ig and all(f"exact, {pieces} pieces, baseline zero" in t and "class 0 (top-left)" in t for t in ig)
    assert any("16 copies, sigma" in t for t in titles if t.startswith("SmoothGrad"))


def test_lrp_titles_name_the_first_and_last_layer_rules_given(shipped):
    net = shipped("blobs8x8")
    x = make_probe(net, "clean").x
    report = lrp_report(net, Probe(x=x, source="blob"), rules=("gamma",), first="zbox", last="epsilon")
    titles = [a.get_title() for a in map_axes(drawn("lrp", [report])[0]) if a.panel_kind != "input"]
    assert titles and all(
        t.split("\n")[:3] == ["LRP gamma", "gamma 0.25, eps 0.01", "first zbox, last epsilon"] for t in titles
    )
    report = lrp_report(net, Probe(x=x, source="blob"), composite="epsilon-gamma-box")
    titles = [a.get_title() for a in map_axes(drawn("lrp", [report])[0]) if a.panel_kind != "input"]
    assert all(
        t.split("\n")[1:3] == ["composite epsilon-gamma-box", "R of class 0 (top-left), ch " + t[-1]] for t in titles
    )


@pytest.mark.parametrize("suffix", [".png", ".pdf", ".svg"])
def test_the_same_input_gives_the_same_bytes(run, tmp_path, suffix):
    first, second = tmp_path / f"a{suffix}", tmp_path / f"b{suffix}"
    for out in (first, second):
        assert run("saliency", "--figure", out, "--format", "json").exit_code == 0
    assert first.read_bytes() == second.read_bytes()
    if suffix == ".png":
        assert Image.open(first).size == (8 * 300, round((0.48 + 1.6 + HEAD) * 150))
    else:
        assert b"Matplotlib" not in first.read_bytes() and b"CreationDate" not in first.read_bytes()


@pytest.mark.parametrize(
    "args",
    [
        ["cam", "--methods", "cam,gradcam,gradcam++"],
        ["features", "--layer", "conv2"],
        ["saliency", "--reduce", "max", "--overlay", "--cmap", "magma"],
        ["lrp", "--composite", "epsilon-gamma-box", "--task", "blobs8x8-gap"],
    ],
)
def test_every_command_draws_its_figure(run, tmp_path, args):
    out = tmp_path / "f.png"
    result = run(*args, "--figure", out, "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert f"wrote the figure {out}" in result.stderr
    assert np.asarray(Image.open(out).convert("L")).std() > 10  # something is drawn


def test_an_existing_figure_is_kept_without_force(run, tmp_path):
    out = tmp_path / "f.png"
    out.write_bytes(b"mine")
    assert "refusing to overwrite" in one_line(run("lrp", "--figure", out))
    assert out.read_bytes() == b"mine"
    assert run("lrp", "--figure", out, "--force").exit_code == 0
    assert out.read_bytes().startswith(b"\x89PNG") and (tmp_path / "f.png.bak").read_bytes() == b"mine"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--figure", "f.gif"], "give a file name ending in .png, .pdf or .svg"),
        (["--figure", "f.png", "--cmap", "nope"], "--cmap 'nope': not a matplotlib colour map"),
        (["--figure", "f.png", "--cmap-signed", "nope"], "--cmap-signed 'nope': not a matplotlib colour map"),
        (["--overlay"], "--overlay shapes a figure: add --figure"),
        (["--dpi", "300"], "--dpi shapes a figure"),
        (["--figure", "f.png", "--figure-rows", "2"], "--figure-rows picks the probes of a batch"),
        (["--figure", "no/such/dir/f.png"], "does not exist"),
        (["--figure", "r.svg", "--export", "r.svg"], "--figure r.svg and --export r.svg name the same file"),
        (["--figure", "r.svg", "--export", "./r.svg", "--force"], "name the same file"),
    ],
)
def test_bad_figure_options_are_one_line(run, tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    assert message in one_line(run("lrp", *args))
    assert not list(tmp_path.iterdir())


def test_a_figure_too_large_is_refused_before_drawing(run, tmp_path):
    x = np.zeros((200, 1, 6, 6))
    np.save(tmp_path / "b.npy", x)
    args = ["--input", tmp_path / "b.npy", "--figure-rows", "200", "--dpi", "600", "--panel-size", "8"]
    assert "more than 60,000,000" in one_line(run("lrp", "--figure", tmp_path / "f.png", *args))


def test_without_matplotlib_it_says_how_to_install_it(run, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    line = one_line(run("lrp", "--figure", tmp_path / "f.png"))
    assert "pip install -e '.[figures]'" in line and "pip install 'saliency-cli[figures]'" in line
    assert not (tmp_path / "f.png").exists()


def test_help_and_runs_without_a_figure_import_neither_matplotlib_nor_pillow():
    code = (
        "import sys\nfrom saliency_cli.cli import cli\n"
        "for args in (['--help'], ['saliency', '--help'], ['saliency', '--format', 'json'], ['lrp']):\n"
        "    try:\n        cli.main(args, prog_name='saliency-cli', standalone_mode=False)\n"
        "    except SystemExit:\n        pass\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('matplotlib', 'PIL')))"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout
    assert out.strip().endswith("[]")
