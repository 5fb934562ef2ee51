"""What every attribution method does with its arguments: inputs as a batch, targets as one class per row."""

from __future__ import annotations

import numpy as np


def as_batch(model, inputs) -> tuple[np.ndarray, bool]:
    """`inputs` as a float64 batch (N, C, H, W) and whether it was a single example (C, H, W)."""
    x = np.asarray(inputs, dtype=np.float64)
    shape = tuple(model.input_shape)
    if x.shape == shape:
        return x[None], True
    if x.ndim == len(shape) + 1 and x.shape[1:] == shape:
        return x, False
    raise ValueError(f"inputs of shape {x.shape}: expected {shape} or (N, *{shape}) for this model")


def unbatch(a: np.ndarray, single: bool) -> np.ndarray:
    """Undo `as_batch` on a result: the one row of a single example, else the batch."""
    return a[0] if single else a


def check_targets(model, target, n: int) -> np.ndarray:
    """`target` (an int for every row, or N ints) as int64 (N,), each a class of `model`."""
    t = np.asarray(target)
    if t.dtype.kind not in "iu" and not (t.dtype.kind == "f" and np.all(t == np.round(t))):
        raise ValueError(f"targets must be integers, got {target!r}")
    t = np.broadcast_to(t.astype(np.int64), (n,)) if t.ndim == 0 else t.astype(np.int64)
    if t.shape != (n,):
        raise ValueError(f"{t.size} targets for {n} examples")
    bad = (t < 0) | (t >= model.num_classes)
    if bad.any():
        raise ValueError(f"target {int(t[bad][0])} is out of range: classes 0..{model.num_classes - 1}")
    return t.copy()
