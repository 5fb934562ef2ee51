"""Writing files without losing anybody's data: atomic replacement, safe targets, fresh backup names."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from .errors import UserError


def atomic_write(path: str | os.PathLike, data: bytes) -> None:
    """Write `data` to a temporary file beside `path`, then rename it over `path`.

    An interrupted write leaves `path` as it was. The new file keeps the mode of the file it replaces
    (or gets the usual 0666 & ~umask), not mkstemp's private 0600.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = stat.S_IMODE(path.stat().st_mode) if path.is_file() else 0o666 & ~_umask()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    current = os.umask(0o022)
    os.umask(current)
    return current


def check_target(spec: str, option: str = "--out") -> Path:
    """The path `spec` names, if a regular file may be written there; a UserError otherwise.

    Refuses an empty name, a name ending in a separator, anything that exists but is not a regular
    file (a directory, a device such as /dev/null, a pipe), and a parent that is not a directory.
    """
    if not spec or spec.endswith(("/", os.sep)):
        raise UserError(f"{option} {spec!r}: give a file name")
    path = Path(spec)
    if path.exists() and not path.is_file():
        kind = "a directory" if path.is_dir() else "not a regular file"
        raise UserError(f"{option} {spec}: is {kind}; refusing to replace it")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise UserError(f"{option} {spec}: {parent} is not a directory")
            break
    return path


def free_backup_path(path: Path) -> Path:
    """`<path>.bak`, or `<path>.bak.1`, `.bak.2`, ...: the first name that does not exist yet."""
    candidate, n = path.with_name(path.name + ".bak"), 0
    while candidate.exists() or candidate.is_symlink():
        n += 1
        candidate = path.with_name(f"{path.name}.bak.{n}")
    return candidate


def write_or_fail(path: Path, data: bytes) -> None:
    """`atomic_write`, with the operating system's refusal (permissions, full disk...) as one line."""
    try:
        atomic_write(path, data)
    except OSError as exc:
        raise UserError(f"cannot write {path}: {exc.strerror or exc}") from None


def keep_previous(path: Path, data: bytes) -> Path | None:
    """Before `data` replaces the regular file at `path`: keep a different file there as a fresh backup.

    Returns the backup's path, or None when there was nothing to keep (no file, or the same bytes).
    The backup is a hard link where the file system allows it (no copy, and never over an existing
    name), else a copy opened exclusively.
    """
    try:
        if not path.is_file():
            return None
        if path.stat().st_size == len(data) and path.read_bytes() == data:
            return None
        while True:
            backup = free_backup_path(path)
            try:
                os.link(path, backup, follow_symlinks=True)
                return backup
            except FileExistsError:
                continue  # taken meanwhile: the next free name
            except OSError:
                with open(path, "rb") as src, open(backup, "xb") as dst:
                    while chunk := src.read(1 << 20):
                        dst.write(chunk)
                return backup
    except OSError as exc:
        raise UserError(f"cannot keep a backup of {path}: {exc.strerror or exc}") from None
