"""Rich renderables for the cost table."""

from __future__ import annotations

from rich.console import Group
from rich.text import Text

from .inert import inert
from .probe import task_words
from .tables import DataTable, num


def human_bytes(n: int | None) -> str:
    """Bytes with 3 significant digits in B, KB or MB (1 KB = 1024 B)."""
    if n is None:
        return "-"
    for unit, size in (("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= size:
            return f"{num(n / size, 3)} {unit}"
    return f"{n} B"


def human_seconds(s: float | None) -> str:
    """Seconds with 3 significant digits in µs, ms or s."""
    if s is None:
        return "-"
    if s < 1e-3:
        return f"{num(s * 1e6, 3)} µs"
    if s < 1:
        return f"{num(s * 1e3, 3)} ms"
    return f"{num(s, 3)} s"


def cost_view(report) -> Group:
    """Header lines, then one row per method: theory against measurement."""
    model = report.model
    shape = "x".join(str(s) for s in report.input_shape)
    name = inert(model.get("path") or "(in memory)")
    lines = [Text(f"model {name}  ({task_words(model)}), input {shape}, {report.parameters} parameters")]
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
    table = DataTable()
    table.add_column("method", numeric=False)
    for column in ("theory", "time/probe", "x forward", "extra peak"):
        table.add_column(column)
    notes = []
    for row in report.rows:
        if row.skipped:
            table.add_row(row.title, f"{row.theory:g}", "-", "-", "-")
            notes.append(Text(f"{row.title}: not run: {row.skipped}", style="dim"))
            continue
        table.add_row(
            row.title,
            f"{row.theory:g}",
            human_seconds(row.seconds),
            f"{num(row.ratio, 3)}x",
            human_bytes(row.peak_bytes),
        )
    how = [Text(f"{row.title}: {row.theory_note}", style="dim") for row in report.rows]
    status = "unchanged" if report.weights_unchanged else "CHANGED"
    footer = Text(f"model weights {status} (parameter sha256 {report.params_after[:12]}…)", style="dim")
    legend = Text("theory: forward-pass equivalents, a backward pass counted as 2 forward passes:", style="dim")
    return Group(*lines, table, *notes, legend, *how, footer)
