"""The `saliency-cli` command group. Commands load lazily so that `--help` stays fast."""

from __future__ import annotations

import importlib
import sys

import click

from .. import __version__

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
}

#: Help is as wide as the terminal, up to this many columns (click's default stops at 80).
HELP_WIDTH = 120


class CliError(click.ClickException):
    """A user's mistake: one line on stderr, exit code 2 (exit code 1 is kept for failed checks)."""

    exit_code = 2


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
        from ..errors import UserError

        try:
            return super().invoke(ctx)
        except UserError as exc:
            raise CliError(str(exc)) from None
        except BrokenPipeError:
            raise _ReaderGone from None

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        """Like click's, but every user mistake (click's own option checks included) is one line."""
        from .common import flush_notes, set_quiet

        set_quiet(False)
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
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
            message = " ".join(exc.format_message().split())
            hint = ""
            if isinstance(exc, click.UsageError) and exc.ctx is not None:
                hint = f" (see '{exc.ctx.command_path} --help')"
            click.echo(f"Error: {message}{hint}", err=True)
            sys.exit(2 if exc.exit_code in (1, 2) else exc.exit_code)
        except click.Abort:
            click.echo("Aborted.", err=True)
            sys.exit(130)
        sys.exit(code if isinstance(code, int) else 0)


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": HELP_WIDTH},
)
@click.version_option(__version__, "--version", prog_name="saliency-cli")
def cli():
    """See why a small neural network made a decision.

    Train small NumPy classifiers on synthetic blob images, then explain a probe with gradient
    saliency, SmoothGrad, Integrated Gradients or Layer-wise Relevance Propagation, with the
    numerical checks that say whether an attribution can be trusted.

    Every command has -h/--help. A bare `saliency-cli` shows this help (exit code 0).

    \b
    Example:
      saliency-cli saliency --probe clean
    """


def main(argv=None):
    """Console-script entry point."""
    try:
        try:
            cli.main(args=argv, prog_name="saliency-cli")
        finally:
            sys.stdout.flush()  # here, not at interpreter exit: a reader that went away is caught below
    except BrokenPipeError:
        _quiet_exit_for_closed_pipe()
