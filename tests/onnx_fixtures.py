"""Helpers for the ONNX tests: the committed fixtures, and a float64 copy of a graph for onnx's reference
evaluator."""

from __future__ import annotations

from pathlib import Path

import numpy as np

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "onnx"
NAMES = ("lenet", "resnet", "mlp", "normalised", "avgconcat", "keras_nhwc")
#: The fixtures whose every node is piecewise linear (exact IG applies).
PIECEWISE_LINEAR = ("lenet", "resnet", "normalised", "keras_nhwc")


def reference(name: str) -> dict:
    with np.load(FIXTURES / f"{name}.npz") as data:
        return dict(data)


def as_float64(model):
    """A copy of `model` computing in float64: float initializers, Constant tensors, inputs, outputs and Casts."""
    import onnx
    from onnx import TensorProto, numpy_helper

    model = onnx.ModelProto.FromString(model.SerializeToString())
    g = model.graph
    for i, t in enumerate(g.initializer):
        if t.data_type == TensorProto.FLOAT:
            g.initializer[i].CopyFrom(numpy_helper.from_array(numpy_helper.to_array(t).astype(np.float64), t.name))
    for node in g.node:
        for a in node.attribute:
            if a.type == onnx.AttributeProto.TENSOR and a.t.data_type == TensorProto.FLOAT:
                a.t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(a.t).astype(np.float64), a.t.name))
            if node.op_type == "Cast" and a.name == "to" and a.i == TensorProto.FLOAT:
                a.i = TensorProto.DOUBLE
    for value in (*g.input, *g.output, *g.value_info):
        if value.type.tensor_type.elem_type == TensorProto.FLOAT:
            value.type.tensor_type.elem_type = TensorProto.DOUBLE
    return model


def graph_input(name: str, x: np.ndarray) -> np.ndarray:
    """The tool's (N, C, H, W) rows as the graph's own input (a vector, or NHWC)."""
    if name == "mlp":
        return x.reshape(len(x), -1)
    if name == "keras_nhwc":
        return x.transpose(0, 2, 3, 1)
    return x


def tool_input(name: str, x: np.ndarray) -> np.ndarray:
    """A fixture's reference inputs as the tool's (N, C, H, W) rows."""
    return x.reshape(len(x), 1, 1, -1) if x.ndim == 2 else x


def load_as_graph(name: str):
    """The fixture `name` on the graph engine, even where the import makes a chain of it a sequential network."""
    from saliency_cli.nn import onnx_import

    keep = onnx_import.lower
    onnx_import.lower = lambda *args: None
    try:
        return onnx_import.load_onnx(str(FIXTURES / f"{name}.onnx"))
    finally:
        onnx_import.lower = keep
