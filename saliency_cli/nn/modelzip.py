"""The model file's zip archive, read defensively by our own reader: entries are inspected before any byte is
decompressed.

Only plain, unencrypted members stored or deflated are accepted, each name once; a member is decompressed
at most to the size its central directory entry declares, which the layer config has already bounded (plus
the .npy header), its CRC-32 is checked, and it must hold exactly one .npy array with nothing after it.

NOTE: not the zipfile module, which costs ~6 ms of every command's start-up (it imports pathlib, shutil, bz2
and lzma). Model files are small single-volume archives, which is all this reader accepts: the central
directory (with zip64 refused), each member's local header (its name must match), and its data.
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from typing import NamedTuple

import numpy as np

from ..errors import one_line
from ..npy import MAX_HEADER_BYTES, NpyDtypeError, NpyError, read_npy
from ..reading import TooLong, read_bounded

#: zip general-purpose flag bits refused: 0 encrypted, 5 compressed patched data, 6 strong encryption.
_REFUSED_FLAGS = {0x1: "is encrypted", 0x20: "uses compressed patched data", 0x40: "uses strong encryption"}
#: Compression methods read: 0 stored, 8 deflated.
_STORED, _DEFLATED = 0, 8
_METHODS = {_STORED: "stored", _DEFLATED: "deflated"}
#: Bytes a .npy member may hold beyond its array data: the preamble (at most 12 bytes) and the header.
HEADER_SLACK = 12 + MAX_HEADER_BYTES

# The zip structures read (APPNOTE.TXT 4.3): end of central directory, central directory entry, local header.
_END = struct.Struct("<4s4H2LH")
_CENTRAL = struct.Struct("<4s6H3L5H2L")
_LOCAL = struct.Struct("<4s5H3L2H")
#: the newest "version needed to extract" read (APPNOTE 6.3; numpy writes 2.0)
_MAX_VERSION = 63
_END_SIG, _CENTRAL_SIG, _LOCAL_SIG = b"PK\x05\x06", b"PK\x01\x02", b"PK\x03\x04"
_UTF8_NAME = 0x800


class ArchiveError(ValueError):
    """The archive or one of its members cannot be read safely; one line naming the problem."""


def read_file(path: str | os.PathLike, max_bytes: int) -> bytes:
    """The bytes of the file at `path`, refusing anything over `max_bytes` without reading it all
    (`files.read_bounded`).

    A file that does not start like a zip archive is refused after its first bytes, so a device or an endless
    pipe (/dev/zero) costs nothing. OSError subclasses propagate for the caller to word.
    """
    try:
        return read_bounded(path, max_bytes, check_head=_zip_head)
    except TooLong as exc:
        raise ArchiveError(exc.larger_than("a model")) from None


def _zip_head(head: bytes) -> None:
    if not head:
        raise ArchiveError("empty file")
    if head[:4] not in (b"PK\x03\x04", b"PK\x05\x06"):
        raise ArchiveError("not an .npz model file (not a zip archive; truncated or another format?)")


class Member(NamedTuple):
    """A member as its central directory entry declares it.

    NOTE: a NamedTuple rather than a frozen dataclass: as immutable, and ~0.3 ms less start-up to define."""

    name: str
    flags: int
    method: int
    crc: int
    compress_size: int
    file_size: int
    offset: int  # of its local header


def _name(raw: bytes, flags: int) -> str:
    """A member name as zip tools decode it: UTF-8 when flagged, else code page 437 (NOTE: ASCII is the same in
    both, and decoding it as UTF-8 spares importing the cp437 codec)."""
    return raw.decode("utf-8" if flags & _UTF8_NAME or raw.isascii() else "cp437", errors="replace")


def _end_record(data: bytes) -> tuple[int, int, int]:
    """(entries, directory size, directory offset) from the end of central directory record, or ArchiveError."""
    at = len(data) - _END.size
    if at < 0 or data[at : at + 4] != _END_SIG:  # NOTE: an archive comment follows the record; at most 65535 bytes
        at = data.rfind(_END_SIG, max(0, len(data) - _END.size - 65535))
    if at < 0 or at + _END.size > len(data):
        raise ArchiveError("not an .npz model file (no end of central directory: truncated or not a zip archive)")
    _, disk, cd_disk, disk_entries, entries, size, offset, comment = _END.unpack_from(data, at)
    if at + _END.size + comment != len(data):
        raise ArchiveError("not an .npz model file (bytes after the end of central directory)")
    if disk or cd_disk or disk_entries != entries:
        raise ArchiveError("unsupported zip archive (split over several disks)")
    if entries == 0xFFFF or size == 0xFFFFFFFF or offset == 0xFFFFFFFF:
        raise ArchiveError("unsupported zip archive (zip64; a model is far smaller than that needs)")
    if offset + size != at:
        raise ArchiveError("not an .npz model file (the central directory is not where the end record says)")
    return entries, size, offset


def _directory(data: bytes, entries: int, offset: int, end: int, max_members: int) -> list[Member]:
    """The central directory's entries, each checked to lie inside the directory."""
    if entries > max_members:
        raise ArchiveError(f"{entries:,} members, more than a model may have ({max_members:,})")
    members, at = [], offset
    for _ in range(entries):
        if at + _CENTRAL.size > end:
            raise ArchiveError("not an .npz model file (truncated central directory)")
        fields = _CENTRAL.unpack_from(data, at)
        if fields[0] != _CENTRAL_SIG:
            raise ArchiveError("not an .npz model file (bad central directory entry)")
        flags, method, crc, csize, usize = fields[3], fields[4], fields[7], fields[8], fields[9]
        name_len, extra_len, comment_len, local = fields[10], fields[11], fields[12], fields[16]
        stop = at + _CENTRAL.size + name_len
        if stop + extra_len + comment_len > end:
            raise ArchiveError("not an .npz model file (truncated central directory)")
        raw = data[at + _CENTRAL.size : stop]
        name = _name(raw, flags)
        if 0xFFFFFFFF in (csize, usize, local):
            raise ArchiveError(f"member {name[:60]!r} is a zip64 entry (a model is far smaller than that needs)")
        if fields[2] > _MAX_VERSION:  # NOTE: as Python's zipfile, which refuses such an archive whole
            needed = f"{fields[2] // 10}.{fields[2] % 10}"
            raise ArchiveError(f"member {name[:60]!r} needs zip version {needed} to extract (at most 6.3 is read)")
        members.append(Member(name, flags, method, crc, csize, usize, local))
        at = stop + extra_len + comment_len
    if at != end:
        raise ArchiveError("not an .npz model file (the central directory's size does not match its entries)")
    return members


class Archive:
    """The members of a zip archive by key (`meta.npy` -> `meta`), checked without decompressing."""

    def __init__(self, data: bytes, max_members: int):
        self._data = data
        entries, size, offset = _end_record(data)
        self._directory = offset
        self.members: dict[str, Member] = {}
        for info in _directory(data, entries, offset, offset + size, max_members):
            name = info.name
            for bit, problem in _REFUSED_FLAGS.items():
                if info.flags & bit:
                    raise ArchiveError(f"member {name[:60]!r} {problem}")
            if info.method not in _METHODS:
                raise ArchiveError(
                    f"member {name[:60]!r} uses compression method {info.method} "
                    "(only stored and deflated members are read)"
                )
            if not name.endswith(".npy") or "\0" in name:
                raise ArchiveError(f"unexpected member {name[:60]!r} (a model holds only .npy arrays)")
            key = name.removesuffix(".npy")
            if key in self.members:
                raise ArchiveError(f"member {name[:60]!r} appears twice")
            self.members[key] = info

    def _member_bytes(self, info: Member) -> bytes:
        """The member's uncompressed bytes: its local header checked, at most `file_size` bytes inflated, and
        its CRC-32 compared (ValueError, EOFError or zlib.error when it does not hold)."""
        data, at = self._data, info.offset
        if at + _LOCAL.size > self._directory:
            raise ValueError("its local header lies outside the archive")
        sig, _, _, _, _, _, _, _, _, name_len, extra_len = _LOCAL.unpack_from(data, at)
        if sig != _LOCAL_SIG:
            raise ValueError("bad local header")
        body = at + _LOCAL.size + name_len + extra_len
        name = data[at + _LOCAL.size : at + _LOCAL.size + name_len]
        if _name(name, info.flags) != info.name:
            raise ValueError("its local header names another file")
        if body + info.compress_size > self._directory:
            raise EOFError
        raw = data[body : body + info.compress_size]
        if info.method == _STORED:
            if info.compress_size != info.file_size:
                raise ValueError("stored sizes differ")
            out = raw
        else:
            inflate = zlib.decompressobj(-15)
            out = inflate.decompress(raw, info.file_size + 1)
            if len(out) > info.file_size:
                raise ValueError("inflates to more bytes than declared")
            if len(out) < info.file_size or not inflate.eof:
                raise EOFError
        if zlib.crc32(out) != info.crc:
            raise ValueError("bad CRC-32")
        return out

    def read(
        self,
        key: str,
        max_bytes: int,
        dtypes: frozenset[str],
        expected: str,
        text: bool = False,
        shape: tuple[int, ...] | None = None,
    ) -> np.ndarray:
        """The array in member `key`: its declared size is checked first, then at most `max_bytes` of data
        (plus the .npy header) are decompressed. `expected` words the accepted dtypes for the message."""
        info = self.members[key]
        if info.file_size > max_bytes + HEADER_SLACK:
            raise ArchiveError(
                f"member '{key}' declares {info.file_size:,} bytes; its layer settings allow at most "
                f"{max_bytes + HEADER_SLACK:,}"
            )
        try:
            return read_npy(io.BytesIO(self._member_bytes(info)), max_bytes, dtypes, text=text, shape=shape)
        except NpyDtypeError as exc:
            raise ArchiveError(f"'{key}' has dtype {exc.descr!r}, expected {expected}") from None
        except NpyError as exc:
            message = one_line(exc)
            raise ArchiveError(f"'{key}' {message}" if message.startswith("has ") else f"'{key}': {message}") from None
        except EOFError:
            raise ArchiveError(f"member '{key}' ends early (truncated or corrupt archive)") from None
        except (zlib.error, ValueError, struct.error) as exc:
            raise ArchiveError(f"member '{key}' is corrupt ({one_line(exc)})") from None
