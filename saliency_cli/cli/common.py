"""Helpers shared by the commands: stderr console, model resolution, output."""

from __future__ import annotations

import os
import sys

from ..errors import UserError

# NOTE: markup is off on both consoles: paths, class and layer names come from users' files, and a
# "[/x]" in one must print as it is, not be parsed (or crash) as Rich markup. Styles are set explicitly.


def stderr_console():
    from rich.console import Console

    return Console(stderr=True, markup=False, highlight=False)


def stdout_console(no_color: bool = False):
    from rich.console import Console

    return Console(no_color=no_color or bool(os.environ.get("NO_COLOR")), markup=False, highlight=False)


_NOTES: list[str] = []


def note(message: str) -> None:
    """A remark for stderr, printed once the command has succeeded (so an error stays one line)."""
    _NOTES.append(message)


def flush_notes(show: bool = True) -> None:
    if show and _NOTES:
        console = stderr_console()
        for message in _NOTES:
            console.print(message, style="dim", soft_wrap=True)
    _NOTES.clear()


def use_color(console, no_color: bool) -> bool:
    """Colour heatmaps only on a terminal, without --no-color or NO_COLOR."""
    return console.is_terminal and not no_color and not os.environ.get("NO_COLOR")


def load_network(task: str, model_path: str | None):
    """The model to explain: `--model` when given, else the task's default model file."""
    from ..locate import default_model_candidates, find_default_model
    from ..nn.modelfile import load_model

    if model_path is not None:
        return load_model(model_path)
    path, obvious = find_default_model(task)
    if path is None:
        searched = ", ".join(str(p) for p in default_model_candidates(task))
        raise UserError(f"no model for task {task} (looked in {searched}); run `saliency-cli train --task {task}`")
    if not obvious:
        note(f"using the packaged {task} model: {path}")
    return load_model(path)


def stdin_bytes():
    return sys.stdin.buffer if sys.stdin is not None else None


def emit_json(document: dict) -> None:
    from ..render.jsonout import dumps

    sys.stdout.write(dumps(document) + "\n")
    sys.stdout.flush()
