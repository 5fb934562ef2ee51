"""The one place matplotlib is imported: the Agg backend (never a display), pinned settings and file bytes
that depend only on what is drawn (no dates, no version strings, a fixed SVG id salt)."""

from __future__ import annotations

import contextlib
import io

from ...extras import import_extra

#: --figure extension -> matplotlib's format name.
FIGURE_FORMATS: dict[str, str] = {".png": "png", ".pdf": "pdf", ".svg": "svg"}

#: savefig metadata per format: every key that would carry a date, a version or a tool's name left out.
_METADATA = {
    "png": {"Software": None},
    "pdf": {"Creator": None, "Producer": None, "CreationDate": None, "ModDate": None},
    "svg": {"Creator": None, "Date": None, "Format": None, "Type": None},
}

#: Settings every figure is drawn with, whatever a user's matplotlibrc says (the same bytes everywhere).
_SETTINGS = {
    "font.family": "DejaVu Sans",  # NOTE: the font matplotlib ships: no system font changes the drawing
    "font.size": 8.0,
    "axes.titlesize": 8.0,
    "svg.hashsalt": "saliency-cli",
    "svg.fonttype": "path",
    "pdf.fonttype": 42,
    "image.interpolation": "nearest",
    "path.simplify": False,
}


def matplotlib():
    """matplotlib itself, with the Agg backend selected; a UserError saying how to install it when missing."""
    mpl = import_extra("matplotlib", "figures", "--figure")
    import_extra("PIL.Image", "figures", "--figure")  # NOTE: the extra is one: both are checked up front
    mpl.use("Agg", force=True)
    return mpl


@contextlib.contextmanager
def pinned():
    """matplotlib's own defaults plus `_SETTINGS`, for the drawing inside (the caller's settings come back)."""
    mpl = matplotlib()
    with mpl.rc_context():
        mpl.rcdefaults()
        mpl.rcParams.update(_SETTINGS)
        yield mpl


def new_figure(width: float, height: float, dpi: float):
    """A Figure of `width` x `height` inches on an Agg canvas (no pyplot: nothing global, nothing shown)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=dpi)
    FigureCanvasAgg(figure)
    return figure


def figure_bytes(figure, kind: str) -> bytes:
    """The figure as `kind` ("png", "pdf" or "svg") at its own size and dpi (never cropped: the pixel size
    is width x dpi by height x dpi)."""
    buf = io.BytesIO()
    figure.savefig(buf, format=kind, dpi=figure.dpi, metadata=_METADATA[kind])
    return buf.getvalue()
