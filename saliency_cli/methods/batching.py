"""What every attribution method does with its arguments: inputs as a batch, targets as one class per row,
and rows in chunks that bound memory."""

from __future__ import annotations

import math

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


#: Rows per pass when no batch_size is given. NOTE: not "all at once": a batch of 1000 probes x 50
#: IG steps would hold 50,000 rows of every activation, and mid-sized passes are also faster (cache).
DEFAULT_ROWS = 1024

#: ... and fewer when a row's activations are large: a pass keeps every layer's input and output, so the
#: default chunk holds at most about this many bytes of activations (a 1x128x128 image through three
#: 3x3 convolutions of 8-16-32 channels goes 6 rows at a time, 13 in float32; IG-50 on a 1x64x64 one is one
#: float32 pass: 47-48 ms instead of 51-53 ms in two passes with 64 MB, peak 144 MiB instead of 105).
DEFAULT_PASS_BYTES = 96 << 20


def default_rows(model) -> int:
    """Rows per pass when no batch_size is given: `DEFAULT_ROWS`, fewer for models with large activations (in
    the model's compute dtype: a float32 copy goes twice the rows of float64 in the same bytes)."""
    itemsize = np.dtype(getattr(model, "dtype", np.float64)).itemsize
    per_row = itemsize * sum(math.prod(shape) for shape in (model.input_shape, *model.shapes))
    return max(1, min(DEFAULT_ROWS, DEFAULT_PASS_BYTES // max(per_row, 1)))


def row_chunks(n: int, batch_size: int | None, model=None):
    """Slices of `n` rows, `batch_size` at a time; by default as few chunks as `default_rows(model)` (or
    `DEFAULT_ROWS`) allows, their sizes differing by one row at most (two passes of 25 rows rather than 36 and
    14: a short last pass shares out over the cores worst)."""
    rows = DEFAULT_ROWS if model is None else default_rows(model)
    step = rows if batch_size is None else int(batch_size)
    if step < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if batch_size is None:
        chunks = -(-n // step)
        for i in range(chunks):  # sizes differ by at most one row
            yield slice(n * i // chunks, n * (i + 1) // chunks)
        return
    for start in range(0, n, step):
        yield slice(start, min(start + step, n))


def compute_model(model, dtype=None):
    """`model` computing in `dtype` (None: its own, float64): "float32" gives a float32 copy of its weights.

    Inputs and results stay float64 arrays; only the network's passes run in the compute dtype.
    """
    return model if dtype is None else model.astype(dtype)
