"""A canonical SHA-256 of plain data: what keys a checkpoint's blocks.

Python's `hash` and pickle's bytes are no keys (salted per process; not canonical), so values are fed to the
hash by type: numbers by their exact repr, arrays by dtype, shape and bytes, dataclasses and plain objects by
their type's name and fields. A type this does not know is refused (a bug to fix), never skipped.
"""

from __future__ import annotations

import dataclasses
import hashlib

import numpy as np


def fingerprint(*values) -> str:
    """The SHA-256 (hex) of `values`, the same in every process and on every machine."""
    h = hashlib.sha256()
    for value in values:
        _feed(h, value)
    return h.hexdigest()


def _feed(h, value) -> None:
    if value is None or isinstance(value, bool | int | float | complex | str):
        h.update(f"{type(value).__name__}:{value!r};".encode())
    elif isinstance(value, bytes):
        h.update(b"bytes:%d;" % len(value) + value)
    elif isinstance(value, np.ndarray | np.generic):
        array = np.ascontiguousarray(value)
        h.update(f"array:{array.dtype.str}:{array.shape};".encode())
        h.update(array.tobytes())
    elif isinstance(value, list | tuple):
        h.update(f"{type(value).__name__}:{len(value)}[".encode())
        for item in value:
            _feed(h, item)
        h.update(b"]")
    elif isinstance(value, dict):
        h.update(f"dict:{len(value)}{{".encode())
        for key in sorted(value, key=repr):
            _feed(h, key)
            _feed(h, value[key])
        h.update(b"}")
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        _feed(h, (_name(value), fields))
    elif isinstance(value, type) or (callable(value) and hasattr(value, "__qualname__")):
        h.update(f"code:{value.__module__}.{value.__qualname__};".encode())  # a function or class: by its name
    elif isinstance(value, slice):
        _feed(h, ("slice", value.start, value.stop, value.step))
    elif hasattr(value, "__dict__") and not callable(value):
        _feed(h, (_name(value), vars(value)))
    else:
        raise TypeError(f"cannot fingerprint a {_name(value)}")


def _name(value) -> str:
    kind = type(value)
    return f"{kind.__module__}.{kind.__qualname__}"
