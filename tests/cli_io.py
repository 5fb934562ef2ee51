"""What CLI tests hand to a command and read back: .npy bytes in, JSON Lines out."""

from __future__ import annotations

import io
import json

import numpy as np


def npy_bytes(array) -> bytes:
    """`array` as the bytes of a .npy file."""
    buf = io.BytesIO()
    np.save(buf, np.asarray(array), allow_pickle=False)
    return buf.getvalue()


def json_lines(result) -> list[dict]:
    """A successful run's stdout as JSON Lines: every line one whole JSON object; batches numbered by `index`."""
    assert result.exit_code == 0, result.stderr
    docs = [json.loads(line) for line in result.stdout.splitlines()]
    assert [d["index"] for d in docs] == list(range(len(docs)))
    return docs


def write_files(folder, **contents) -> dict:
    """name -> path of each file written in `folder` (text from a str, bytes as they are)."""
    paths = {}
    for name, content in contents.items():
        path = folder / name.replace("_", ".", 1)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        paths[name] = path
    return paths
