"""Safe decoding of .npy bytes: never unpickles, and never allocates more than the bytes can hold."""

from __future__ import annotations

import io

import numpy as np


def load_npy_bytes(data: bytes) -> np.ndarray:
    """The array stored in `data` (the bytes of one .npy file); ValueError when they are not one.

    NOTE: np.load allocates whatever shape the header claims before reading the data, so a forged
    header could ask for petabytes; the claimed size is checked against the bytes actually present.
    """
    if not data.startswith(np.lib.format.MAGIC_PREFIX):
        raise ValueError("not a .npy array (no .npy magic number)")
    stream = io.BytesIO(data)
    major, _ = np.lib.format.read_magic(stream)
    read_header = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
    shape, _, dtype = read_header(stream)
    needed = int(np.prod(shape, dtype=object)) * dtype.itemsize
    present = len(data) - stream.tell()
    if needed > present:
        raise ValueError(f"the header promises {needed:,} bytes of data but only {present:,} follow (truncated?)")
    return np.load(io.BytesIO(data), allow_pickle=False)
