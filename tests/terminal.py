"""Run the program on a pseudo-terminal, as a person would, and return what it printed there."""

from __future__ import annotations

import os
import pty
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def on_a_terminal(*args, env: dict | None = None, code: int = 0) -> str:
    """stdout and stderr on a pseudo-terminal; `env` is added to the environment. Asserts the exit code."""
    master, slave = pty.openpty()
    environ = {**os.environ, "COLUMNS": "80", "PYTHONWARNINGS": "ignore", **(env or {})}
    cmd = [sys.executable, "-m", "saliency_cli", *map(str, args)]
    proc = subprocess.Popen(cmd, stdout=slave, stderr=slave, stdin=subprocess.DEVNULL, cwd=ROOT, env=environ)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    assert proc.wait(timeout=120) == code
    return b"".join(chunks).decode().replace("\r\n", "\n")
