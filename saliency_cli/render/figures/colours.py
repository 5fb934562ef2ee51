"""Colour maps and ranges of the figures' panels.

Normalisation is explicit, as in the terminal: a signed map is drawn with a diverging colour map on
[-m, m], m its largest |value| (0 is the middle of the map: white with the default `bwr`), an unsigned map
with a sequential one on [0, max], an input in grey on [min(0, min), max]. With `--scale shared` every
map of a figure has the one m (the largest over all of them); otherwise each method's channels share one
(as in the terminal); the inputs keep their own ranges.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Default colour maps: sequential for unsigned maps (as the terminal's), diverging for signed ones.
UNSIGNED_CMAP = "viridis"
SIGNED_CMAP = "bwr"
INPUT_CMAP = "gray"

#: Entries of every colour map's lookup table. NOTE: odd, so that one entry sits exactly at the middle:
#: with 256 entries the value 0 of a symmetric range falls on entry 128, at 128/255 of the map, and bwr's
#: "white" there is (255, 254, 254); with 255 entries it is entry 127, at 127/254 = 0.5: white.
LUT_SIZE = 255


@dataclass(frozen=True)
class Colours:
    """The colour maps (matplotlib names), the scale ("own" or "shared") and whether maps overlay the input."""

    unsigned: str = UNSIGNED_CMAP
    signed: str = SIGNED_CMAP
    scale: str = "own"
    overlay: bool = False


def check_cmap(name: str, option: str) -> str:
    """`name` if matplotlib's registry has it; else a UserError naming a few (import matplotlib first)."""
    import matplotlib

    from ...errors import UserError

    if name not in matplotlib.colormaps:
        raise UserError(
            f"{option} {name!r}: not a matplotlib colour map; e.g. viridis, magma, cividis, gray (sequential), "
            "bwr, RdBu_r, coolwarm, seismic (diverging); the _r suffix reverses any of them"
        )
    return name


def colour_map(name: str):
    """matplotlib's colour map `name` with LUT_SIZE entries (see there)."""
    import matplotlib

    return matplotlib.colormaps[name].resampled(LUT_SIZE)


def value_range(values: np.ndarray, kind: str, extent: float | None = None) -> tuple[float, float]:
    """(vmin, vmax) of a panel: [-m, m] for "signed", [0, m] for "unsigned" (m its largest |value|, or
    `extent`), [min(0, min), max] for "input". A range of zero width becomes [0, 1] (or [-1, 1])."""
    if kind == "input":
        low, high = min(0.0, float(values.min())), float(values.max())
        return (low, high) if high > low else (low, low + 1.0)
    m = float(np.abs(values).max()) if extent is None else float(extent)
    if not m > 0:
        m = 1.0
    return (-m, m) if kind == "signed" else (0.0, m)


def extents(probes, scale: str) -> list[list[float | None]]:
    """The m of every panel of every probe (None for inputs): with "own", the largest |value| over the
    panels of its group (a method's channels: one range per method and probe, as in the terminal); with
    "shared", over every map panel of the figure."""

    def largest(panels) -> float:
        return max((float(np.abs(p.values).max()) for p in panels if p.values is not None), default=0.0)

    maps = [p for panels in probes for p in panels if p.kind != "input"]
    everything = largest(maps)
    out = []
    for panels in probes:
        groups: dict = {}
        for p in panels:
            groups.setdefault(p.group, []).append(p)
        own = {group: largest(members) for group, members in groups.items()}
        out.append([None if p.kind == "input" else everything if scale == "shared" else own[p.group] for p in panels])
    return out
