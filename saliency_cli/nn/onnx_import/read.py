"""Reading an .onnx file safely: a size cap before parsing, parse errors as one line, tensors checked against
their declared sizes before they are decoded, and external data only from files beside the model."""

from __future__ import annotations

import os

import numpy as np

from ...reading import TooLong, read_bounded
from ..limits import MAX_FILE_BYTES, MAX_PARAMETERS


class Refused(ValueError):
    """The graph uses something the importer does not take; the message is one line naming the op and node."""


#: Most bytes of external data one model may read (every parameter as float64).
MAX_EXTERNAL_BYTES = MAX_PARAMETERS * 8


def onnx_module():
    """The onnx package, or a one-line refusal saying how to install it."""
    try:
        import onnx
    except ImportError:
        raise Refused("reading .onnx files needs the onnx package: pip install 'saliency-cli[onnx]'") from None
    return onnx


def parse(path: str):
    """The ModelProto of the file at `path` (read up to the size cap; external data not loaded) and the SHA-256
    of the file's bytes."""
    import hashlib

    onnx = onnx_module()
    try:
        data = read_bounded(path, MAX_FILE_BYTES)
    except TooLong as exc:
        raise Refused(exc.larger_than("a model")) from None
    if not data:
        raise Refused("empty file")
    try:
        model = onnx.ModelProto()
        model.ParseFromString(data)
    except Exception as exc:  # NOTE: protobuf's DecodeError and friends: any failure to parse is one line
        raise Refused(f"not a valid ONNX file (the protobuf does not parse: {type(exc).__name__})") from None
    if not model.HasField("graph"):
        raise Refused("not a valid ONNX file (no graph)")
    return model, hashlib.sha256(data).hexdigest()


#: ONNX TensorProto data types this importer reads: float ones for weights, integer ones for shapes.
_DTYPES = {1: np.float32, 10: np.float16, 11: np.float64, 6: np.int32, 7: np.int64, 9: np.bool_}
_FIELDS = {1: "float_data", 11: "double_data", 6: "int32_data", 7: "int64_data", 10: "int32_data", 9: "int32_data"}


def tensor_array(tensor, folder: str) -> np.ndarray:
    """A TensorProto's values, its declared size checked against the bytes it holds before anything is built."""
    name = tensor.name or "(unnamed)"
    dtype = _DTYPES.get(tensor.data_type)
    if dtype is None:
        raise Refused(f"tensor {name!r} has an unsupported data type ({tensor.data_type})")
    dims = [int(d) for d in tensor.dims]
    if any(d < 0 for d in dims):
        raise Refused(f"tensor {name!r} has a negative dimension {dims}")
    size = 1
    for d in dims:
        size *= d
    if size > MAX_PARAMETERS:
        raise Refused(f"tensor {name!r} declares {size:,} values; a model may have at most {MAX_PARAMETERS:,}")
    item = np.dtype(dtype).itemsize
    if tensor.data_location == 1:  # EXTERNAL
        raw = _external(tensor, folder, size * item)
    elif tensor.HasField("raw_data"):
        raw = tensor.raw_data
    else:
        values = getattr(tensor, _FIELDS[tensor.data_type])
        if len(values) != size:
            raise Refused(f"tensor {name!r} holds {len(values):,} values for dims {dims}")
        if tensor.data_type == 10:  # float16 stored as its bits in int32_data
            return np.array(values, dtype=np.uint16).view(np.float16).reshape(dims)
        return np.array(values, dtype=dtype).reshape(dims)
    if len(raw) != size * item:
        raise Refused(f"tensor {name!r} holds {len(raw):,} bytes for dims {dims} of {np.dtype(dtype).name}")
    return np.frombuffer(raw, dtype=np.dtype(dtype).newbyteorder("<")).astype(dtype).reshape(dims)


def _external(tensor, folder: str, nbytes: int) -> bytes:
    """External data of `tensor`: a file beside the model (no '..', no absolute path, no symlink out)."""
    entries = {e.key: e.value for e in tensor.external_data}
    where = entries.get("location", "")
    name = tensor.name or "(unnamed)"
    parts = where.replace("\\", "/").split("/")
    if not where or os.path.isabs(where) or where.startswith(("/", "\\")) or ".." in parts or ":" in where:
        raise Refused(f"tensor {name!r}: external data location {where[:60]!r} is not a file beside the model")
    base = os.path.realpath(folder)
    path = os.path.realpath(os.path.join(base, where))
    if os.path.commonpath([base, path]) != base:
        raise Refused(f"tensor {name!r}: external data location {where[:60]!r} leads out of the model's folder")
    try:
        offset, length = int(entries.get("offset", 0)), int(entries.get("length", nbytes))
    except ValueError:
        raise Refused(f"tensor {name!r}: external data offset or length is not an integer") from None
    if offset < 0 or length != nbytes or nbytes > MAX_EXTERNAL_BYTES:
        raise Refused(f"tensor {name!r}: external data of {length} bytes at {offset} for {nbytes} bytes declared")
    try:
        with open(path, "rb") as fh:
            if os.fstat(fh.fileno()).st_size < offset + nbytes:
                raise Refused(f"tensor {name!r}: external data file {where[:60]!r} is too short")
            fh.seek(offset)
            return fh.read(nbytes)
    except OSError as exc:
        raise Refused(f"tensor {name!r}: cannot read external data {where[:60]!r} ({exc.strerror})") from None
