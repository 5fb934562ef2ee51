"""Constant folding: the nodes whose inputs are all constants (the Shape/Gather/Cast/Slice/Concat chains
exporters emit for flattening, Constant nodes, casts of weights) are evaluated once at import.

`Shape` of an activation is a constant too, for the model's fixed per-sample shape: its batch entry is the
marker `BATCH`, which a Reshape later recognises as the batch axis (fixed to the batch at hand).
"""

from __future__ import annotations

import numpy as np

from ..limits import MAX_PARAMETERS
from .read import _DTYPES, Refused

#: The batch axis's size in folded shapes: a value no real dimension has.
BATCH = (1 << 40) + 7


def _ints(a) -> list[int]:
    return [int(v) for v in np.asarray(a).reshape(-1)]


def _axes(attrs, args, rank: int, index: int = 1) -> list[int] | None:
    axes = attrs.get("axes")
    if axes is None and len(args) > index and args[index] is not None:
        axes = _ints(args[index])
    return None if axes is None else [a + rank if a < 0 else a for a in axes]


def _slice(attrs, args):
    x = args[0]
    if "starts" in attrs:  # opset < 10: attributes
        starts, ends, axes, steps = attrs["starts"], attrs["ends"], attrs.get("axes"), None
    else:
        starts, ends = _ints(args[1]), _ints(args[2])
        axes = _ints(args[3]) if len(args) > 3 and args[3] is not None else None
        steps = _ints(args[4]) if len(args) > 4 and args[4] is not None else None
    axes = list(range(len(starts))) if axes is None else axes
    steps = [1] * len(starts) if steps is None else steps
    index = [slice(None)] * x.ndim
    for a, s, e, k in zip(axes, starts, ends, steps, strict=True):
        index[a] = slice(s, e, k)
    return x[tuple(index)]


def _reshape(attrs, args):
    x, shape = args[0], _ints(args[1])
    if not attrs.get("allowzero", 0):
        shape = [x.shape[i] if s == 0 else s for i, s in enumerate(shape)]
    return x.reshape(shape)


def _unsqueeze(attrs, args):
    x = args[0]
    axes = attrs.get("axes")
    axes = _ints(args[1]) if axes is None else axes
    rank = x.ndim + len(axes)
    out = x
    for a in sorted(a + rank if a < 0 else a for a in axes):
        out = np.expand_dims(out, a)
    return out


def _squeeze(attrs, args):
    x = args[0]
    axes = _axes(attrs, args, x.ndim)
    return np.squeeze(x, axis=tuple(axes)) if axes else np.squeeze(x)


def _cast(attrs, args):
    dtype = _DTYPES.get(attrs.get("to"))
    if dtype is None:
        raise Refused(f"Cast to data type {attrs.get('to')}")
    return args[0].astype(dtype)


def _constant_of_shape(attrs, args):
    shape = _ints(args[0])
    if any(s < 0 for s in shape) or int(np.prod(shape, dtype=object)) > MAX_PARAMETERS:
        raise Refused(f"ConstantOfShape of shape {shape}")
    value = attrs.get("value")
    value = np.zeros(1, np.float32) if value is None else value
    return np.full(shape, value.reshape(-1)[0], dtype=value.dtype)


def _arith(fn):
    def run(attrs, args):
        a, b = args
        with np.errstate(all="ignore"):
            out = fn(a, b)
        if a.dtype.kind in "iu" and b.dtype.kind in "iu":  # ONNX integer division truncates
            out = np.trunc(out).astype(np.result_type(a, b)) if fn is np.true_divide else out
        return np.asarray(out)

    return run


#: ONNX op -> f(attributes, constant inputs) -> constant output.
FOLDS = {
    "Identity": lambda attrs, args: args[0],
    "Cast": _cast,
    "Gather": lambda attrs, args: np.take(args[0], args[1].astype(np.int64), axis=attrs.get("axis", 0)),
    "Slice": _slice,
    "Concat": lambda attrs, args: np.concatenate([np.atleast_1d(a) for a in args], axis=attrs["axis"]),
    "Reshape": _reshape,
    "Unsqueeze": _unsqueeze,
    "Squeeze": _squeeze,
    "Transpose": lambda attrs, args: np.transpose(args[0], attrs.get("perm")),
    "Flatten": lambda attrs, args: args[0].reshape(int(np.prod(args[0].shape[: attrs.get("axis", 1)])), -1),
    "ConstantOfShape": _constant_of_shape,
    "Add": _arith(np.add),
    "Sub": _arith(np.subtract),
    "Mul": _arith(np.multiply),
    "Div": _arith(np.true_divide),
    "Neg": lambda attrs, args: -args[0],
    "Sqrt": lambda attrs, args: np.sqrt(args[0]),
    "Reciprocal": lambda attrs, args: np.reciprocal(args[0]),
}


def fold(op: str, attrs: dict, args: list) -> np.ndarray:
    """The constant output of `op` on constant `args` (None for an omitted optional input)."""
    try:
        out = np.asarray(FOLDS[op](attrs, args))
    except Refused:
        raise
    except (ValueError, IndexError, TypeError, KeyError, OverflowError, MemoryError) as exc:
        raise Refused(f"cannot evaluate its constant inputs ({type(exc).__name__})") from None
    if out.size > MAX_PARAMETERS:
        raise Refused(f"a constant of {out.size:,} values")
    return out
