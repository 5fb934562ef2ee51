"""Every report at 60, 80 and 120 columns: no line wider than the terminal, nothing a user needs cut or broken."""

from __future__ import annotations

import re

import numpy as np
import pytest
from rich.cells import cell_len

from saliency_cli.tasks import TASKS

WIDTHS = (60, 80, 120)
_SHA = re.compile(r"[0-9a-f]{12}…")  # a shortened hash is the only '…' allowed


def _report(run, width: int, *args) -> list[str]:
    result = run(*args, "--no-color", env={"COLUMNS": str(width)})
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    too_wide = [line for line in lines if cell_len(line) > width]
    assert not too_wide, too_wide[:3]
    cut = [line for line in lines if "…" in _SHA.sub("", line)]
    assert not cut, cut[:3]
    return lines


def _intact(lines: list[str], *needles: str) -> None:
    """Each needle whole on one line (not wrapped or cut)."""
    for needle in needles:
        assert any(needle in line for line in lines), needle


@pytest.mark.parametrize("width", WIDTHS)
def test_saliency_maps_stack_instead_of_wrapping(run, width):
    lines = _report(run, width, "saliency")
    _intact(
        lines, "vanilla |grad|", "SmoothGrad", "Integrated Gradients", "IG: signed, -max 'W&XOxo~;, .:-=+*#%@' +max"
    )
    # 8 map rows per panel row: the input's 2 channels side by side, then per channel the three methods,
    # which need 3 x 20 + 2 x 3 = 66 columns: two panel rows per channel at 60 columns, one from 80 on
    panel_rows = 1 + 2 * (2 if width < 66 else 1)
    maps = lines[: next(i for i, line in enumerate(lines) if "attribution mass" in line)]
    rows = [line for line in maps if re.match(r"^ ?[0-7] ", line)]
    assert len(rows) == 8 * panel_rows
    assert all(re.match(r"^ ?([0-7]) ", line).group(1) == str(i % 8) for i, line in enumerate(rows))
    _intact(lines, "channel", "top 8 pixels")


@pytest.mark.parametrize("width", WIDTHS)
def test_lrp_ledger_keeps_every_layer_name_and_header(run, width, shipped):
    lines = _report(run, width, "lrp")
    names = [layer.name for layer in shipped("blobs6x6").layers]
    for name in names:
        assert any(re.search(rf"(^|\s){re.escape(name)}(\s|$)", line) for line in lines), name
    _intact(lines, "ΣR out", "ΣR in", "residual", "bias", "stabiliser", "dropped", "unexplained", "pass-through")


@pytest.mark.parametrize("width", WIDTHS)
def test_lrp_layer_map_wraps_between_layer_types(run, width):
    lines = _report(run, width, "lrp", "--task", "blobs8x8", "--composite", "epsilon-gamma-box")
    _intact(lines, "conv2d: gamma (gamma=0.25, eps=0.01);", "dense: epsilon (eps=0.01);", "(first match wins)")


@pytest.mark.parametrize("width", WIDTHS)
def test_lrp_compare_fits(run, width):
    _intact(_report(run, width, "lrp", "--compare"), "alpha-beta", "R: signed, -max 'W&XOxo~;, .:-=+*#%@' +max")


@pytest.mark.parametrize("width", WIDTHS)
def test_cam_fits(run, width):
    lines = _report(run, width, "cam", "--task", "blobs8x8", "--layer", "pool1", "--probe", "noisy", "--target", "0")
    _intact(lines, "before ReLU", "peak (layer", "peak (input, bilinear)", "before ReLU: signed, -max")
    lines = _report(run, width, "cam")  # one panel for four
    # a key/value row wraps between whole phrases (a layer's name with its number, a count with its noun)
    _intact(lines, "conv3 (#4),", "maps taken after its activation lrelu3 (#5):", "32 channels of 8x8")
    _intact(lines, "one panel for four:", "before the ReLU: the same map", "(no value is negative)")
    _intact(lines, "upsampled to the input: the same map", "(the layer is 8x8, as the input)")


@pytest.mark.parametrize("width", WIDTHS)
def test_features_titles_are_whole(run, width):
    lines = _report(run, width, "features", "--layer", "conv1")
    titles = [m for line in lines for m in re.findall(r"ch (\d) \[-?[\d.e+-]+, -?[\d.e+-]+\]", line)]
    assert sorted(titles) == [str(c) for c in range(8)]


@pytest.mark.parametrize("width", WIDTHS)
def test_cost_keeps_units_and_headers(run, width):
    lines = _report(run, width, "cost", "--repeats", "1", "--steps", "2", "--samples", "2")
    _intact(lines, "method", "theory", "time/probe", "x forward", "extra peak", "vanilla gradient", "SmoothGrad")
    text = "\n".join(lines)
    timed = re.findall(r"\d+(?:\.\d+)? (?:µs|ms|s) +\d[\d.e+-]*x +\d+(?:\.\d+)? (?:B|KB|MB)\b", text)
    assert len(timed) == 7  # every method's time, ratio and memory with their units, on one line


@pytest.mark.parametrize("width", WIDTHS)
def test_models_keeps_settings_and_shapes(run, width):
    lines = _report(run, width, "models")
    _intact(lines, "in_channels=2,", "kernel_size=3,", "in_features=128,", "output shape", "params", "2,250")
    _intact(lines, "conv1", "maxpool2d", "softmax1", "held_out_accuracy")


@pytest.mark.parametrize("width", WIDTHS)
def test_batch_table_fits(run, width, tmp_path):
    x, _, _ = TASKS["blobs8x8"].sample(4, np.random.default_rng(1))
    np.save(tmp_path / "b.npy", x)
    lines = _report(run, width, "saliency", "--input", tmp_path / "b.npy", "--methods", "vanilla,ig")
    _intact(lines, "pred", "target", "score", "IG sum", "IG gap", "pieces", "top c,x,y", "|grad|")


@pytest.mark.parametrize("width", WIDTHS)
def test_evaluate_splits_its_metric_columns_instead_of_overflowing(run, width):
    lines = _report(run, width, "evaluate", "--probes", "8")
    _intact(lines, "lrp:epsilon-alpha2-beta1-flat", "pointing", "accuracy ↑", "random", "input")
    for metric in ("pointing", "deletion ↓", "insertion ↑", "abpc ↑", "mprt ↓", "conservation ↓"):
        assert any(metric in line for line in lines), metric
