"""JSON output: numpy arrays become nested lists, non-finite floats become null."""

from __future__ import annotations

import json
import math

import numpy as np


def to_jsonable(value):
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "biu" or (value.dtype.kind == "f" and np.isfinite(value).all()):
            return value.tolist()  # plain bools, ints and finite floats already: nothing to walk
        return to_jsonable(value.tolist())
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        value = float(value)
        return value if math.isfinite(value) else None
    return value


def dumps(document: dict, indent: int | None = None) -> str:
    """Compact JSON on one line, or indented by `indent` spaces for people (a list of numbers on one line)."""
    value = to_jsonable(document)
    if not indent:
        return json.dumps(value, allow_nan=False, separators=(",", ":"))
    return _pretty(value, " " * int(indent), 0)


def _pretty(value, step: str, level: int) -> str:
    """Indented JSON where objects and lists of lists open up and lists of plain values stay on one line
    (a heatmap row of 8 numbers is one line, not 8)."""
    pad, inner = step * level, step * (level + 1)
    if isinstance(value, dict) and value:
        items = (f"{inner}{json.dumps(k)}: {_pretty(v, step, level + 1)}" for k, v in value.items())
        return "{\n" + ",\n".join(items) + f"\n{pad}}}"
    if isinstance(value, list) and any(isinstance(v, dict | list) for v in value):
        return "[\n" + ",\n".join(f"{inner}{_pretty(v, step, level + 1)}" for v in value) + f"\n{pad}]"
    return json.dumps(value, allow_nan=False, separators=(", ", ": "))


def non_finite_path(value, path: str = "") -> str | None:
    """Where the first NaN or infinity in a document is (e.g. 'methods.integrated_gradients.attribution'),
    or None. The walk is iterative and looks at whole arrays at once."""
    stack = [(value, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, np.ndarray):
            if item.dtype.kind in "fc" and not np.isfinite(item).all():
                return where or "(the result)"
            if item.dtype == object:
                stack.extend((v, where) for v in item.ravel())
        elif isinstance(item, float | np.floating):
            if not math.isfinite(item):
                return where or "(the result)"
        elif isinstance(item, dict):
            stack.extend((v, f"{where}.{k}" if where else str(k)) for k, v in reversed(list(item.items())))
        elif isinstance(item, list | tuple):
            stack.extend((v, f"{where}[{i}]") for i, v in reversed(list(enumerate(item))))
    return None
