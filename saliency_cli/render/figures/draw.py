"""A command's figure as file bytes: its reports' panels (`panels`) laid out as a grid (`grid`), drawn with
matplotlib's pinned settings (`backend`)."""

from __future__ import annotations

from .backend import figure_bytes, pinned
from .colours import Colours
from .grid import Layout, draw_grid
from .panels import cam_panels, features_panels, lrp_panels, saliency_panels

#: command -> its panels of one probe (cam's "report" is the list of one report per method).
PANELS = {"saliency": saliency_panels, "lrp": lrp_panels, "cam": cam_panels, "features": features_panels}


def probe_figure(command: str, reports, heading: str, colours: Colours, layout: Layout):
    """The Figure of `reports` (one per probe, in order): probes as rows, panels as columns.

    Call it inside `backend.pinned()`, as `probe_figure_bytes` does.
    """
    return draw_grid([PANELS[command](report) for report in reports], heading, colours, layout)


def probe_figure_bytes(command: str, reports, heading: str, colours: Colours, layout: Layout, kind: str) -> bytes:
    """`probe_figure` as the bytes of a `kind` ("png", "pdf", "svg") file."""
    with pinned():
        return figure_bytes(probe_figure(command, reports, heading, colours, layout), kind)
