"""Writing files without losing anybody's data: atomic replacement, safe targets, fresh backup names,
and no lost result or unwanted overwrite when several runs write the same file at once.

- `check_target` refuses what may not be written: symlinks (dangling or not), directories, devices,
  pipes, names the operating system refuses (too long...) and parents that are not directories.
- `write_new` creates a file only if nothing is there at the moment it is created (a hard link of a
  finished temporary file: atomic, and it fails when the name is taken), for "no overwrite without --force".
- `commit_replacing` replaces a file under an exclusive lock held by every saliency-cli writer of that
  path, deciding what to keep (a backup, or a refusal) from what is there *at that moment*, not from
  what was there when the command started: two runs writing the same --out never lose a finished result.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from .errors import UserError

#: How long a writer waits for another saliency-cli writer of the same file before giving up.
LOCK_TIMEOUT = 120.0


def _show(spec) -> str:
    """A path for a message: long names shortened (a 300-character name is not worth repeating)."""
    text = str(spec)
    return text if len(text) <= 100 else text[:60] + "…" + text[-30:]


def _temporary(path: Path, data: bytes, mode: int) -> str:
    """A finished temporary file with `data` and `mode` beside `path` (fsynced); its name."""
    import tempfile  # NOTE: here, not at import: ~4 ms of every command's start-up

    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return tmp


def atomic_write(path: str | os.PathLike, data: bytes) -> None:
    """Write `data` to a temporary file beside `path`, then rename it over `path`.

    An interrupted write leaves `path` as it was. The new file keeps the mode of the file it replaces
    (or gets the usual 0666 & ~umask), not mkstemp's private 0600.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _replace(path, data)


def _replace(path: Path, data: bytes) -> None:
    """Rename a complete temporary copy of `data` over `path`, keeping the replaced file's mode."""
    mode = stat.S_IMODE(path.stat().st_mode) if path.is_file() else 0o666 & ~_umask()
    tmp = _temporary(path, data, mode)
    try:
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

    Refuses an empty name, a name ending in a separator, a symlink (even to a regular file: it would
    be replaced by a file, not followed), anything that exists but is not a regular file (a
    directory, a device such as /dev/null, a pipe), a name the system refuses (too long...) and a
    parent directory that is missing or not a directory.
    """
    if not spec or spec.endswith(("/", os.sep)):
        raise UserError(f"{option} {spec!r}: give a file name")
    if "\0" in spec:
        raise UserError(f"{option} {_show(spec)!r}: a file name cannot contain a NUL character")
    path = Path(spec)
    try:
        info = path.lstat()
    except (FileNotFoundError, NotADirectoryError):  # a parent that is not a directory: named below
        info = None
    except OSError as exc:
        raise UserError(f"{option} {_show(spec)}: {exc.strerror or exc}") from None
    if info is not None:
        if stat.S_ISLNK(info.st_mode):
            raise UserError(f"{option} {_show(spec)}: is a symbolic link; refusing to replace it (give the real path)")
        if not stat.S_ISREG(info.st_mode):
            kind = "a directory" if stat.S_ISDIR(info.st_mode) else "not a regular file"
            raise UserError(f"{option} {_show(spec)}: is {kind}; refusing to replace it")
    if len(path.name.encode("utf-8", "surrogateescape")) > 255:
        raise UserError(f"{option} {_show(spec)}: file name too long (at most 255 bytes)")
    # NOTE: no writer creates directories (a typo in a path should not make a tree of them): the parent must exist.
    parent = path.parent
    try:
        if not parent.is_dir():
            why = "is not a directory" if parent.exists() else "does not exist; create it first"
            raise UserError(f"{option} {_show(spec)}: directory {_show(parent)} {why}")
    except OSError as exc:
        raise UserError(f"{option} {_show(spec)}: {exc.strerror or exc}") from None
    return path


def free_backup_path(path: Path) -> Path:
    """`<path>.bak`, or `<path>.bak.1`, `.bak.2`, ...: the first name that does not exist yet."""
    n = 0
    while True:
        candidate = path.with_name(_fit(path.name, ".bak" if n == 0 else f".bak.{n}"))
        if not (candidate.exists() or candidate.is_symlink()):
            return candidate
        n += 1


def _fit(name: str, suffix: str) -> str:
    """`name + suffix`, with `name` cut short where the whole would pass the 255-byte limit of a file name."""
    while len((name + suffix).encode("utf-8", "surrogateescape")) > 255:
        name = name[:-1]
    return name + suffix


def _cannot(what: str, path, exc: OSError) -> UserError:
    return UserError(f"cannot {what} {_show(path)}: {exc.strerror or exc}")


def _link_new(source: str | Path, path: Path) -> bool:
    """Give the finished file `source` the name `path` if that name is free (atomically); False if taken."""
    try:
        os.link(source, path, follow_symlinks=False)
        return True
    except FileExistsError:
        return False
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK, errno.ENOSYS):
            raise
    # A file system without hard links: create the name exclusively and copy into it.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "wb") as dst, open(source, "rb") as src:
        while chunk := src.read(1 << 20):
            dst.write(chunk)
        dst.flush()
        os.fsync(dst.fileno())
    os.chmod(path, stat.S_IMODE(os.stat(source).st_mode))
    return True


def write_new(path: Path, data: bytes, option: str = "--out") -> None:
    """Create `path` holding `data`, unless something is there when it is created (then a UserError).

    Complete or absent: the data goes to a temporary file first, which then gets the name only if the
    name is still free. Two runs racing for the same name: exactly one wins, the other is refused.
    """
    try:
        tmp = _temporary(path, data, 0o666 & ~_umask())
        try:
            created = _link_new(tmp, path)
        finally:
            Path(tmp).unlink(missing_ok=True)
    except OSError as exc:
        raise _cannot("write", path, exc) from None
    if not created:
        raise UserError(f"refusing to overwrite {_show(path)}: it exists; use --force to replace it")


def keep_backup(path: Path, data: bytes | None = None) -> Path | None:
    """Keep the regular file at `path` as a fresh `<path>.bak[.N]` (never over an existing name).

    Nothing is kept (None) when there is no file or it already holds `data`. The backup is a hard
    link to the file where the file system allows it (else an exclusive copy). Call it holding
    `path`'s lock (see `commit_replacing`), so that no other writer replaces the file meanwhile.
    """
    try:
        info = path.lstat()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise _cannot("read", path, exc) from None
    if not stat.S_ISREG(info.st_mode):
        return None
    try:
        if data is not None and info.st_size == len(data) and path.read_bytes() == data:
            return None
        while True:
            backup = free_backup_path(path)
            if _link_new(path, backup):
                return backup
    except OSError as exc:
        raise UserError(f"cannot keep a backup of {_show(path)}: {exc.strerror or exc}") from None


#: The name the export helper first used for `keep_backup`.


@contextlib.contextmanager
def locked(path: Path, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
    """Hold the exclusive lock of `path` (a lock file `.<name>.lock` beside it) against other writers.

    NOTE: the lock file is removed on release; a writer that locked a lock file that was removed
    meanwhile (its inode no longer at the name) retries, so two writers never both hold the lock.
    A lock file left by a killed process is free again (the kernel releases flock locks on exit).
    """
    lock = path.with_name(_fit(f".{path.name}", ".lock"))
    deadline = time.monotonic() + timeout
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        fcntl = None
    while True:
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
        except OSError as exc:
            raise _cannot("lock", path, exc) from None
        try:
            if fcntl is not None:
                while True:
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                        break
                    except BlockingIOError:
                        if time.monotonic() > deadline:
                            raise UserError(
                                f"{_show(path)} is being written by another process (lock {_show(lock)}); "
                                "try again later"
                            ) from None
                        time.sleep(0.02)
            try:
                same = os.fstat(fd).st_ino == os.stat(lock, follow_symlinks=False).st_ino
            except FileNotFoundError:
                same = False
        except BaseException:
            os.close(fd)
            raise
        if same:
            break
        os.close(fd)
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(lock)
        os.close(fd)


def commit_replacing(path: Path, data: bytes, decide: Callable[[Path], None] | None = None) -> Path | None:
    """Replace `path` with `data` atomically, holding `path`'s lock.

    Under the lock, `decide(path)` looks at what is there now and may refuse (raise UserError); then a
    different regular file there is kept as a backup (`keep_backup`), and the new file (with the old
    file's mode) is renamed over it. Returns the backup's path, or None.
    """
    with locked(path):
        check_target(str(path))  # a symlink or directory put there meanwhile is refused, not replaced
        if decide is not None:
            decide(path)
        backup = keep_backup(path, data)
        try:
            _replace(path, data)
        except OSError as exc:
            raise _cannot("write", path, exc) from None
    return backup


def check_new(spec: str, option: str, force: bool) -> Path:
    """`check_target`, and a refusal when the file exists and `force` is False ("use --force to replace it")."""
    path = check_target(spec, option)
    if path.exists() and not force:
        raise UserError(f"refusing to overwrite {_show(path)}: it exists; use --force to replace it")
    return path


def write_output(path: Path, data: bytes, option: str, force: bool) -> Path | None:
    """Write a command's output file: created only if its name is still free (`write_new`), or with `force`
    replaced under its lock, a different file there kept as a backup (`commit_replacing`; its path returned)."""
    if force:
        return commit_replacing(path, data)
    write_new(path, data, option)
    return None
