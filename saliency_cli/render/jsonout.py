"""JSON output: numpy arrays become nested lists, non-finite floats become null."""

from __future__ import annotations

import json
import math

import numpy as np


def to_jsonable(value):
    if isinstance(value, np.ndarray):
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
    """Compact JSON on one line, or indented by `indent` spaces."""
    separators = None if indent else (",", ":")
    return json.dumps(to_jsonable(document), allow_nan=False, indent=indent, separators=separators)
