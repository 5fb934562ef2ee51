"""Heatmaps: signed maps keep their sign in ASCII, legends say which scale is which, colour only where it shows."""

from __future__ import annotations

import re

import numpy as np
import pytest
from rich.console import Console

from saliency_cli.inputs import make_probe
from saliency_cli.methods.features import feature_maps
from saliency_cli.render.heatmap import ASCII_RAMP, NEGATIVE_RAMP, SIGNED_RAMP, heatmap, legend

from .terminal import on_a_terminal


def _plain(renderable, width: int = 80) -> str:
    console = Console(width=width, color_system=None, file=None, record=True, force_terminal=False)
    with console.capture() as capture:
        console.print(renderable)
    return capture.get()


def _rows(text: str) -> list[str]:
    """The map rows without their 'y ' labels."""
    return [line[3:].rstrip() for line in text.splitlines() if re.match(r"^ ?\d+ ", line)]


def test_signed_ascii_uses_a_negative_ramp_symmetric_around_zero():
    values = np.array([[-1.0, -0.5, 0.0, 0.5, 1.0]])
    # |v| / max * 9 = 9, 4.5 (rounds to even: 4), 0: negative 'W', 'o'; positive '=', '@'
    assert _rows(_plain(heatmap(values, 1.0, color=False, signed=True))) == ["WWoo  ==@@"]
    assert _rows(_plain(heatmap(values, 1.0, color=False, signed=False))) == ["@@==  ==@@"]
    assert not set(NEGATIVE_RAMP[1:]) & set(ASCII_RAMP)
    assert SIGNED_RAMP == "W&XOxo~;, .:-=+*#%@"


def test_legends_name_their_scale_with_a_space_and_fit_60_columns():
    plain = legend(False).plain
    signed = legend(False, signed=True, subject="IG").plain
    assert plain == "scale: 0 ' .:-=+*#%@' max (bucket round(9 |v| / max))"
    assert signed == "IG: signed, -max 'W&XOxo~;, .:-=+*#%@' +max"
    coloured = legend(True, signed=True, subject="IG").plain
    assert coloured.startswith("IG: signed, ") and coloured.endswith(" -max .. 0 .. +max")
    for text in (plain, signed, coloured):
        assert ":scale" not in text and len(text) <= 60


def test_a_negative_feature_channel_is_drawn_with_the_negative_ramp(shipped):
    net = shipped("blobs8x8-gap")
    maps = feature_maps(net, make_probe(net, "clean").x, "conv1").maps
    c = int(np.argmin(maps.min(axis=(1, 2))))  # the channel reaching furthest below 0
    lo, hi = float(maps[c].min()), float(maps[c].max())
    assert lo < 0 and -lo > hi
    rows = "".join(_rows(_plain(heatmap(maps[c], -lo, color=False, signed=True))))
    assert "WW" in rows and "@@" not in rows  # the minimum is -max; nothing reaches +max
    y, x = np.unravel_index(np.argmin(maps[c]), maps[c].shape)
    assert _rows(_plain(heatmap(maps[c], -lo, color=False, signed=True)))[y][2 * x : 2 * x + 2] == "WW"


_BACKGROUND = re.compile(r"\x1b\[[0-9;]*(4[0-7]|10[0-7]|48;)[0-9;]*m")


@pytest.mark.parametrize("env", [{"TERM": "dumb"}, {"NO_COLOR": "1", "TERM": "xterm-256color"}], ids=str)
def test_no_colour_terminals_get_ascii_heatmaps_not_empty_ones(env):
    out = on_a_terminal("saliency", "--methods", "vanilla,ig", env=env)
    assert "@@" in out and "W&XOxo~;, .:-=+*#%@" in out  # the vanilla map's max cell, IG's signed legend
    assert not _BACKGROUND.search(out)


def test_no_color_flag_on_a_colour_terminal_gives_ascii():
    out = on_a_terminal("saliency", "--methods", "vanilla", "--no-color", env={"TERM": "xterm-256color"})
    assert "@@" in out and not _BACKGROUND.search(out)


def test_a_colour_terminal_gets_colour_cells():
    out = on_a_terminal("saliency", "--methods", "vanilla", env={"TERM": "xterm-256color"})
    assert _BACKGROUND.search(out) and "@@" not in out
