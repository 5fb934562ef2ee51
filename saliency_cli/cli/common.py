"""Helpers shared by the commands: stderr console, model resolution, output."""

from __future__ import annotations

import os
import sys

from ..errors import UserError

# NOTE: markup is off on both consoles: paths, class and layer names come from users' files, and a
# "[/x]" in one must print as it is, not be parsed (or crash) as Rich markup. Styles are set explicitly.


def stderr_console():
    from rich.console import Console

    # NOTE: emoji off too: a path such as "/data/:fire:/m.npz" prints as it is (as `plain_stderr` writes it).
    return Console(stderr=True, markup=False, highlight=False, emoji=False)


def plain_stderr() -> bool:
    """Whether stderr is not a terminal, where Rich would write no styles: plain writes then give the same text
    without importing Rich (~20 ms of a short run). FORCE_COLOR or TTY_COMPATIBLE leave the choice to Rich."""
    if "FORCE_COLOR" in os.environ or "TTY_COMPATIBLE" in os.environ:
        return False
    try:
        return not sys.stderr.isatty()
    except (AttributeError, ValueError):  # no stderr, or a closed one
        return False


#: Bytes per write to stdout. NOTE: one write larger than a pipe's buffer (64 KiB) can return early when the
#: reader goes away (`head`), and Python then drops the rest without raising; small writes, each flushed,
#: make the next write fail with EPIPE, so a closed reader is always seen (exit 141).
CHUNK = 16 * 1024


class _Stdout:
    """A file for Rich that writes through `write_stdout` (chunked, flushed) and looks like stdout to it."""

    def write(self, text: str) -> int:
        write_stdout(text)
        return len(text)

    def flush(self) -> None:
        sys.stdout.flush()

    def isatty(self) -> bool:
        return sys.stdout.isatty()

    def fileno(self) -> int:
        return sys.stdout.fileno()

    @property
    def encoding(self) -> str:
        return getattr(sys.stdout, "encoding", None) or "utf-8"


def stdout_console(no_color: bool = False):
    """The console of a command's text output: colour only where it can show (see `use_color`)."""
    from rich.console import Console

    class StdoutConsole(Console):
        def on_broken_pipe(self) -> None:
            # NOTE: Rich's default exits with code 1; the CLI turns BrokenPipeError into 141 as Unix tools do.
            raise BrokenPipeError

    return StdoutConsole(
        file=_Stdout(), no_color=no_color or not colour_allowed(), markup=False, highlight=False, soft_wrap=False
    )


def write_stdout(text: str | bytes) -> None:
    """Text or bytes to stdout in flushed chunks of at most CHUNK bytes; BrokenPipeError when the reader left."""
    out = sys.stdout
    try:
        fd = out.fileno()
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is an OSError (a test's StringIO)
        fd = None
    if fd is None:
        target = out.buffer if isinstance(text, bytes) else out
        target.write(text)
        target.flush()
        return
    out.flush()
    data = text if isinstance(text, bytes) else text.encode(getattr(out, "encoding", None) or "utf-8", errors="replace")
    view = memoryview(data)
    while view:
        try:
            written = os.write(fd, view[:CHUNK])
        except BrokenPipeError:
            raise
        except OSError as exc:  # a full disk, a quota, an I/O error: not a bug of this tool
            raise UserError(f"cannot write standard output: {exc.strerror or exc}") from None
        view = view[written:]


_NOTES: list[str] = []
_QUIET = [False]


def set_quiet(quiet: bool) -> None:
    """`--quiet`: notes are dropped and progress bars hidden (reset at the start of every run)."""
    _QUIET[0] = bool(quiet)


def is_quiet() -> bool:
    return _QUIET[0]


def show_progress(console) -> bool:
    """Whether to draw a progress bar on `console` (stderr): on a terminal, without --quiet."""
    return console.is_terminal and not is_quiet()


def note(message: str) -> None:
    """A remark for stderr, printed once the command has succeeded (so an error stays one line)."""
    _NOTES.append(message)


def flush_notes(show: bool = True) -> None:
    if show and _NOTES and not is_quiet():
        print_stderr(_NOTES, style="dim")
    _NOTES.clear()


def print_stderr(messages: list[str], style: str | None = None) -> None:
    """Messages for stderr, each on one line of its own however long: never folded at a console's width, so
    that grep and a log see the line whole (a terminal wraps it for the eye). Styled by Rich on a terminal,
    written plainly elsewhere (see `plain_stderr`)."""
    from ..render.inert import inert

    if plain_stderr():
        sys.stderr.write("".join(f"{inert(message)}\n" for message in messages))
        sys.stderr.flush()
    else:
        console = stderr_console()
        for message in messages:
            console.print(inert(message), style=style, soft_wrap=True)


def colour_allowed() -> bool:
    """False when NO_COLOR is set (to anything non-empty) or TERM is dumb."""
    return not os.environ.get("NO_COLOR") and os.environ.get("TERM", "").lower() != "dumb"


def use_color(console, no_color: bool) -> bool:
    """Colour heatmaps only where colour shows: a console with a colour system, no --no-color/NO_COLOR/TERM=dumb.

    Otherwise heatmaps use the ASCII ramps (Rich drops the background colours the colour cells are made of).
    """
    return console.color_system is not None and not no_color and colour_allowed()


def require_finite(document: dict, what: str = "the result") -> None:
    """Refuse to report success with a NaN or infinity anywhere in a command's result document (exit code 2)."""
    from ..render.jsonout import non_finite_path

    where = non_finite_path(document)
    if where is not None:
        raise UserError(
            f"{what} is not finite (NaN or infinity in {where}): the computation overflowed or underflowed "
            "for this input and these settings; nothing is reported"
        )


def load_network(task: str, model_path: str | None):
    """The model to explain: `--model` when given, else the task's default model file."""
    from ..locate import default_model_candidates, find_default_model
    from ..nn.modelfile import load_model

    if model_path is not None:
        net = load_model(model_path, _onnx_output())
        _task_of_import(task, net)
        _check_task_agrees(task, net)
        for message in getattr(net, "notes", ()):
            note(f"note: {message}")
        return net
    if _onnx_output() is not None:
        raise UserError("--output picks an output of an .onnx model: give one with --model, or drop --output")
    path, obvious = find_default_model(task)
    if path is None:
        searched = ", ".join(str(p) for p in default_model_candidates(task))
        raise UserError(f"no model for task {task} (looked in {searched}); run `saliency-cli train --task {task}`")
    if not obvious:
        note(f"using the packaged {task} model: {path}")
    return load_model(path)


def _onnx_output() -> str | None:
    import click

    ctx = click.get_current_context(silent=True)
    return None if ctx is None else ctx.meta.get("saliency_cli.onnx_output")


def _task_of_import(task: str, net) -> None:
    """An imported model (from ONNX) names no task: its probes come from the task --task names, or else the first
    task whose input shape and class count it has (a note says so)."""
    import click

    from ..tasks import TASKS

    if net.task is not None or net.training.get("source") != "onnx":
        return
    fits = [
        name
        for name, t in TASKS.items()
        if t.input_shape == tuple(net.input_shape) and len(t.classes) == net.num_classes
    ]
    ctx = click.get_current_context(silent=True)
    if ctx is not None and ctx.get_parameter_source("task") is click.core.ParameterSource.COMMANDLINE:
        if task not in fits:
            raise UserError(
                f"--task {task}: the imported model's input {tuple(net.input_shape)} and {net.num_classes} classes "
                "do not fit that task's probes; drop --task and give --input"
            )
        net.task = task
    elif fits:
        net.task = fits[0]
        note(f"note: probes from task {fits[0]}, whose input shape and class count the imported model has")


def _check_task_agrees(task: str, net) -> None:
    """`--task` given with `--model`: refused when it names another task than the model's (it would be ignored)."""
    import click

    ctx = click.get_current_context(silent=True)
    if ctx is None or ctx.get_parameter_source("task") is not click.core.ParameterSource.COMMANDLINE:
        return
    if net.task != task:
        raise UserError(f"--task {task} does not match the --model file's task {net.task}: drop --task")


def check_probe_choice(input_path) -> None:
    """`--probe`/`--probe-seed` pick a built-in probe: refused with `--input`, which replaces it."""
    import click

    ctx = click.get_current_context()
    for name in ("probe", "probe_seed"):
        if input_path is not None and ctx.get_parameter_source(name) is click.core.ParameterSource.COMMANDLINE:
            raise UserError(f"--{name.replace('_', '-')} picks a built-in probe: drop it with --input")


def stdin_bytes():
    return sys.stdin.buffer if sys.stdin is not None else None


def emit_json(command: str, document: dict) -> None:
    """`command`'s JSON document, headed by "version" and "schema" (render/schema.py): indented when stdout is
    a terminal (for reading), one compact line when piped."""
    from ..render.jsonout import dumps
    from ..render.schema import stamped

    write_stdout(dumps(stamped(command, document), indent=2 if sys.stdout.isatty() else None) + "\n")


def emit_jsonl(command: str, documents) -> None:
    """JSON Lines: one compact line per document, each headed by "version" and "schema", whatever stdout is."""
    from ..render.jsonout import dumps
    from ..render.schema import stamped

    write_stdout("".join(dumps(stamped(command, doc)) + "\n" for doc in documents))
