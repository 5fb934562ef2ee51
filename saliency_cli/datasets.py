"""Real data shipped with the package, and the seeded stratified split both it and a user's data use.

The digits: the UCI "Optical Recognition of Handwritten Digits" test set (Alpaydin & Kaynak 1998, CC BY 4.0,
see NOTICE), 1,797 images of 8x8 integer pixels in 0..16 and their digits 0..9, as scikit-learn ships it:
`saliency_cli/data/digits.csv.gz` is that file byte for byte (one image a line, 64 pixels row by row, then
the digit). `scripts/fetch_digits.py` re-derives it from a scikit-learn wheel.
"""

from __future__ import annotations

import os

import numpy as np

DIGITS_FILE = os.path.join(os.path.dirname(os.path.realpath(__file__)), "data", "digits.csv.gz")
#: SHA-256 of the shipped file (and of scikit-learn's sklearn/datasets/data/digits.csv.gz).
DIGITS_SHA256 = "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22"
DIGITS_COUNT, DIGITS_CLASS_COUNTS = 1797, (178, 182, 177, 183, 181, 182, 181, 179, 174, 180)
DIGITS_MAX = 16


class DataError(ValueError):
    """A shipped data file that is missing or not the file it should be."""


def load_digits(path: str = DIGITS_FILE) -> tuple[np.ndarray, np.ndarray]:
    """The digits: images (1797, 8, 8) uint8 in 0..16 and labels (1797,) int64 in 0..9, in the file's order.

    The file is checked before it is parsed (its SHA-256) and the arrays after (shape, range, class counts).
    """
    import gzip
    import hashlib

    try:
        with open(path, "rb") as fh:
            raw = fh.read(1 << 20)
    except OSError as exc:
        raise DataError(f"the digits data {path} cannot be read ({exc.strerror}): reinstall saliency-cli") from None
    if hashlib.sha256(raw).hexdigest() != DIGITS_SHA256:
        raise DataError(f"the digits data {path} is not the shipped file (its SHA-256 differs): reinstall saliency-cli")
    text = gzip.decompress(raw).replace(b"\n", b",")
    # NOTE: np.fromstring's text mode (sep=",") parses the 116,805 integers in ~8 ms; the checks below make
    # sure it read every one of them.
    values = np.fromstring(text, dtype=np.int64, sep=",")
    if values.size != DIGITS_COUNT * 65:
        raise DataError(f"the digits data {path} holds {values.size} values, not {DIGITS_COUNT} rows of 65")
    table = values.reshape(DIGITS_COUNT, 65)
    x, y = table[:, :64], table[:, 64]
    if x.min() < 0 or x.max() > DIGITS_MAX or tuple(np.bincount(y, minlength=10)) != DIGITS_CLASS_COUNTS:
        raise DataError(f"the digits data {path} has pixels outside 0..{DIGITS_MAX} or the wrong class counts")
    return x.reshape(DIGITS_COUNT, 8, 8).astype(np.uint8), y


def stratified_split(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, held_out), each in increasing order: round(fraction x n_k) of each class's n_k
    examples held out, picked by a generator seeded with `seed` (at least one per class when fraction > 0
    and the class has two or more; never a whole class)."""
    rng = np.random.default_rng(seed)
    held = []
    for k in np.unique(labels):
        members = np.flatnonzero(labels == k)
        n = len(members)
        take = min(max(round(fraction * n), 1 if fraction > 0 and n > 1 else 0), n - 1)
        held.append(rng.permutation(members)[:take])
    held_out = np.sort(np.concatenate(held)) if held else np.zeros(0, dtype=np.int64)
    train = np.setdiff1d(np.arange(len(labels)), held_out)
    return train, held_out
