"""The model archive: hostile zip structures are refused on one line (exit 2) before anything is decompressed."""

from __future__ import annotations

import io
import json
import struct
import tracemalloc
import zipfile
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from saliency_cli.errors import ModelFileError
from saliency_cli.nn.modelfile import load_model, model_bytes
from saliency_cli.tasks import TASKS


@pytest.fixture(scope="module")
def good() -> bytes:
    return model_bytes(TASKS["blobs6x6"].build_network(seed=1))


def deflated(data: bytes) -> bytes:
    """The same archive with every member deflated."""
    src, buf = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for info in src.infolist():
            zf.writestr(info.filename, src.read(info))
    return buf.getvalue()


def headers(data: bytes, signature: bytes) -> list[int]:
    out, start = [], 0
    while (at := data.find(signature, start)) >= 0:
        out.append(at)
        start = at + 4
    return out


def patch16(data: bytes, offset: int, value: int) -> bytes:
    return data[:offset] + struct.pack("<H", value) + data[offset + 2 :]


def set_everywhere(data: bytes, local_offset: int, central_offset: int, value: int) -> bytes:
    """Set a 16-bit field in every local (PK 3 4) and central (PK 1 2) header."""
    for at in headers(data, b"PK\x03\x04"):
        data = patch16(data, at + local_offset, value)
    for at in headers(data, b"PK\x01\x02"):
        data = patch16(data, at + central_offset, value)
    return data


def refused(tmp_path, data: bytes, run, match: str) -> None:
    path = tmp_path / "m.npz"
    path.write_bytes(data)
    with pytest.raises(ModelFileError, match=match):
        load_model(path)
    result = run("models", path)
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_a_deflated_archive_still_loads(good, tmp_path):
    path = tmp_path / "m.npz"
    path.write_bytes(deflated(good))
    assert load_model(path).num_parameters() == TASKS["blobs6x6"].build_network(seed=1).num_parameters()


@pytest.mark.parametrize(
    ("flag", "match"),
    [(0x1, "is encrypted"), (0x20, "compressed patched data"), (0x40, "strong encryption")],
    ids=["encrypted", "bit5", "bit6"],
)
def test_refused_flag_bits(flag, match, good, tmp_path, run):
    refused(tmp_path, set_everywhere(good, 6, 8, flag), run, match)


@pytest.mark.parametrize("method", [99, 14, 12, 1])
def test_unknown_compression_methods_are_refused_before_reading(method, good, tmp_path, run):
    refused(tmp_path, set_everywhere(good, 8, 10, method), run, f"compression method {method}")


def test_corrupt_deflate_data(good, tmp_path, run):
    data = bytearray(deflated(good))
    at = headers(bytes(data), b"PK\x03\x04")[-2]  # a weight member's local header
    name_len, extra_len = struct.unpack("<HH", data[at + 26 : at + 30])
    body = at + 30 + name_len + extra_len
    data[body : body + 16] = b"\xff" * 16
    refused(tmp_path, bytes(data), run, r"member '\d\.\w+' is corrupt|ends early")


def test_a_local_extra_field_of_65535_bytes(good, tmp_path, run):
    data = good
    last = headers(data, b"PK\x03\x04")[-1]
    refused(tmp_path, patch16(data, last + 28, 65535), run, r"ends early|corrupt")


def test_two_members_of_the_same_name_are_refused(good, tmp_path, run):
    src, buf = zipfile.ZipFile(io.BytesIO(good)), io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for info in src.infolist():
            zf.writestr(info.filename, src.read(info))
        with pytest.warns(UserWarning, match="Duplicate name"):
            zf.writestr("meta.npy", src.read("meta.npy"))
    refused(tmp_path, buf.getvalue(), run, "member 'meta.npy' appears twice")


def test_a_member_that_is_not_an_array_is_refused(good, tmp_path, run):
    buf = io.BytesIO(good)
    with zipfile.ZipFile(buf, "a") as zf:
        zf.writestr("README.txt", b"hello")
    refused(tmp_path, buf.getvalue(), run, "unexpected member 'README.txt'")


def test_trailing_bytes_inside_a_member(good, tmp_path, run):
    src, buf = zipfile.ZipFile(io.BytesIO(good)), io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for info in src.infolist():
            extra = b"\x00" * 8 if info.filename == "1.bias.npy" else b""
            zf.writestr(info.filename, src.read(info) + extra)
    refused(tmp_path, buf.getvalue(), run, "'1.bias': trailing bytes after the 128 bytes of array data")


def test_a_zip_bomb_is_refused_from_its_declared_size(tmp_path, run):
    # 1 MiB of compressed zeros declaring 1 GiB for a layer whose settings allow 2 x 2 weights.
    meta = {"format": "saliency-cli-model", "version": 1, "input_shape": [1, 1, 2], "layers": []}
    meta["layers"] = [{"type": "flatten"}, {"type": "dense", "in_features": 2, "out_features": 2}]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        member = io.BytesIO()
        np.save(member, np.array(json.dumps(meta)))
        zf.writestr("meta.npy", member.getvalue())
        zf.writestr("1.bias.npy", _npy(np.zeros(2)))
        with zf.open("1.weight.npy", "w", force_zip64=True) as fh:
            chunk = b"\x00" * 2**20
            for _ in range(1024):
                fh.write(chunk)
    assert len(buf.getvalue()) < 2 * 2**20
    refused(tmp_path, buf.getvalue(), run, r"member '1.weight' declares 1,073,741,824 bytes")


def test_a_member_lying_about_its_size_is_still_read_with_a_cap(tmp_path):
    # The central directory declares 200 bytes; the deflated data expands to 1 GiB: reading stops at the cap.
    from saliency_cli.nn.modelzip import Archive, ArchiveError

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        with zf.open("0.weight.npy", "w", force_zip64=True) as fh:
            fh.write(_npy(np.zeros(2))[:-16])
            for _ in range(256):
                fh.write(b"\x00" * 2**20)
    data = bytearray(buf.getvalue())
    at = headers(bytes(data), b"PK\x01\x02")[0]
    data[at + 24 : at + 28] = struct.pack("<I", 200)  # the declared uncompressed size
    archive = Archive(bytes(data), max_members=3)
    assert archive.members["0.weight"].file_size == 200
    tracemalloc.start()
    try:
        with pytest.raises(ArchiveError, match=r"member '0\.weight' is corrupt"):
            archive.read("0.weight", 16, frozenset({"<f8"}), "float64")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * 2**20


def _npy(array) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return buf.getvalue()


def test_a_model_file_on_an_endless_stream_is_refused_quickly(tmp_path):
    with pytest.raises(ModelFileError, match=r"not an \.npz model file"):
        load_model("/dev/zero")


# -- our reader against the standard library's zipfile -------------------------------------------------------------


def _zipfile_members(data: bytes) -> dict[str, bytes] | None:
    """Every member's bytes as zipfile reads them (CRC checked), or None when zipfile refuses the archive."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            return {info.filename.removesuffix(".npy"): zf.read(info) for info in zf.infolist()}
    except Exception:
        return None


def _our_members(data: bytes) -> dict[str, bytes] | None:
    from saliency_cli.nn.modelzip import Archive, ArchiveError

    try:
        archive = Archive(data, max_members=64)
        return {key: archive._member_bytes(info) for key, info in archive.members.items()}
    except ArchiveError:
        return None
    except (ValueError, EOFError, zlib.error, struct.error):  # what read() words as "corrupt" / "ends early"
        return None


def _archives(good: bytes) -> dict[str, bytes]:
    arrays = {"meta": np.array("{}"), "0.weight": np.arange(12.0).reshape(3, 4), "0.bias": np.ones(3, np.float32)}
    out = {"ours": good, "deflated": deflated(good)}
    for name, save in (("savez", np.savez), ("savez_compressed", np.savez_compressed)):
        buf = io.BytesIO()
        save(buf, **arrays)
        out[name] = buf.getvalue()
    with_comment = io.BytesIO()
    with zipfile.ZipFile(with_comment, "w") as zf:
        zf.comment = b"a comment after the end record"
        for key, value in arrays.items():
            zf.writestr(f"{key}.npy", _npy(value))
    out["comment"] = with_comment.getvalue()
    return out


def test_valid_archives_read_the_same_bytes_as_zipfile(good):
    for kind, data in _archives(good).items():
        theirs = _zipfile_members(data)
        assert theirs is not None, kind
        assert _our_members(data) == theirs, kind


@pytest.mark.parametrize("kind", ["ours", "savez_compressed"])
def test_an_archive_needing_a_newer_zip_version_is_refused_as_zipfile_refuses_it(good, kind):
    from saliency_cli.nn.modelzip import Archive, ArchiveError

    blob = bytearray(_archives(good)[kind])
    central = blob.find(b"PK\x01\x02")
    blob[central + 6] = 64  # the first member's "version needed to extract": 6.4
    assert _zipfile_members(bytes(blob)) is None
    with pytest.raises(ArchiveError, match=r"needs zip version 6\.4 to extract"):
        Archive(bytes(blob), max_members=64)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_a_damaged_archive_is_read_as_zipfile_reads_it_or_refused(good, data):
    """Random byte changes: our reader never reads bytes that zipfile would not (same bytes where both read),
    and refuses only with ArchiveError or the member errors that `read` words on one line."""
    archives = _archives(good)
    blob = bytearray(archives[data.draw(st.sampled_from(sorted(archives)))])
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(blob) - 1))
        blob[at] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()):
        blob = blob[: data.draw(st.integers(0, len(blob)))]
    ours = _our_members(bytes(blob))
    if ours is not None:
        assert ours == _zipfile_members(bytes(blob))
