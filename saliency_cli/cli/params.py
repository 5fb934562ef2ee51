"""The click parameter types and option classes of the commands: finite bounded numbers, built-in probe
names, and options with several spellings whose errors name the one typed."""

from __future__ import annotations

import math

import click


class Number(click.ParamType):
    """A finite float within bounds: NaN, infinities and out-of-range values are one-line errors.

    (click.FloatRange lets NaN through, and a NaN threshold or rate silently disables a check.)
    """

    name = "float"

    def __init__(self, min: float | None = None, max: float | None = None, min_open: bool = False):
        self.min, self.max, self.min_open = min, max, min_open

    def convert(self, value, param, ctx):
        number = click.FLOAT.convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        too_low = self.min is not None and (number <= self.min if self.min_open else number < self.min)
        if too_low or (self.max is not None and number > self.max):
            self.fail(f"{number:g} is not in the range {self._describe()}", param, ctx)
        return number

    def _describe(self) -> str:
        low = "" if self.min is None else f"{self.min:g} {'<' if self.min_open else '<='} "
        high = "" if self.max is None else f" <= {self.max:g}"
        return f"{low}x{high}"

    def get_metavar(self, param, ctx=None):
        return f"FLOAT [{self._describe()}]"


#: Where `AliasedOption` records the spelling the user typed, per parameter name (in the context's meta).
_TYPED = "saliency_cli.typed_options"


class AliasedOption(click.Option):
    """An option with several spellings (`hidden_aliases` work but are left out of --help) whose errors name
    the spelling the user typed, Click's own ("Invalid value for '--method'") and ours (`option_name`).

    Each spelling is parsed under its own key, so that the one given is known; giving two spellings of the
    one option is refused (which of them should win would be a guess).
    """

    def __init__(self, *args, hidden_aliases: tuple[str, ...] = (), **kwargs):
        super().__init__(*args, **kwargs)
        if self.is_flag or self.count or self.multiple or self.secondary_opts:
            raise TypeError("AliasedOption takes a value once: not a flag, count or multiple option")
        self.hidden_aliases = tuple(hidden_aliases)

    def _key(self, spelling: str) -> str:
        return f"{self.name}\0{spelling}"

    def add_to_parser(self, parser, ctx) -> None:
        for spelling in self.opts:
            parser.add_option(obj=self, opts=[spelling], dest=self._key(spelling), action="store", nargs=self.nargs)

    def handle_parse_result(self, ctx, opts, args):
        typed = [s for s in self.opts if self._key(s) in opts]
        if len(typed) > 1:
            raise click.UsageError(f"{' and '.join(typed)} are the same option: give it once", ctx)
        if typed:
            ctx.meta.setdefault(_TYPED, {})[self.name] = typed[0]
            opts = {**opts, self.name: opts[self._key(typed[0])]}
        return super().handle_parse_result(ctx, opts, args)

    def get_error_hint(self, ctx) -> str:
        return f"'{option_name(ctx, self.name)}'" if ctx is not None else f"'{self.opts[0]}'"

    def get_help_record(self, ctx):
        shown, self.opts = self.opts, [o for o in self.opts if o not in self.hidden_aliases]
        try:
            return super().get_help_record(ctx)
        finally:
            self.opts = shown


def option_name(ctx: click.Context, name: str) -> str:
    """The option the user typed for parameter `name` (e.g. "--method" for cam's `methods`), else its first
    spelling: what an error about that option's value names."""
    typed = ctx.meta.get(_TYPED, {}).get(name)
    if typed is not None:
        return typed
    for param in ctx.command.params:
        if param.name == name and isinstance(param, click.Option):
            return param.opts[0]
    raise KeyError(f"no option {name!r} in {ctx.command.name}")


class ProbeName(click.ParamType):
    """A built-in probe: `clean` or `noisy` (a blob task's generated probes), or `held-out:N` (a data task's
    held-out image N; `held-out` alone is image 0). Whether the task has it is checked once the model is known."""

    name = "probe"

    def convert(self, value, param, ctx):
        from ..tasks import HELD_OUT, held_out_index

        if value in ("clean", "noisy"):
            return value
        try:
            if held_out_index(value) is not None:
                return value
        except ValueError as exc:
            self.fail(str(exc).removeprefix(f"--probe {value}: "), param, ctx)
        self.fail(f"{value!r}: give clean, noisy or {HELD_OUT}:N", param, ctx)

    def get_metavar(self, param, ctx=None):
        return "[clean|noisy|held-out:N]"
