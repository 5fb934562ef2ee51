"""Help layout: every command's --help ends with its example; a GroupedCommand lists its options under
headings.

    @click.command(cls=HelpCommand)
    @click.command(cls=GroupedCommand, option_groups=[("Methods", ["methods", "samples"]), ...])

A command's docstring ends with its "Example:" paragraph; --help shows it after the options, last.

Options are named by their parameter name (`model_path` for --model); any option not in a group is listed
last under "Other options" (with --help). No new dependency: only click's own formatter.
"""

from __future__ import annotations

import inspect

import click

#: Where a docstring's example paragraph starts (click's \b keeps its lines as they are).
_EXAMPLE = "\n\n\b\nExample:"


def split_example(help: str | None) -> tuple[str, str]:
    """A command's help text without its final example paragraph, and that paragraph ("" when none)."""
    text = inspect.cleandoc(help or "").partition("\f")[0]
    head, found, example = text.rpartition(_EXAMPLE)
    return (head, _EXAMPLE.lstrip("\n") + example) if found else (text, "")


class HelpCommand(click.Command):
    """A command whose --help ends with its example: the docstring's "Example:" paragraph comes after the
    options."""

    def format_help_text(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        text = split_example(self.help)[0]
        if text:
            formatter.write_paragraph()
            with formatter.indentation():
                formatter.write_text(text)

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        example = split_example(self.help)[1]
        if example:
            formatter.write_paragraph()
            with formatter.indentation():
                formatter.write_text(example)
        super().format_epilog(ctx, formatter)


class GroupedCommand(HelpCommand):
    """A command whose options are shown in titled sections, in the order of `option_groups`."""

    def __init__(self, *args, option_groups: list[tuple[str, list[str]]] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.option_groups = list(option_groups or [])

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        records = {}
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is not None:
                records[param.name] = record
        placed = set()
        for title, names in self.option_groups:
            rows = [records[name] for name in names if name in records]
            placed.update(names)
            if rows:
                with formatter.section(title):
                    formatter.write_dl(rows)
        rest = [record for name, record in records.items() if name not in placed]
        if rest:
            with formatter.section("Other options" if self.option_groups else "Options"):
                formatter.write_dl(rest)
