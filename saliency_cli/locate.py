"""Where a task's default model lives: ./models first, then the copy shipped with the package."""

from __future__ import annotations

import os

# NOTE: os.path, not pathlib: every run that loads a default model comes here, and pathlib costs ~3 ms to import.
_PACKAGE = os.path.dirname(os.path.realpath(__file__))


def default_model_candidates(task: str) -> list[str]:
    """Places searched for `<task>.npz`, in order: ./models, the wheel's copy, the source checkout's."""
    name = f"{task}.npz"
    return [
        os.path.join("models", name),
        os.path.join(_PACKAGE, "_models", name),
        os.path.join(os.path.dirname(_PACKAGE), "models", name),
    ]


def find_default_model(task: str) -> tuple[str | None, bool]:
    """The default model file for `task` and whether it is the obvious one (./models/<task>.npz)."""
    for i, path in enumerate(default_model_candidates(task)):
        if os.path.isfile(path):
            return path, i == 0
    return None, False
