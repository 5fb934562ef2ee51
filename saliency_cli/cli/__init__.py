"""The `saliency-cli` command group. Commands load lazily so that `--help` stays fast."""

from __future__ import annotations

import gc
import importlib
import os
import sys

# NOTE: before numpy is imported. The engine's own threads share the large convolutions out, each calling a
# single-threaded BLAS, and the calling thread's BLAS is single-threaded (nn/blas.py): OpenBLAS's thread pool
# would only spin: `saliency --format json` took 164 ms of wall time and 267 ms of CPU with it, 157 and 156 ms
# without (medians of 31, interleaved). A value the user set is kept.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import click

from .. import __version__
from ..errors import EX_INTERRUPTED, Stopped, UserError

#: command name -> "module:function" (relative to this package). One line per command.
COMMANDS: dict[str, str] = {
    "train": ".train:train",
    "models": ".models:models",
    "sample": ".sample:sample",
    "saliency": ".saliency:saliency",
    "cam": ".cam:cam",
    "features": ".features:features",
    "cost": ".cost:cost",
    "lrp": ".lrp:lrp",
    "evaluate": ".evaluate:evaluate",
    "explore": ".explore:explore",
    "convert": ".convert:convert",
}

#: command name -> its line in `saliency-cli --help` (kept here so that the main help loads no command).
SHORT_HELP: dict[str, str] = {
    "train": "Train a task's default network and write its model file.",
    "models": "Show a model file's layers, shapes and training record.",
    "sample": "Write synthetic probes of a task as a .npy array.",
    "saliency": "Gradient, SmoothGrad and Integrated Gradients maps.",
    "cam": "CAM, Grad-CAM and Grad-CAM++ maps of a conv layer.",
    "features": "Show a layer's feature maps, one heatmap per channel.",
    "cost": "Time and memory of each method against a forward pass.",
    "lrp": "Layer-wise Relevance Propagation with a conservation ledger.",
    "evaluate": "Score every method on many probes against ground truth.",
    "explore": "Explore every method's maps interactively (optional extra).",
    "convert": "Write an .onnx model in the tool's own model format.",
}

#: Help is as wide as the terminal, up to this many columns (click's default stops at 80).
HELP_WIDTH = 120


class CliError(click.ClickException):
    """A user's mistake: one line on stderr, exit code 2 (exit code 1 is kept for failed checks)."""

    exit_code = 2


class _Bug(Exception):
    """An exception that click would misread (EOFError as an aborted prompt), carried past it as a bug."""

    def __init__(self, original: BaseException):
        super().__init__(original)
        self.original = original


class _ReaderGone(Exception):
    """stdout's reader went away (EPIPE); raised past click, which would turn it into exit code 1."""


def _quiet_exit_for_closed_pipe():
    """Exit 141 (128 + SIGPIPE) as Unix tools do; stdout goes to /dev/null so the flush at exit cannot fail."""
    import os

    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    sys.exit(141)


class LazyGroup(click.Group):
    def list_commands(self, ctx):
        return sorted(COMMANDS)

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        module, attr = COMMANDS[name].split(":")
        command = getattr(importlib.import_module(module, __name__), attr)
        end_startup()
        if command.short_help is None and name in SHORT_HELP:
            command.short_help = SHORT_HELP[name]
        return command

    def format_commands(self, ctx, formatter):
        """The command list from SHORT_HELP, without importing the commands (a light `--help`)."""
        rows = []
        for name in self.list_commands(ctx):
            text = SHORT_HELP.get(name)
            if text is None:
                command = self.get_command(ctx, name)
                text = command.get_short_help_str(formatter.width - 6 - len(name)) if command else ""
            rows.append((name, text))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except UserError as exc:
            raise CliError(str(exc)) from None
        except (Stopped, KeyboardInterrupt) as exc:  # work stopped early (Ctrl-C, a lost scheduler): its own code
            # NOTE: a bare Ctrl-C is said as an interrupted batch is, not as click's blank line and "Aborted."
            stopped = exc if isinstance(exc, Stopped) else Stopped("interrupted", EX_INTERRUPTED)
            error = CliError(str(stopped))
            error.exit_code = stopped.exit_code
            raise error from None
        except BrokenPipeError:
            raise _ReaderGone from None
        except EOFError as exc:  # NOTE: click would take it for Ctrl-D at a prompt ("Aborted.", exit 130)
            raise _Bug(exc) from exc

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        """Like click's, but every user mistake (click's own option checks included) is one line, and any
        other exception is one "internal error" line with exit code 70 (the traceback only with --debug)."""
        from .common import flush_notes, set_quiet

        set_quiet(False)
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        global _DEBUG
        _DEBUG = _debug_flag(sys.argv[1:] if args is None else list(args))
        try:
            with guarded_numerics():
                code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
            flush_notes()
        except _ReaderGone:
            _quiet_exit_for_closed_pipe()
        except click.exceptions.NoArgsIsHelpError as exc:
            # NOTE: a bare `saliency-cli` asks for help: the normal help on stdout, exit code 0.
            click.echo(exc.ctx.get_help())
            sys.exit(0)
        except MemoryError:
            flush_notes(show=False)
            click.echo("Error: out of memory; lower --batch-size, --steps, --samples or --smooth", err=True)
            sys.exit(2)
        except click.ClickException as exc:
            flush_notes(show=False)
            hint = ""
            if isinstance(exc, click.UsageError) and exc.ctx is not None:
                hint = f" (see '{exc.ctx.command_path} --help')"
            click.echo(f"Error: {one_line(exc.format_message())}{hint}", err=True)
            sys.exit(2 if exc.exit_code in (1, 2) else exc.exit_code)
        except click.Abort:
            click.echo("Aborted.", err=True)
            sys.exit(130)
        except UserError as exc:  # raised outside a command's invoke (e.g. while parsing): still the user's
            flush_notes(show=False)
            click.echo(f"Error: {one_line(str(exc))}", err=True)
            sys.exit(2)
        except Exception as exc:
            flush_notes(show=False)
            _internal_error(exc.original if isinstance(exc, _Bug) else exc)
        sys.exit(code if isinstance(code, int) else 0)


#: sysexits.h's EX_SOFTWARE: an internal software error (a bug in this tool, not the user's mistake).
EX_SOFTWARE = 70


def debug_enabled() -> bool:
    """--debug on the command line (before the command) or SALIENCY_CLI_DEBUG=1 in the environment."""
    import os

    return _DEBUG or os.environ.get("SALIENCY_CLI_DEBUG", "") not in ("", "0")


_DEBUG = False


def _debug_flag(args: list[str]) -> bool:
    """Whether --debug comes before the command name (the group's own option), so that it holds from the start."""
    for arg in args:
        if arg == "--debug":
            return True
        if not arg.startswith("-"):
            return False
    return False


def one_line(message: str) -> str:
    """A message as one inert line: whitespace runs (newlines too) become one space, controls are escaped."""
    from ..render.inert import inert

    return inert(" ".join(str(message).split()))


def _internal_error(exc: BaseException) -> None:
    """A bug: one line naming the exception (and the traceback under --debug), exit code 70."""
    if debug_enabled():
        import traceback

        traceback.print_exception(exc, file=sys.stderr)
    lines = [line for line in str(exc).splitlines() if line.strip()]
    what = one_line(lines[0] if lines else repr(exc))[:300]
    click.echo(f"internal error: {type(exc).__name__}: {what}; please report this", err=True)
    sys.exit(EX_SOFTWARE)


class guarded_numerics:
    """RuntimeWarnings (numpy's overflow, invalid value, ...) silenced for the run, as a backstop: each cause
    is handled where it arises, and a non-finite result is refused before output. With --debug they show.

    NOTE: a warnings filter, not np.seterr, so that `--help` does not import numpy.
    """

    def __enter__(self):
        import warnings

        self._warnings = warnings.catch_warnings()
        self._warnings.__enter__()
        if not debug_enabled():
            warnings.simplefilter("ignore", RuntimeWarning)
        return self

    def __exit__(self, *exc):
        self._warnings.__exit__(*exc)
        return False


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": HELP_WIDTH},
)
@click.version_option(__version__, "--version", prog_name="saliency-cli")
@click.option(
    "--debug",
    is_flag=True,
    help="On an internal error, print the traceback (also SALIENCY_CLI_DEBUG=1); numpy warnings stay visible.",
)
def cli(debug):
    """See why a small neural network made a decision.

    Train small NumPy classifiers on synthetic blob images, then explain a probe with gradient
    saliency, SmoothGrad, Integrated Gradients or Layer-wise Relevance Propagation, with the
    numerical checks that say whether an attribution can be trusted.

    Every command has -h/--help. A bare `saliency-cli` shows this help (exit code 0).

    \b
    Example:
      saliency-cli saliency --probe clean
    """
    global _DEBUG
    _DEBUG = _DEBUG or debug


#: Whether `main` turned the garbage collector off for the start-up (see `end_startup`).
_STARTING = [False]


def end_startup() -> None:
    """The command's modules are loaded: they join the collector's permanent generation and collection resumes.

    NOTE: start-up (click, numpy, the command's modules) makes ~20,000 long-lived objects and almost no garbage;
    with the collector on, its passes over them took ~8 ms of `saliency --format json` (53 passes collected 458
    objects), and turning it back on without freezing them makes the next pass walk them all. What the command
    computes afterwards is collected as usual.
    """
    if _STARTING[0]:
        _STARTING[0] = False
        gc.freeze()
        gc.enable()


def main(argv=None):
    """Console-script entry point."""
    if gc.isenabled():
        gc.disable()
        _STARTING[0] = True
    try:
        try:
            cli.main(args=argv, prog_name="saliency-cli")
        finally:
            sys.stdout.flush()  # here, not at interpreter exit: a reader that went away is caught below
            end_startup()
            # NOTE: the process is about to exit: the interpreter's last collection would walk every object
            # numpy and click made (~13 ms of a 130 ms run) to find no garbage worth finalising.
            gc.freeze()
    except BrokenPipeError:
        _quiet_exit_for_closed_pipe()
