"""A user's training data: read without pickle from `.npz` (arrays `x` and `y`) or two `.npy` files, bounded
before anything is allocated, and checked in full before training (one line naming the first problem)."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

import numpy as np

from .errors import UserError, one_line

#: Most values x may hold: 2^26, 512 MiB as float64 (60,000 images of 28x28 fit).
MAX_DATA_VALUES = 2**26
_SLACK = 1 << 20  # the .npy headers and the zip directory


@dataclass
class TrainingData:
    """x (N, C, H, W) float64, y (N,) int64 in 0..classes-1 with every class present, and the files they came
    from ({"path", "sha256"} each: the file's bytes)."""

    x: np.ndarray
    y: np.ndarray
    classes: int
    files: list[dict]

    @property
    def name(self) -> str:
        return " + ".join(os.path.basename(f["path"]) for f in self.files)


def _read_bytes(path: str, what: str) -> bytes:
    from .reading import TooLong, read_bounded, read_problem

    try:
        data = read_bounded(path, MAX_DATA_VALUES * 8 + _SLACK)
    except OSError as exc:
        raise UserError(f"{what} {path}: {read_problem(exc, 'a data file')}") from None
    except TooLong as exc:
        raise UserError(f"{what} {path}: {exc.larger_than('training data')}") from None
    if not data:
        raise UserError(f"{what} {path}: empty file")
    return data


def _npy(data: bytes, name: str) -> np.ndarray:
    from .npy import NpyError, load_npy_bytes

    try:
        return load_npy_bytes(data, MAX_DATA_VALUES * 8)
    except NpyError as exc:
        raise UserError(f"{name}: unreadable .npy ({one_line(exc)})") from None


def _npz(data: bytes, path: str) -> tuple[np.ndarray, np.ndarray]:
    from .nn.modelzip import Archive, ArchiveError
    from .npy import NUMERIC

    try:
        archive = Archive(data, max_members=64)
        missing = [key for key in ("x", "y") if key not in archive.members]
        if missing:
            keys = ", ".join(sorted(archive.members)) or "none"
            raise UserError(f"--data {path}: no array '{missing[0]}' (it has {keys}); save with np.savez(f, x=x, y=y)")
        expected = "real numbers (bool, integers or floats)"
        return tuple(archive.read(key, MAX_DATA_VALUES * 8, NUMERIC, expected) for key in ("x", "y"))
    except ArchiveError as exc:
        raise UserError(f"--data {path}: {one_line(exc)}") from None


def load_training_data(data_path: str, labels_path: str | None = None) -> TrainingData:
    """`data_path` as .npz (x, y) when `labels_path` is None, else x from `data_path` and y from `labels_path`
    (both .npy)."""
    raw = _read_bytes(data_path, "--data")
    files = [{"path": data_path, "sha256": hashlib.sha256(raw).hexdigest()}]
    if labels_path is None:
        if not raw.startswith(b"PK"):
            hint = " (a .npy of x needs --labels)" if raw.startswith(b"\x93NUMPY") else ""
            raise UserError(f"--data {data_path}: not an .npz archive{hint}")
        x, y = _npz(raw, data_path)
        names = (f"{data_path}: x", f"{data_path}: y")
    else:
        if raw.startswith(b"PK"):
            raise UserError(f"--data {data_path} is an .npz archive, which holds x and y: drop --labels")
        labels = _read_bytes(labels_path, "--labels")
        files.append({"path": labels_path, "sha256": hashlib.sha256(labels).hexdigest()})
        x, y = _npy(raw, f"--data {data_path}"), _npy(labels, f"--labels {labels_path}")
        names = (f"--data {data_path}", f"--labels {labels_path}")
    x, y, classes = check_training_arrays(x, y, *names)
    return TrainingData(x, y, classes, files)


def check_training_arrays(x: np.ndarray, y: np.ndarray, xname: str = "x", yname: str = "y"):
    """(x as float64, y as int64, the class count K): x (N, C, H, W) of finite real numbers; y (N,) integers
    in 0..K-1, K = the largest label + 1, every class with an example, at least two classes. UserError else."""
    if x.ndim != 4:
        raise UserError(f"{xname}: shape {x.shape} is not (N, C, H, W) (greyscale images (N, H, W): x[:, None])")
    if y.ndim != 1:
        raise UserError(f"{yname}: shape {y.shape} is not (N,): one label per example")
    if len(x) != len(y):
        raise UserError(f"{xname} has {len(x)} examples but {yname} has {len(y)} labels")
    if 0 in x.shape:
        raise UserError(f"{xname}: shape {x.shape} has no values")
    if x.dtype.kind not in "biuf":
        raise UserError(f"{xname}: dtype {x.dtype} is not a real number type")
    if x.size > MAX_DATA_VALUES:
        raise UserError(f"{xname}: {x.size:,} values; training data may have at most {MAX_DATA_VALUES:,}")
    x = x.astype(np.float64)
    finite = np.isfinite(x.reshape(len(x), -1)).all(axis=1)
    if not finite.all():
        bad = int(x.size - np.isfinite(x).sum())
        raise UserError(f"{xname}: {bad} NaN or infinite value(s), the first in example {int(np.argmin(finite))}")
    if y.dtype.kind not in "iu":
        raise UserError(f"{yname}: dtype {y.dtype}: labels must be integers 0..K-1 (class numbers)")
    if y.min() < 0:
        raise UserError(f"{yname}: label {int(y.min())} (example {int(np.argmin(y))}) is negative: labels are 0..K-1")
    top = int(y.max())
    if top == int(y.min()):
        raise UserError(f"{yname}: every label is {top}: training needs examples of two classes or more")
    classes = top + 1
    if len(y) < classes:
        raise UserError(f"{yname}: {len(y)} examples for {classes} classes (0..{top}): every class needs an example")
    y = y.astype(np.int64)  # NOTE: every label is below len(y) here, so no uint64 label overflows
    counts = np.bincount(y, minlength=classes)
    if (counts == 0).any():
        missing = int(np.argmin(counts))
        raise UserError(
            f"{yname}: no example of class {missing}: labels must be 0..K-1 with every class present (K = {classes})"
        )
    return x, y, classes
