"""Reading a file with a bound on its size: a longer file is refused before it is read whole (a regular file by
its size, a pipe or device as it is read), and its refusals worded as one line.

NOTE: apart from `files` (writing), which imports pathlib: a command that only reads must not pay for it.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable

from .errors import UserError, one_line

#: Bytes a reader's `check_head` sees first: room for any magic number (zip's 4, .npy's 6).
HEAD_BYTES = 8
#: Most bytes one read asks for: nothing much larger than the file is ever allocated.
_CHUNK = 1 << 20


class TooLong(ValueError):
    """A file longer than a reader allows: its `size` (None when a pipe or device ran past the bound) and `limit`."""

    def __init__(self, size: int | None, limit: int):
        super().__init__(f"longer than {limit:,} bytes")
        self.size, self.limit = size, limit

    def larger_than(self, what: str) -> str:
        """'file of S bytes is larger than `what` may be (L bytes)', or '... (L bytes; an endless stream?)'."""
        if self.size is None:
            return f"larger than {what} may be ({self.limit:,} bytes; an endless stream?)"
        return f"file of {self.size:,} bytes is larger than {what} may be ({self.limit:,} bytes)"


def read_bounded(path: str | os.PathLike, limit: int, check_head: Callable[[bytes], None] | None = None) -> bytes:
    """The bytes of the file at `path`; TooLong for a file of more than `limit` bytes, refused before it is read
    whole: a regular file by its size before any byte is read, a pipe or device (/dev/zero) once `limit` + 1
    bytes have come, read in chunks. A pipe, read once, works too.

    `check_head(first)` sees the first HEAD_BYTES bytes (fewer for a shorter file, b"" for an empty one) before
    the rest is read, and may refuse the file by its start (a magic number): a device or an endless pipe of
    another format then costs nothing. OSError subclasses propagate for the caller to word (`read_problem`).
    """
    with open(path, "rb") as fh:
        status = os.fstat(fh.fileno())
        if stat.S_ISREG(status.st_mode) and status.st_size > limit:
            raise TooLong(status.st_size, limit)
        head = fh.read(min(HEAD_BYTES, limit + 1))
        if check_head is not None:
            check_head(head)
        chunks, total = [head], len(head)
        while head and total <= limit:
            chunk = fh.read(min(_CHUNK, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    if total > limit:
        raise TooLong(None, limit)
    return b"".join(chunks)


def read_problem(exc: OSError, what: str) -> str:
    """Why a file could not be read, for a message after its name: 'no such file', 'is a directory, not `what`',
    or 'cannot read (the system's reason)'."""
    if isinstance(exc, FileNotFoundError):
        return "no such file"
    if isinstance(exc, IsADirectoryError):
        return f"is a directory, not {what}"
    return f"cannot read ({exc.strerror or one_line(exc)})"


def read_user_file(path: str, limit: int, name: str, what: str) -> bytes:
    """`read_bounded`, each refusal a UserError starting with `name`: a missing file, a directory (not `what`),
    an unreadable file, one longer than `limit` bytes."""
    try:
        return read_bounded(path, limit)
    except OSError as exc:
        raise UserError(f"{name}: {read_problem(exc, what)}") from None
    except TooLong:
        raise UserError(f"{name}: longer than {limit:,} bytes") from None
