"""Tables for `train` and `models`."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text

from .inert import inert


def _kv_table(title: str, rows) -> Table:
    table = Table(title=title, show_header=False, title_justify="left", title_style="bold")
    table.add_column(style="dim")
    table.add_column()
    for key, value in rows:
        table.add_row(key, value)
    return table


def train_summary(task: str, record: dict, seconds: float, path, sha256: str) -> Table:
    return _kv_table(
        f"trained {task}",
        [
            ("epochs", str(record["epochs"])),
            ("final loss", f"{record['final_loss']:.5f}"),
            ("train accuracy", f"{record['train_accuracy']:.4f}  ({record['samples']} samples)"),
            (
                "held-out accuracy",
                f"{record['held_out_accuracy']:.4f}  ({record['held_out_samples']} samples)",
            ),
            ("time", f"{seconds:.2f} s"),
            ("written to", inert(path)),
            ("sha256", sha256[:16] + "…"),
        ],
    )


def model_summary(info: dict) -> Group:
    """Layers, output shapes, parameter counts and training record of a model (see `models_info`)."""
    model = info["model"]
    layers = Table(
        title=f"{inert(model['path'])}  (task {inert(model['task'])}, input {tuple(info['input_shape'])})",
        title_justify="left",
        title_style="bold",
    )
    for column in ("#", "name", "type", "settings", "output shape", "params"):
        layers.add_column(column, justify="right" if column in ("#", "params") else "left")
    for row in info["layers"]:
        settings = ", ".join(f"{k}={v}" for k, v in row["settings"].items())
        layers.add_row(
            str(row["index"]),
            inert(row["name"]),
            row["type"],
            settings,
            "x".join(map(str, row["output_shape"])),
            f"{row['parameters']:,}",
        )
    layers.add_row("", "", "", "", Text("total", style="bold"), f"{info['parameters']:,}")
    parts = [layers, Text(f"classes: {', '.join(inert(c) for c in info['classes'])}")]
    if info["training"]:
        parts.append(_kv_table("training", [(inert(k), inert(v)) for k, v in info["training"].items()]))
    parts.append(Text(f"sha256 {info['model']['sha256']}", style="dim"))
    return Group(*parts)
