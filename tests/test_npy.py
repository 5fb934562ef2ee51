"""The strict .npy reader: numpy's own files read back exactly; every other header is refused, bounded."""

from __future__ import annotations

import io
import struct
import subprocess
import sys

import numpy as np
import pytest

from saliency_cli.npy import MAX_HEADER_BYTES, NUMERIC, NpyError, load_npy_bytes, parse_header, read_npy


def npy(array) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return buf.getvalue()


def with_header(header: str, data: bytes = b"", version: int = 1) -> bytes:
    header += " " * (63 - (len(header) + 10) % 64) + "\n"
    size = struct.pack("<H", len(header)) if version == 1 else struct.pack("<I", len(header))
    return b"\x93NUMPY" + bytes([version, 0]) + size + header.encode("latin-1") + data


@pytest.mark.parametrize(
    "array",
    [
        np.arange(6.0).reshape(2, 3),
        np.asfortranarray(np.arange(12.0).reshape(3, 4)),
        np.arange(5, dtype=">i4"),
        np.array([True, False]),
        np.zeros((0, 3), np.float32),
        np.array(2.5, np.float16),
        np.arange(24, dtype=np.uint8).reshape(1, 2, 3, 4),
    ],
    ids=["f8", "fortran", "big-endian", "bool", "empty", "0-d f2", "u1 4-d"],
)
def test_numpy_files_read_back_exactly(array):
    back = load_npy_bytes(npy(array))
    assert back.shape == array.shape and back.dtype == array.dtype
    np.testing.assert_array_equal(back, array)


def test_version_2_and_3_headers():
    array = np.arange(3.0)
    for version in (2, 3):
        data = with_header("{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", array.tobytes(), version)
        np.testing.assert_array_equal(load_npy_bytes(data), array)


@pytest.mark.parametrize(
    ("header", "match"),
    [
        ("{'descr': '<f8', 'fortran_order': False, 'shape': (True,), }", "expected 'int', found 'bool'"),
        ("{'descr': '<f8', 'fortran_order': False, 'shape': (2, }", "expected 'int', found '}'"),
        ("{'descr': '<f8', 'fortran_order': False, 'shape': (" + "-" * 3000 + "1,), }", "malformed header near"),
        ("{'descr': '<f8', 'fortran_order': False, 'shape': (" + "(" * 3000 + "1,), }", "expected 'int'"),
        ("{'descr': '<f8', 'fortran_order': False, 'shape': (2), }", "needs a trailing comma"),
        ("{'descr': '<f8', 'fortran_order': False, 'shape': (-2,), }", "malformed header near"),
        ("{'descr': '<f8', 'fortran_order': False, 'shape': (2.0,), }", "malformed header"),
        ("{'descr': '<f8', 'fortran_order': 0, 'shape': (2,), }", "expected 'bool', found 'int'"),
        ("{'descr': '<f8', 'shape': (2,), }", "header lacks fortran_order"),
        ("{'descr': '<f8', 'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", "given twice"),
        ("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), 'x': 1}", "unknown header key 'x'"),
        ("{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (2,), }", "malformed header near"),
        ("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), } 1", "text after the closing brace"),
        ("{'descr': __import__('os'), 'fortran_order': False, 'shape': (2,), }", "malformed header near"),
        ("{'descr': '<f8', 'fortran_order': False, 'shape': (" + "1, " * 40 + "), }", "more than 32 dimensions"),
    ],
    ids=[
        "bool dim",
        "unclosed",
        "3000 minus signs",
        "nested parens",
        "no tuple",
        "negative",
        "float",
        "int flag",
        "missing key",
        "duplicate",
        "extra key",
        "structured",
        "trailing text",
        "call",
        "too many dims",
    ],
)
def test_malformed_headers_are_refused_by_name(header, match):
    with pytest.raises(NpyError, match=match):
        load_npy_bytes(with_header(header, b"\x00" * 16))


@pytest.mark.parametrize("descr", ["<f16", "<c16", "|O", "<U3", "<M8[s]", "=f8", "<b1", "<f3"])
def test_only_documented_numeric_dtypes_are_accepted(descr):
    with pytest.raises(NpyError, match="is not accepted"):
        load_npy_bytes(with_header(f"{{'descr': '{descr}', 'fortran_order': False, 'shape': (1,), }}", b"\0" * 32))


def test_a_header_longer_than_the_bound_is_refused_before_it_is_read():
    data = b"\x93NUMPY\x02\x00" + struct.pack("<I", 2**31) + b" " * 64
    with pytest.raises(NpyError, match=f"at most {MAX_HEADER_BYTES:,}"):
        load_npy_bytes(data)


def test_trailing_and_missing_bytes_are_refused():
    good = npy(np.arange(4.0))
    with pytest.raises(NpyError, match="trailing bytes after the 32 bytes"):
        load_npy_bytes(good + b"x")
    with pytest.raises(NpyError, match="promises 32 bytes of data but only 31 follow"):
        load_npy_bytes(good[:-1])
    with pytest.raises(NpyError, match=r"no \.npy magic"):
        load_npy_bytes(b"\x93NUMPZ" + good[6:])


class Endless(io.RawIOBase):
    """A stream of `prefix` then zeros forever, counting what was read."""

    def __init__(self, prefix: bytes):
        self.prefix, self.read_bytes = prefix, 0

    def read(self, n=-1):
        assert n is not None and n >= 0, "the reader must never ask for everything"
        out = (self.prefix[self.read_bytes : self.read_bytes + n]).ljust(n, b"\0")
        self.read_bytes += n
        return out


def test_an_endless_stream_after_a_valid_array_costs_one_extra_byte():
    good = npy(np.arange(4.0))
    stream = Endless(good)
    with pytest.raises(NpyError, match="trailing bytes"):
        read_npy(stream, 1 << 20)
    assert stream.read_bytes == len(good) + 1


def test_the_promised_size_is_bounded_before_reading():
    stream = Endless(with_header("{'descr': '<f8', 'fortran_order': False, 'shape': (1000, 1000), }"))
    with pytest.raises(NpyError, match="more than the 1,000 allowed here"):
        read_npy(stream, 1000, NUMERIC)
    assert stream.read_bytes < 200
    with pytest.raises(NpyError, match="1,000,000 values, more than the 10 allowed"):
        read_npy(Endless(stream.prefix), 10**9, NUMERIC, max_values=10)


def test_headers_are_never_evaluated(tmp_path):
    # If the header reached an evaluator, this would create a file.
    marker = tmp_path / "evaluated"
    header = f"{{'descr': '<f8', 'fortran_order': False, 'shape': (open({str(marker)!r}, 'w'),), }}"
    with pytest.raises(NpyError):
        load_npy_bytes(with_header(header))
    assert not marker.exists()


def test_parse_header_is_linear_on_long_inputs():
    # A header at the length bound, of the worst kind (many tokens), parses fast.
    code = (
        "import time; from saliency_cli.npy import parse_header, NpyError\n"
        "h = '{' + \"'shape': (\" + '1,' * 2000\n"
        "t = time.perf_counter()\n"
        "try: parse_header(h[:4096])\n"
        "except NpyError: pass\n"
        "print(time.perf_counter() - t)"
    )
    elapsed = float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    assert elapsed < 0.5


def test_parse_header_examples():
    assert parse_header("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }  \n") == ("<f8", False, (2, 3))
    assert parse_header('{"shape": (), "fortran_order": True, "descr": "|u1"}') == ("|u1", True, ())
