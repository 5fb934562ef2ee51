"""Tables for `train` and `models`."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text

from .inert import inert
from .probe import task_words
from .tables import DataTable, kv_table, num, sci

#: Training-record keys as the text output names them: the model file keeps "samples", `train --examples` sets it.
_RECORD_NAMES = {"samples": "examples", "held_out_samples": "held_out_examples"}


def record_value(key: str, value) -> str:
    """A training-record value: losses in scientific notation, accuracies with 4 significant digits, the
    settings (lr, noise) as given (0.01, not 0.01000)."""
    if isinstance(value, float):
        return sci(value) if "loss" in key else (num(value) if "accuracy" in key else f"{value:g}")
    if isinstance(value, dict | list):  # NOTE: as JSON (the data's files and shape), not as a Python repr
        import json

        return inert(json.dumps(value))
    return inert(value)


def shape_text(shape) -> str:
    """A shape as every table writes it: 2x8x8."""
    return "x".join(map(str, shape))


def train_summary(task: str, record: dict, seconds: float, path, sha256: str) -> Table:
    samples = record.get("samples", record.get("examples"))
    return kv_table(
        f"trained {task}",
        [
            ("epochs", str(record["epochs"])),
            ("final loss", sci(record["final_loss"])),
            ("train accuracy", f"{num(record['train_accuracy'])}  ({samples} examples)"),
            (
                "held-out accuracy",
                f"{num(record['held_out_accuracy'])}  ({record['held_out_samples']} examples)",
            ),
            ("time", f"{num(seconds, 3)} s"),
            ("written to", inert(path)),
            ("sha256", sha256[:16] + "…"),
        ],
    )


def model_summary(info: dict) -> Group:
    """Layers, output shapes, parameter counts and training record of a model (see `models_info`)."""
    model = info["model"]
    layers = DataTable(
        title=f"{inert(model['path'])}  ({task_words(model)}, input {shape_text(info['input_shape'])})",
        key=2,
        short="layers",
    )
    for column in ("#", "name", "type", "settings", "output shape", "params"):
        layers.add_column(column, numeric=column in ("#", "output shape", "params"))
    for row in info["layers"]:
        settings = ", ".join(f"{k}={v}" for k, v in row["settings"].items())
        layers.add_row(
            str(row["index"]),
            inert(row["name"]),
            row["type"],
            settings,
            shape_text(row["output_shape"]),
            f"{row['parameters']:,}",
        )
    layers.add_row("", "", "", "", Text("total", style="bold"), f"{info['parameters']:,}")
    parts = [layers, Text(f"classes: {', '.join(inert(c) for c in info['classes'])}")]
    if info.get("methods"):
        rows = [(m["method"], "yes" if m["applies"] else f"no: {inert(m['why'])}") for m in info["methods"]]
        parts.append(kv_table("methods", rows))
    if info["training"]:
        record = [(inert(_RECORD_NAMES.get(k, k)), record_value(k, v)) for k, v in info["training"].items()]
        parts.append(kv_table("training", sorted(record)))
    parts.append(Text(f"sha256 {info['model']['sha256']}", style="dim"))
    return Group(*parts)
