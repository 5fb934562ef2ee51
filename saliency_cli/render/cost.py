"""Rich renderables for the cost table."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text

from .inert import inert


def human_bytes(n: int | None) -> str:
    if n is None:
        return "-"
    for unit, size in (("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"


def human_seconds(s: float | None) -> str:
    if s is None:
        return "-"
    if s < 1e-3:
        return f"{s * 1e6:.0f} µs"
    if s < 1:
        return f"{s * 1e3:.2f} ms"
    return f"{s:.2f} s"


def cost_view(report) -> Group:
    """Header lines, then one row per method: theory against measurement."""
    model = report.model
    shape = "x".join(str(s) for s in report.input_shape)
    name = inert(model.get("path") or "(in memory)")
    lines = [Text(f"model {name}  (task {inert(model.get('task'))}), input {shape}, {report.parameters} parameters")]
    if model.get("random_weights"):
        lines.append(
            Text(
                f"scaled to a {report.input_shape[1]}x{report.input_shape[2]} input with RANDOM weights "
                f"(seed {model.get('seed')}) and a random input: the costs are real, the maps are meaningless",
                style="yellow",
            )
        )
    lines.append(
        Text(
            f"one forward pass: {human_seconds(report.forward_seconds)}, peak {human_bytes(report.forward_peak_bytes)}"
            f"  |  best of {report.repeats} runs per method, explaining class {report.target}",
            style="dim",
        )
    )
    table = Table(title_justify="left")
    for column, justify in (
        ("method", "left"),
        ("theory", "right"),
        ("time/probe", "right"),
        ("x forward", "right"),
        ("extra peak", "right"),
    ):
        table.add_column(column, justify=justify, no_wrap=True)
    notes = []
    for row in report.rows:
        if row.skipped:
            table.add_row(row.title, f"{row.theory:g}", "-", "-", "-")
            notes.append(Text(f"{row.title}: not run: {row.skipped}", style="dim"))
            continue
        table.add_row(
            row.title, f"{row.theory:g}", human_seconds(row.seconds), f"{row.ratio:.1f}x", human_bytes(row.peak_bytes)
        )
    how = [Text(f"{row.title}: {row.theory_note}", style="dim") for row in report.rows]
    status = "unchanged" if report.weights_unchanged else "CHANGED"
    footer = Text(f"model weights {status} (parameter sha256 {report.params_after[:12]}…)", style="dim")
    legend = Text("theory: forward-pass equivalents, a backward pass counted as 2 forward passes:", style="dim")
    return Group(*lines, table, *notes, legend, *how, footer)
