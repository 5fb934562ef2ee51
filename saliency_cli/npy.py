"""Strict, bounded reading of .npy data from any byte stream: never unpickles, never evaluates the header.

A .npy file is a magic string, a version, a header length, a header (the text of a Python dict literal)
and the raw array bytes. The header is parsed here by a small parser that accepts exactly the dict numpy
writes: `{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }` with the three keys in any order,
`descr` one of the dtype strings below, `shape` a tuple of non-negative plain integers. Nothing else is
read: at most the bytes the header promises (bounded by the caller's limit), then one byte to refuse
trailing data, so an endless stream (/dev/zero, a pipe that never ends) costs a bounded read.
"""

from __future__ import annotations

import io
import re
import struct

import numpy as np

MAGIC = b"\x93NUMPY"
#: Longest header accepted (numpy writes ~128 bytes; its own reader stops at 10,000).
MAX_HEADER_BYTES = 4096
#: Most dimensions a shape may have (numpy's own limit is 64).
MAX_DIMS = 32

#: Numeric dtypes accepted in data arrays: bool, (u)int8..64, float16/32/64, little- or big-endian.
#: NOTE: no longdouble (platform-dependent width, and values beyond float64's range), no complex.
NUMERIC = frozenset(
    ["|b1", "|i1", "|u1"]
    + [f"{order}{kind}{size}" for order in "<>" for kind in "iu" for size in (2, 4, 8)]
    + [f"{order}f{size}" for order in "<>" for size in (2, 4, 8)]
)
#: The float dtypes a model's weights may be stored in (the model format documents exactly these).
FLOATS = frozenset(f"{order}f{size}" for order in "<>" for size in (2, 4, 8))
_TEXT = re.compile(r"(?:[<>]U|\|S)[1-9][0-9]{0,8}")

_TOKEN = re.compile(
    r"\s*(?:(?P<punct>[{}():,])|'(?P<s1>[^'\\\n]{0,64})'|\"(?P<s2>[^\"\\\n]{0,64})\""
    r"|(?P<int>[0-9]{1,20})|(?P<word>True|False))"
)


class NpyError(ValueError):
    """The bytes are not one .npy array this tool accepts; the message says why, on one line."""


class NpyDtypeError(NpyError):
    """The array's dtype is not one the reader accepts."""

    def __init__(self, descr: str):
        super().__init__(f"dtype {descr!r} is not accepted here")
        self.descr = descr


def _tokens(header: str) -> list[tuple[str, object]]:
    out, pos, end = [], 0, len(header.rstrip())
    while pos < end:
        match = _TOKEN.match(header, pos)
        if match is None:
            raise NpyError(f"malformed header near {header[pos : pos + 20].strip()!r}")
        pos = match.end()
        kind = match.lastgroup
        if kind in ("s1", "s2"):
            out.append(("str", match.group(kind)))
        elif kind == "int":
            out.append(("int", int(match.group(kind))))
        elif kind == "word":
            out.append(("bool", match.group(kind) == "True"))
        else:
            out.append((match.group(kind), None))
    return out


def parse_header(header: str) -> tuple[str, bool, tuple[int, ...]]:
    """(descr, fortran_order, shape) of a .npy header text; NpyError unless it is exactly numpy's dict."""
    if len(header) > MAX_HEADER_BYTES:
        raise NpyError(f"header of {len(header):,} bytes (at most {MAX_HEADER_BYTES:,})")
    tokens = _tokens(header)
    pos = 0

    def take(kind: str):
        nonlocal pos
        if pos >= len(tokens) or tokens[pos][0] != kind:
            found = tokens[pos][0] if pos < len(tokens) else "the end"
            raise NpyError(f"malformed header: expected {kind!r}, found {found!r}")
        pos += 1
        return tokens[pos - 1][1]

    def peek() -> str | None:
        return tokens[pos][0] if pos < len(tokens) else None

    fields: dict[str, object] = {}
    take("{")
    while peek() != "}":
        key = take("str")
        if key not in ("descr", "fortran_order", "shape"):
            raise NpyError(f"unknown header key {key!r}")
        if key in fields:
            raise NpyError(f"header key {key!r} given twice")
        take(":")
        if key == "descr":
            fields[key] = take("str")
        elif key == "fortran_order":
            fields[key] = take("bool")
        else:
            take("(")
            dims: list[int] = []
            while peek() != ")":
                dims.append(take("int"))
                if len(dims) > MAX_DIMS:
                    raise NpyError(f"shape has more than {MAX_DIMS} dimensions")
                if peek() != ")":
                    take(",")
            take(")")
            if len(dims) == 1 and tokens[pos - 2][0] != ",":
                raise NpyError("malformed header: a one-dimensional shape needs a trailing comma")
            fields[key] = tuple(dims)
        if peek() != "}":
            take(",")
    take("}")
    if pos != len(tokens):
        raise NpyError("malformed header: text after the closing brace")
    if missing := [k for k in ("descr", "fortran_order", "shape") if k not in fields]:
        raise NpyError(f"header lacks {', '.join(missing)}")
    return fields["descr"], fields["fortran_order"], fields["shape"]  # type: ignore[return-value]


def _read_exactly(stream, n: int) -> bytes:
    chunks, left = [], n
    while left > 0:
        chunk = stream.read(min(left, 1 << 20))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def read_npy(
    stream,
    max_bytes: int,
    dtypes: frozenset[str] = NUMERIC,
    text: bool = False,
    max_values: int | None = None,
    shape: tuple[int, ...] | None = None,
) -> np.ndarray:
    """The one array in `stream` (a binary file object, read to its end but never beyond the array + 1 byte).

    `max_bytes` bounds the array data the header may promise and `max_values` its number of values;
    `dtypes` are the accepted `descr` strings (and, with `text`, unicode/byte strings too).
    With `shape`, the header must promise exactly that shape. Raises NpyError naming the problem.
    """
    expected_shape = shape
    prefix = _read_exactly(stream, 8)
    if not prefix.startswith(MAGIC[: len(prefix)]) or len(prefix) < len(MAGIC):
        raise NpyError("not a .npy array (no .npy magic number)")
    if len(prefix) < 8:
        raise NpyError("truncated in the .npy preamble")
    major, minor = prefix[6], prefix[7]
    if (major, minor) not in ((1, 0), (2, 0), (3, 0)):
        raise NpyError(f"unknown .npy format version {major}.{minor}")
    size_bytes = _read_exactly(stream, 2 if major == 1 else 4)
    if len(size_bytes) < (2 if major == 1 else 4):
        raise NpyError("truncated in the .npy header length")
    (length,) = struct.unpack("<H" if major == 1 else "<I", size_bytes)
    if length > MAX_HEADER_BYTES:
        raise NpyError(f"header of {length:,} bytes (at most {MAX_HEADER_BYTES:,})")
    raw = _read_exactly(stream, length)
    if len(raw) < length:
        raise NpyError(f"the header promises {length:,} header bytes but only {len(raw):,} follow (truncated?)")
    try:
        header = raw.decode("utf-8" if major == 3 else "latin-1")
    except UnicodeDecodeError:
        raise NpyError("header is not valid text") from None
    descr, fortran, shape = parse_header(header)
    if not (descr in dtypes or (text and _TEXT.fullmatch(descr))):
        raise NpyDtypeError(descr)
    if expected_shape is not None and shape != tuple(expected_shape):
        raise NpyError(f"has shape {shape}, expected {tuple(expected_shape)}")
    dtype = np.dtype(descr)
    count = 1
    for dim in shape:
        count *= dim
    needed = count * dtype.itemsize
    if max_values is not None and count > max_values:
        raise NpyError(f"the header promises {count:,} values, more than the {max_values:,} allowed here")
    if needed > max_bytes:
        raise NpyError(f"the header promises {needed:,} bytes of data, more than the {max_bytes:,} allowed here")
    data = _read_exactly(stream, needed)
    if len(data) < needed:
        raise NpyError(f"the header promises {needed:,} bytes of data but only {len(data):,} follow (truncated?)")
    if stream.read(1):
        raise NpyError(f"trailing bytes after the {needed:,} bytes of array data")
    # NOTE: a read-only view of the bytes read (no second copy); callers convert to float64 anyway.
    return np.frombuffer(data, dtype=dtype, count=count).reshape(shape, order="F" if fortran else "C")


def load_npy_bytes(data: bytes, max_bytes: int | None = None, dtypes: frozenset[str] = NUMERIC) -> np.ndarray:
    """The array stored in `data` (the bytes of one .npy file); NpyError when they are not exactly one."""
    return read_npy(io.BytesIO(data), len(data) if max_bytes is None else max_bytes, dtypes)
