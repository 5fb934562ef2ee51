"""The optional extras: what each one installs, and the one-line refusal when one is missing.

Optional packages are imported only where they are used (matplotlib in the figure renderer, Pillow where
image files are read), never at start-up: `import_extra` is the one place that turns a missing one into a
UserError saying how to install it.
"""

from __future__ import annotations

import importlib

from .errors import UserError

#: extra -> what it is for, as in "`--figure` needs matplotlib, ...".
EXTRAS: dict[str, str] = {
    "figures": "matplotlib and Pillow",
    "explore": "Textual",
    "cluster": "Dask's distributed scheduler",
}


def install_hint(extra: str) -> str:
    """How to install an extra: from a clone of the repository, or from the package index."""
    return f"pip install -e '.[{extra}]' in a clone, or pip install 'saliency-cli[{extra}]'"


def import_extra(module: str, extra: str, what: str):
    """`module`, imported; a UserError when it is missing: "<what> needs the optional extra <extra> (...): how"."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise UserError(
            f"{what} needs the optional extra `{extra}` ({EXTRAS[extra]}), which is not installed: "
            f"{install_hint(extra)}"
        ) from None
