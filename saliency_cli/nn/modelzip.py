"""The model file's zip archive, read defensively: entries are inspected before any byte is decompressed.

Only plain, unencrypted members stored or deflated are accepted, each name once; a member is decompressed
as a stream, at most the bytes its layer config allows (plus the .npy header), and must hold exactly one
.npy array with nothing after it.
"""

from __future__ import annotations

import io
import os
import stat
import struct
import zipfile
import zlib

import numpy as np

from ..errors import one_line
from ..npy import MAX_HEADER_BYTES, NpyDtypeError, NpyError, read_npy

#: zip general-purpose flag bits refused: 0 encrypted, 5 compressed patched data, 6 strong encryption.
_REFUSED_FLAGS = {0x1: "is encrypted", 0x20: "uses compressed patched data", 0x40: "uses strong encryption"}
_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflated"}
#: Bytes a .npy member may hold beyond its array data: the preamble (at most 12 bytes) and the header.
HEADER_SLACK = 12 + MAX_HEADER_BYTES


class ArchiveError(ValueError):
    """The archive or one of its members cannot be read safely; one line naming the problem."""


def read_file(path: str | os.PathLike, max_bytes: int) -> bytes:
    """The bytes of the file at `path`, refusing anything over `max_bytes` without reading it all.

    A file that does not start like a zip archive is refused after its first four bytes, so a device or
    an endless pipe (/dev/zero) costs nothing. OSError subclasses propagate for the caller to word.
    """
    with open(path, "rb") as fh:
        status = os.fstat(fh.fileno())
        if stat.S_ISREG(status.st_mode) and status.st_size > max_bytes:
            raise ArchiveError(f"file of {status.st_size:,} bytes is larger than a model may be ({max_bytes:,} bytes)")
        head = fh.read(4)
        if not head:
            raise ArchiveError("empty file")
        if head not in (b"PK\x03\x04", b"PK\x05\x06"):
            raise ArchiveError("not an .npz model file (not a zip archive; truncated or another format?)")
        chunks, total = [head], len(head)
        while total <= max_bytes:  # NOTE: in chunks, so that nothing larger than the file is ever allocated
            chunk = fh.read(min(1 << 20, max_bytes + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    if total > max_bytes:
        raise ArchiveError(f"larger than a model may be ({max_bytes:,} bytes; an endless stream?)")
    return b"".join(chunks)


class Archive:
    """The members of a zip archive by key (`meta.npy` -> `meta`), checked without decompressing."""

    def __init__(self, data: bytes, max_members: int):
        try:
            self._zip = zipfile.ZipFile(io.BytesIO(data))
            infos = self._zip.infolist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, struct.error, EOFError, OSError, ValueError) as exc:
            raise ArchiveError(f"not an .npz model file ({one_line(exc)})") from None
        except (NotImplementedError, RuntimeError) as exc:
            raise ArchiveError(f"unsupported zip archive ({one_line(exc)})") from None
        if len(infos) > max_members:
            raise ArchiveError(f"{len(infos):,} members, more than a model may have ({max_members:,})")
        self.members: dict[str, zipfile.ZipInfo] = {}
        for info in infos:
            name = info.filename
            for bit, problem in _REFUSED_FLAGS.items():
                if info.flag_bits & bit:
                    raise ArchiveError(f"member {name[:60]!r} {problem}")
            if info.compress_type not in _METHODS:
                raise ArchiveError(
                    f"member {name[:60]!r} uses compression method {info.compress_type} "
                    "(only stored and deflated members are read)"
                )
            if not name.endswith(".npy") or info.is_dir():
                raise ArchiveError(f"unexpected member {name[:60]!r} (a model holds only .npy arrays)")
            key = name.removesuffix(".npy")
            if key in self.members:
                raise ArchiveError(f"member {name[:60]!r} appears twice")
            self.members[key] = info

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
            with self._zip.open(info) as stream:
                return read_npy(stream, max_bytes, dtypes, text=text, shape=shape)
        except NpyDtypeError as exc:
            raise ArchiveError(f"'{key}' has dtype {exc.descr!r}, expected {expected}") from None
        except NpyError as exc:
            message = one_line(exc)
            raise ArchiveError(f"'{key}' {message}" if message.startswith("has ") else f"'{key}': {message}") from None
        except EOFError:
            raise ArchiveError(f"member '{key}' ends early (truncated or corrupt archive)") from None
        except (zipfile.BadZipFile, zlib.error, OSError, ValueError, struct.error, RuntimeError) as exc:
            raise ArchiveError(f"member '{key}' is corrupt ({one_line(exc)})") from None
        except NotImplementedError as exc:
            raise ArchiveError(f"member '{key}' is unsupported ({one_line(exc)})") from None
