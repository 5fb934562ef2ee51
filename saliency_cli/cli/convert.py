"""`saliency-cli convert`: an .onnx model written in the tool's own model format."""

from __future__ import annotations

import click

from .common import emit_json, note, stdout_console
from .help import HelpCommand
from .options import format_option, no_color_option, out_option, quiet_option


@click.command(cls=HelpCommand)
@click.argument("path", type=click.Path(dir_okay=False))
@out_option("Where to write the model (.npz; its directory must exist).")
@click.option("--output", "onnx_output", default=None, help="The output to explain, when the graph has several.")
@click.option("--force", is_flag=True, help="Replace --out when it exists (the old file is kept as FILE.bak).")
@format_option("text", "json", help="A summary, or one JSON document on stdout.")
@no_color_option
@quiet_option
def convert(path, out, onnx_output, force, fmt, no_color):
    """Write an .onnx model in the tool's own model format, read without the onnx package.

    A chain of the tool's layer types is written as a sequential model (format version 1), any other graph in
    the graph form (version 2; see docs/model-format.md). The written file is read back and must give the
    same logits, bit for bit, on a seeded random input.

    \b
    Example:
      saliency-cli convert lenet.onnx -o lenet.npz
    """
    import numpy as np

    from ..errors import UserError
    from ..files import check_target, write_output
    from ..nn.modelfile import load_model, model_bytes

    if out is None:
        raise UserError("give the file to write: -o/--out FILE.npz")
    if not out.lower().endswith(".npz"):
        raise UserError(f"--out {out}: the tool's model files end in .npz")
    net = load_model(path, onnx_output)
    for message in getattr(net, "notes", ()):
        note(f"note: {message}")
    target = check_target(out)
    data = model_bytes(net)
    backup = write_output(target, data, "--out", force)  # NOTE: with --force, what was there is kept as a backup
    if backup is not None:
        note(f"kept the previous {out} as {backup}")
    back = load_model(target)
    x = np.random.default_rng(0).uniform(0.0, 1.0, size=(2, *net.input_shape))
    if not np.array_equal(back.predict_logits(x), net.predict_logits(x)):
        raise UserError(f"{out}: the written model does not give the same logits as {path}")
    from ..reports.probe import model_info

    graph = hasattr(net, "plan")
    document = {
        "command": "convert",
        "model": model_info(back),
        "source": model_info(net),
        "form": "graph" if graph else "layers",
        "nodes": len(net.layers),
        "parameters": net.num_parameters(),
        "input_shape": list(net.input_shape),
        "classes": list(net.classes),
    }
    if fmt == "json":
        emit_json("convert", document)
        return
    what = f"a graph of {len(net.layers)} nodes" if graph else f"a sequential network of {len(net.layers)} layers"
    stdout_console(no_color).print(
        f"wrote {out}: {what}, {net.num_parameters():,} parameters, input {tuple(net.input_shape)}, "
        f"{net.num_classes} classes (sha256 {back.sha256[:16]}…)"
    )
