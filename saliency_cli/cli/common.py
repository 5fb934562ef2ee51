"""Helpers shared by the commands: stderr console, model resolution, output."""

from __future__ import annotations

import os
import sys

from ..errors import UserError


def stderr_console():
    from rich.console import Console

    return Console(stderr=True)


def stdout_console(no_color: bool = False):
    from rich.console import Console

    return Console(no_color=no_color or bool(os.environ.get("NO_COLOR")), highlight=False)


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
        stderr_console().print(f"[dim]using the packaged {task} model: {path}[/dim]", soft_wrap=True)
    return load_model(path)


def stdin_bytes():
    return sys.stdin.buffer if sys.stdin is not None else None


def emit_json(document: dict) -> None:
    from ..render.jsonout import dumps

    sys.stdout.write(dumps(document) + "\n")
    sys.stdout.flush()
