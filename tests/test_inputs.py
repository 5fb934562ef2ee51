"""Every reader of user arrays (--input file or stdin, --baseline, model members) shares one strict, bounded
.npy reader: hostile headers, trailing junk and endless streams are one line and exit 2."""

from __future__ import annotations

import io
import struct
import time
import zipfile

import numpy as np
import pytest

from saliency_cli.nn.modelfile import model_bytes
from saliency_cli.tasks import TASKS

HEADERS = {
    "bool dim": "{'descr': '<f8', 'fortran_order': False, 'shape': (True,), }",
    "unclosed": "{'descr': '<f8', 'fortran_order': False, 'shape': (2, }",
    "3000 minus": "{'descr': '<f8', 'fortran_order': False, 'shape': (" + "-" * 3000 + "1,), }",
}


def with_header(header: str, data: bytes = b"\0" * 64) -> bytes:
    header += " " * (63 - (len(header) + 10) % 64) + "\n"
    version, size = (1, struct.pack("<H", len(header))) if len(header) < 65536 else (2, struct.pack("<I", len(header)))
    return b"\x93NUMPY" + bytes([version, 0]) + size + header.encode() + data


def npy(array) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return buf.getvalue()


def one_line(result) -> str:
    assert result.exit_code == 2, (result.exit_code, result.stderr)
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
    return result.stderr


@pytest.mark.parametrize("kind", sorted(HEADERS))
def test_bad_headers_in_every_reader(kind, run, tmp_path):
    bad = with_header(HEADERS[kind])
    path = tmp_path / "bad.npy"
    path.write_bytes(bad)
    assert "unreadable .npy" in one_line(run("lrp", "--input", path))
    assert "unreadable .npy" in one_line(run("lrp", "--input", "-", input=bad))
    assert "unreadable .npy" in one_line(run("saliency", "--methods", "ig", "--baseline", path))
    assert "unreadable .npy" in one_line(run("saliency", "--methods", "ig", "--baseline", "-", input=bad))
    # The same header on a model member.
    src, buf = zipfile.ZipFile(io.BytesIO(model_bytes(TASKS["blobs6x6"].build_network(seed=0)))), io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for info in src.infolist():
            zf.writestr(info.filename, bad if info.filename == "1.bias.npy" else src.read(info))
    model = tmp_path / "m.npz"
    model.write_bytes(buf.getvalue())
    assert "'1.bias': malformed header" in one_line(run("models", model))


def test_trailing_junk_after_an_array_on_stdin_is_refused_after_one_byte(run):
    probe = npy(TASKS["blobs8x8"].probe("clean", 0)[0])
    stream = _Counting(probe + b"junk" * 10**6)
    err = one_line(run("saliency", "--input", "-", "--methods", "vanilla", input=stream))
    assert "trailing bytes after the 1,024 bytes of array data" in err
    assert stream.count <= len(probe) + 1


def test_trailing_junk_after_an_array_in_a_file_is_refused(run, tmp_path):
    path = tmp_path / "p.npy"
    path.write_bytes(npy(TASKS["blobs8x8"].probe("clean", 0)[0]) + b"\n")
    assert "trailing bytes" in one_line(run("lrp", "--task", "blobs8x8", "--input", path))


@pytest.mark.parametrize(
    "args",
    [
        ["saliency", "--input", "/dev/zero"],
        ["saliency", "--methods", "ig", "--baseline", "/dev/zero"],
        ["lrp", "--model", "/dev/zero"],
        ["models", "/dev/zero"],
    ],
)
def test_endless_devices_are_refused_at_once(args, run):
    start = time.perf_counter()
    one_line(run(*args))
    assert time.perf_counter() - start < 5


def test_an_endless_stdin_is_refused_at_once(run):
    with open("/dev/zero", "rb") as zero:
        assert "not a .npy array" in one_line(run("saliency", "--input", "-", input=zero))


def test_a_valid_header_on_an_endless_stream_reads_only_what_it_promises(run):
    # A valid probe header followed by zeros forever: the probe's bytes are read, then one byte more.
    probe = npy(TASKS["blobs8x8"].probe("clean", 0)[0])
    stream = _Counting(probe[: len(probe) - 1024], endless=True)
    assert "trailing bytes" in one_line(run("saliency", "--input", "-", input=stream))
    assert stream.count == len(probe) + 1


def test_a_header_promising_more_than_the_input_bound_is_refused_before_reading(run):
    from saliency_cli.inputs import MAX_INPUT_VALUES

    stream = _Counting(with_header(f"{{'descr': '<f8', 'fortran_order': False, 'shape': ({MAX_INPUT_VALUES + 1},), }}"))
    assert f"more than the {MAX_INPUT_VALUES:,} allowed" in one_line(run("saliency", "--input", "-", input=stream))
    assert stream.count < 200


def test_longdouble_inputs_are_refused_without_warnings(run, tmp_path):
    path = tmp_path / "p.npy"
    path.write_bytes(npy(np.full((2, 8, 8), 1e4000, dtype=np.longdouble)))
    assert "dtype" in one_line(run("saliency", "--input", path))


class _Counting(io.RawIOBase):
    """`data`, then (if `endless`) zeros forever; counts the bytes handed out."""

    def __init__(self, data: bytes, endless: bool = False):
        self.data, self.endless, self.count = data, endless, 0

    def readable(self):
        return True

    def readinto(self, buffer):
        n = len(buffer)
        chunk = self.data[self.count : self.count + n]
        if self.endless:
            chunk = chunk.ljust(n, b"\0")
        buffer[: len(chunk)] = chunk
        self.count += len(chunk)
        return len(chunk)


def test_an_endless_targets_file_is_refused(run, tmp_path):
    batch = tmp_path / "b.npy"
    batch.write_bytes(npy(np.stack([TASKS["blobs8x8"].probe("clean", s)[0] for s in (0, 1)])))
    err = one_line(run("saliency", "--input", batch, "--targets", "/dev/zero"))
    assert "--targets /dev/zero: longer than 16,777,216 bytes" in err
