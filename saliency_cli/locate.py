"""Where a task's default model lives: ./models first, then the copy shipped with the package."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def default_model_candidates(task: str) -> list[Path]:
    """Places searched for `<task>.npz`, in order: ./models, the wheel's copy, the source checkout's."""
    name = f"{task}.npz"
    return [Path("models") / name, _PACKAGE / "_models" / name, _PACKAGE.parent / "models" / name]


def find_default_model(task: str) -> tuple[Path | None, bool]:
    """The default model file for `task` and whether it is the obvious one (./models/<task>.npz)."""
    for i, path in enumerate(default_model_candidates(task)):
        if path.is_file():
            return path, i == 0
    return None, False
