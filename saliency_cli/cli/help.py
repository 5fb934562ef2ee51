"""Help layout: a click.Command whose --help lists its options under headings.

    @click.command(cls=GroupedCommand, option_groups=[("Methods", ["methods", "samples"]), ...])

Options are named by their parameter name (`model_path` for --model); any option not in a group is listed
last under "Other options" (with --help). No new dependency: only click's own formatter.
"""

from __future__ import annotations

import click


class GroupedCommand(click.Command):
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
