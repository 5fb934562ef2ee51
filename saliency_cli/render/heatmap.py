"""Heatmaps of (H, W) maps as Rich renderables: colour cells where colour shows, ASCII buckets otherwise.

Normalisation is explicit: unsigned maps run from 0 to `vmax`; signed maps are symmetric around 0
(`vmax` is the largest |value|). Each cell is two characters wide so the map looks square. In ASCII a
signed map keeps its sign: positive values use ASCII_RAMP, negative values NEGATIVE_RAMP, both with
bucket = round(9 |v| / vmax), so that SIGNED_RAMP reads from -max through 0 (a space) to +max.
"""

from __future__ import annotations

import numpy as np
from rich.text import Text

from .layout import Panels

ASCII_RAMP = " .:-=+*#%@"
#: Buckets 0..9 of negative values (no character shared with ASCII_RAMP but the blank of bucket 0).
NEGATIVE_RAMP = " ,;~oxOX&W"
#: The signed scale as one string, from -max to +max: the negative ramp reversed, then the positive one.
SIGNED_RAMP = NEGATIVE_RAMP[:0:-1] + ASCII_RAMP

# Anchor colours of matplotlib's viridis (sequential) and of RdBu reversed (diverging).
_VIRIDIS = np.array(
    [(68, 1, 84), (71, 44, 122), (59, 81, 139), (44, 113, 142), (33, 144, 141),
     (39, 173, 129), (92, 200, 99), (170, 220, 50), (253, 231, 37)], dtype=float,
)  # fmt: skip
_DIVERGING = np.array([(5, 48, 97), (67, 147, 195), (247, 247, 247), (214, 96, 77), (103, 0, 31)], dtype=float)


def buckets(values: np.ndarray, vmax: float) -> np.ndarray:
    """ASCII bucket per cell: round(9 * |v| / vmax), 0 everywhere when vmax is 0 (or not finite)."""
    if not vmax > 0 or not np.isfinite(vmax):
        return np.zeros(np.shape(values), dtype=int)
    with np.errstate(invalid="ignore", over="ignore"):
        return np.clip(np.nan_to_num(np.rint(9 * np.abs(values) / vmax)), 0, 9).astype(int)


def _colour(anchors: np.ndarray, t: float) -> str:
    """Linear interpolation of `anchors` at t in [0, 1], as a Rich colour."""
    pos = float(np.clip(t, 0.0, 1.0)) * (len(anchors) - 1)
    lo = min(int(pos), len(anchors) - 2)
    r, g, b = anchors[lo] + (anchors[lo + 1] - anchors[lo]) * (pos - lo)
    return f"rgb({round(r)},{round(g)},{round(b)})"


def _axis_header(width: int) -> Text:
    return Text("   " + "".join(f"{x:<2d}" for x in range(width)), style="dim")


def heatmap(
    values: np.ndarray,
    vmax: float | None = None,
    color: bool = False,
    signed: bool = False,
    title: str | None = None,
) -> Text:
    """One (H, W) map with x (column) indices on top and y (row) indices on the left."""
    values = np.asarray(values, dtype=float)
    finite = np.isfinite(values)
    if vmax is None or not np.isfinite(vmax):
        vmax = float(np.abs(values[finite]).max()) if finite.any() else 0.0
    out = Text()
    if title:
        out.append(title + "\n", style="bold")
    out.append_text(_axis_header(values.shape[1]))
    levels = buckets(values, vmax)
    for y, row in enumerate(values):
        out.append(f"\n{y:>2d} ", style="dim")
        for x, v in enumerate(row):
            if not finite[y, x]:
                out.append("??", style="bold red")  # NOTE: shown, never hidden; the commands refuse most causes
            elif not color:
                ramp = NEGATIVE_RAMP if signed and v < 0 else ASCII_RAMP
                out.append(ramp[levels[y, x]] * 2)
            elif signed:
                t = 0.5 + 0.5 * (v / vmax if vmax > 0 else 0.0)
                out.append("  ", style=f"on {_colour(_DIVERGING, t)}")
            else:
                t = abs(v) / vmax if vmax > 0 else 0.0
                out.append("  ", style=f"on {_colour(_VIRIDIS, t)}")
    return out


def side_by_side(*panels) -> Panels:
    """Renderables side by side with a little space between them; they stack when the width is too small."""
    return Panels(*panels)


def legend(color: bool, signed: bool = False, subject: str | None = None) -> Text:
    """A one-line key to the shading, '<subject>: ...' (default subject: scale); short enough for 60 columns.

    Unsigned: 0 .. max. Signed: symmetric around 0, -max .. +max (in ASCII, negative values have their own ramp).
    """
    out = Text(f"{subject or 'scale'}: " + ("signed, " if signed else ""), style="dim")
    if not color:
        if signed:
            out.append(f"-max '{SIGNED_RAMP}' +max", style="dim")
        else:
            out.append(f"0 '{ASCII_RAMP}' max (bucket round(9 |v| / max))", style="dim")
        return out
    anchors, label = (_DIVERGING, "-max .. 0 .. +max") if signed else (_VIRIDIS, "0 .. max")
    for t in np.linspace(0, 1, 12):
        out.append(" ", style=f"on {_colour(anchors, t)}")
    out.append(f" {label}", style="dim")
    return out
