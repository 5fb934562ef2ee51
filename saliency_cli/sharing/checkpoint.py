"""`--checkpoint DIR`: every finished block kept as its own file, so that a stopped run resumes where it was.

DIR holds `checkpoint.json` (what run the blocks belong to: a hash of the model's bytes, every block's
inputs and settings, and the tool's version) and one `block-NNNNNN.ckpt` per finished block, written
atomically (a temporary file renamed into place). A block file is a header line, a JSON line (the block's
key, its payload's size and SHA-256) and the payload, the block's result pickled. A file whose key, size or
digest does not match is recomputed, never trusted; the payload is unpickled with only saliency-cli's own
classes and NumPy's arrays allowed.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
from pathlib import Path

from .. import __version__
from ..errors import UserError

MANIFEST = "checkpoint.json"
FORMAT = "saliency-cli checkpoint"
LAYOUT = 1
_MAGIC = b"saliency-cli block 1\n"


def block_name(i: int) -> str:
    return f"block-{i:06d}.ckpt"


def _ours(name: str) -> bool:
    return name == MANIFEST or (name.startswith("block-") and name.endswith(".ckpt")) or name.startswith(".tmp-")


class Checkpoint:
    """The blocks of one run in `directory`; `--restart` empties a directory written for another run."""

    def __init__(self, directory: str, restart: bool = False):
        self.directory = Path(directory)
        self.label = directory
        self.restart = restart
        self.damaged = 0

    def open(self, run: str, blocks: int, command: str) -> None:
        """Make the directory this run's: refused (one line) when it holds another run's blocks or other files."""
        try:
            self._open(run, blocks, command)
        except OSError as exc:  # under a file, read-only, full: the user's directory, not a bug
            raise self._cannot(MANIFEST, exc) from None

    def _cannot(self, name: str, exc: OSError) -> UserError:
        return UserError(f"--checkpoint {self.label}: cannot write {name}: {exc.strerror or exc}")

    def _open(self, run: str, blocks: int, command: str) -> None:
        d = self.directory
        if d.exists() and not d.is_dir():
            raise UserError(f"--checkpoint {self.label}: not a directory")
        names = sorted(os.listdir(d)) if d.is_dir() else []
        foreign = [n for n in names if not _ours(n)]
        if foreign:
            raise UserError(
                f"--checkpoint {self.label} holds files that are not checkpoint blocks ({foreign[0]}, ...): "
                "choose an empty or new directory"
            )
        manifest = {"format": FORMAT, "layout": LAYOUT, "tool": __version__, "command": command,
                    "run": run, "blocks": blocks}  # fmt: skip
        kept = [n for n in names if not n.startswith(".tmp-")]
        if kept and not self.restart and self._manifest() != manifest:
            raise UserError(
                f"--checkpoint {self.label} holds the blocks of another run (another model, probes, settings or "
                "tool version): add --restart to empty it, or choose another directory"
            )
        if self.restart:
            for name in names:
                (d / name).unlink(missing_ok=True)
        else:
            for name in names:  # NOTE: a write cut short (the client killed) leaves its temporary file
                if name.startswith(".tmp-"):
                    (d / name).unlink(missing_ok=True)
        if self._manifest() != manifest:
            from ..files import atomic_write

            atomic_write(d / MANIFEST, (json.dumps(manifest, indent=1) + "\n").encode())

    def _manifest(self) -> dict | None:
        try:
            return json.loads((self.directory / MANIFEST).read_text("utf-8"))
        except (OSError, ValueError):
            return None

    def load(self, i: int, key: str):
        """(True, result) of block `i` when its file is whole and its key is `key`; else (False, None)."""
        path = self.directory / block_name(i)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return False, None
        except OSError:
            data = b""
        try:
            head, _, payload = data.removeprefix(_MAGIC).partition(b"\n") if data.startswith(_MAGIC) else (b"", 0, b"")
            meta = json.loads(head)
            whole = meta["key"] == key and meta["bytes"] == len(payload)
            if not whole or hashlib.sha256(payload).hexdigest() != meta["sha256"]:
                raise ValueError("damaged")
            return True, _Restricted(io.BytesIO(payload)).load()
        except Exception:  # NOTE: any damage at all (truncated, edited, another run's) means: compute it again
            self.damaged += 1
            return False, None

    def save(self, i: int, key: str, result) -> None:
        """Block `i`'s result, written atomically."""
        from ..files import atomic_write

        payload = pickle.dumps(result, protocol=5)
        meta = {"key": key, "bytes": len(payload), "sha256": hashlib.sha256(payload).hexdigest()}
        try:
            atomic_write(self.directory / block_name(i), _MAGIC + json.dumps(meta).encode() + b"\n" + payload)
        except OSError as exc:
            raise self._cannot(block_name(i), exc) from None


#: NumPy's names a pickled array or scalar needs (numpy 1.x and 2.x spellings).
_NUMPY = {
    ("numpy", "dtype"), ("numpy", "ndarray"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
}  # fmt: skip
_BUILTINS = {"slice", "complex", "set", "frozenset", "range", "bytearray"}


class _Restricted(pickle.Unpickler):
    """Unpickles only saliency-cli's classes, NumPy arrays and plain containers: a block file is never code."""

    def find_class(self, module: str, name: str):
        if (module, name) in _NUMPY or (module == "builtins" and name in _BUILTINS) or module == "numpy.dtypes":
            return super().find_class(module, name)
        if module.startswith("saliency_cli.") or (module == "collections" and name == "OrderedDict"):
            found = super().find_class(module, name)
            if isinstance(found, type):
                return found
        raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a checkpoint block")
