"""Every node of the graph engine: backward against float64 finite differences, and the tangent map of the affine
ones (exact IG's forward mode) against the op itself."""

from __future__ import annotations

import numpy as np
import pytest

from saliency_cli.nn.graph import (
    AddTensors,
    AveragePool,
    BatchNormalization,
    Concat,
    ConstArith,
    Conv,
    Flatten,
    Gemm,
    GlobalAveragePool,
    Graph,
    Identity,
    LeakyRelu,
    MatMul,
    MaxPool,
    ReduceMean,
    Relu,
    Reshape,
    Sigmoid,
    Tanh,
    Transpose,
)

from .gradcheck import numerical_gradient, relative_error

R = np.random.default_rng(0)


def _w(*shape):
    return R.normal(size=shape)


#: name -> (node, per-sample input shapes)
CASES = {
    "conv": (
        Conv(
            "c",
            ["x"],
            "y",
            {"weight": _w(3, 2, 3, 2), "bias": _w(3)},
            strides=(1, 2),
            pads=(1, 0, 2, 1),
            dilations=(1, 1),
            group=1,
        ),
        [(2, 6, 7)],
    ),
    "conv dilated": (
        Conv("c", ["x"], "y", {"weight": _w(2, 2, 3, 3)}, strides=(2, 1), pads=(2, 2, 2, 2), dilations=(2, 2), group=1),
        [(2, 7, 6)],
    ),
    "conv depthwise": (
        Conv(
            "c",
            ["x"],
            "y",
            {"weight": _w(3, 1, 3, 3), "bias": _w(3)},
            strides=(1, 1),
            pads=(1, 1, 1, 1),
            dilations=(1, 1),
            group=3,
        ),
        [(3, 5, 5)],
    ),
    "gemm": (Gemm("g", ["x"], "y", {"weight": _w(4, 6), "bias": _w(4)}, alpha=0.5, beta=2.0, trans_b=1), [(6,)]),
    "gemm plain": (Gemm("g", ["x"], "y", {"weight": _w(6, 4)}, alpha=1.0, beta=1.0, trans_b=0), [(6,)]),
    "matmul": (MatMul("m", ["x"], "y", {"weight": _w(5, 3)}), [(2, 5)]),
    "batchnorm": (
        BatchNormalization(
            "b", ["x"], "y", {"scale": _w(3), "bias": _w(3), "mean": _w(3), "var": R.uniform(0.5, 2, 3)}, epsilon=1e-5
        ),
        [(3, 4, 4)],
    ),
    "add constant": (ConstArith("a", ["x"], "y", {"constant": _w(3, 1, 1)}, op="Add"), [(3, 2, 2)]),
    "sub constant": (ConstArith("a", ["x"], "y", {"constant": _w(3, 1, 1)}, op="Sub"), [(3, 2, 2)]),
    "constant minus": (ConstArith("a", ["x"], "y", {"constant": _w(2)}, op="RSub"), [(3, 2)]),
    "mul constant": (ConstArith("a", ["x"], "y", {"constant": _w(3, 1, 1)}, op="Mul"), [(3, 2, 2)]),
    "div constant": (ConstArith("a", ["x"], "y", {"constant": R.uniform(1, 2, (3, 1, 1))}, op="Div"), [(3, 2, 2)]),
    "add": (AddTensors("a", ["x", "z"], "y", sign=1), [(3, 2, 2), (3, 2, 2)]),
    "sub broadcast": (AddTensors("a", ["x", "z"], "y", sign=-1), [(3, 2, 2), (3, 1, 1)]),
    "concat": (Concat("c", ["x", "z"], "y", axis=1), [(2, 3, 3), (1, 3, 3)]),
    "relu": (Relu("r", ["x"], "y"), [(3, 4)]),
    "leaky relu": (LeakyRelu("r", ["x"], "y", alpha=float(np.float32(0.2))), [(3, 4)]),
    "sigmoid": (Sigmoid("s", ["x"], "y"), [(5,)]),
    "tanh": (Tanh("t", ["x"], "y"), [(5,)]),
    "maxpool": (
        MaxPool("p", ["x"], "y", kernel=(2, 3), strides=(2, 2), pads=(1, 1, 0, 1), dilations=(1, 1), ceil_mode=1),
        [(2, 5, 6)],
    ),
    "maxpool dilated": (
        MaxPool("p", ["x"], "y", kernel=(2, 2), strides=(1, 1), pads=(0, 0, 0, 0), dilations=(2, 2), ceil_mode=0),
        [(1, 5, 5)],
    ),
    "avgpool include": (
        AveragePool(
            "p",
            ["x"],
            "y",
            kernel=(3, 3),
            strides=(2, 2),
            pads=(1, 1, 1, 1),
            dilations=(1, 1),
            ceil_mode=0,
            count_include_pad=1,
        ),
        [(2, 5, 5)],
    ),
    "avgpool exclude": (
        AveragePool(
            "p",
            ["x"],
            "y",
            kernel=(3, 3),
            strides=(2, 2),
            pads=(1, 1, 1, 1),
            dilations=(1, 1),
            ceil_mode=0,
            count_include_pad=0,
        ),
        [(2, 5, 5)],
    ),
    "global average pool": (GlobalAveragePool("g", ["x"], "y", axes=(2, 3), keepdims=1), [(3, 4, 5)]),
    "reduce mean": (ReduceMean("m", ["x"], "y", axes=(2, 3), keepdims=0), [(3, 4, 5)]),
    "flatten": (Flatten("f", ["x"], "y", shape=(12,)), [(3, 2, 2)]),
    "reshape": (Reshape("f", ["x"], "y", shape=(6, 2)), [(3, 2, 2)]),
    "transpose": (Transpose("t", ["x"], "y", perm=(1, 2, 0)), [(2, 3, 4)]),
    "identity": (Identity("i", ["x"], "y"), [(2, 3)]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_backward_matches_finite_differences(case):
    node, shapes = CASES[case]
    rng = np.random.default_rng(1)
    xs = [rng.normal(size=(2, *s)) for s in shapes]
    out_shape = node.output_shape(*shapes)
    y = node.forward(*xs)
    assert y.shape == (2, *out_shape)
    v = rng.normal(size=y.shape)
    node.forward(*xs)
    grads = node.backward(v.copy())
    piece = None
    if node.kind in ("kink", "maxpool"):

        def piece(_):  # the pattern of kinks or winners: finite differences stay on one piece
            out = node.forward(*xs)
            return (out > 0).tobytes() if node.kind == "kink" else node._arg.tobytes()

    for i, x in enumerate(xs):
        numeric = numerical_gradient(lambda _: float(np.sum(node.forward(*xs) * v)), x, piece=piece)
        assert relative_error(grads[i], numeric) <= 1e-7, f"{case}: backward, input {i}"


@pytest.mark.parametrize("case", sorted(c for c in CASES if CASES[c][0].kind == "affine"))
def test_tangent_is_the_op_on_values_and_its_linear_part_on_directions(case):
    node, shapes = CASES[case]
    rng = np.random.default_rng(2)
    xs = [rng.normal(size=(2, *s)) for s in shapes]
    ds = [rng.normal(size=(2, *s)) for s in shapes]
    out = node.tangent([np.concatenate([x, d]) for x, d in zip(xs, ds, strict=True)], 2)
    assert np.array_equal(out[:2], node.forward(*xs))
    moved = node.forward(*[x + d for x, d in zip(xs, ds, strict=True)]) - node.forward(*xs)
    assert relative_error(out[2:], moved) <= 1e-12


def test_float32_copies_compute_in_float32():
    node, shapes = CASES["conv"]
    x = np.random.default_rng(3).normal(size=(2, *shapes[0]))
    graph = Graph([node, Flatten("f", ["y"], "z", shape=(int(np.prod(node.output_shape(shapes[0]))),))], "x", shapes[0])
    small = graph.astype("float32")
    assert small.predict_logits(x).dtype == np.float32
    assert relative_error(small.predict_logits(x).astype(float), graph.predict_logits(x)) < 1e-5
    assert small.astype("float32") is small and graph.astype("float64") is graph


def test_a_branching_graph_sums_the_gradients_of_both_branches():
    relu = Relu("r", ["x"], "a")
    tanh = Tanh("t", ["x"], "b")
    add = AddTensors("s", ["a", "b"], "c", sign=1)
    flat = Flatten("f", ["c"], "y", shape=(8,))
    graph = Graph([relu, tanh, add, flat], "x", (2, 2, 2))
    x = np.random.default_rng(4).normal(size=(1, 2, 2, 2))
    graph.forward(x)
    g = graph.backward(np.ones((1, 8)))
    assert np.allclose(g, (x > 0) + 1 - np.tanh(x) ** 2, rtol=1e-15, atol=0)


def test_a_graph_summary_and_repr_name_each_nodes_inputs():
    relu = Relu("r", ["x"], "a")
    tanh = Tanh("t", ["x"], "b")
    sub = AddTensors("s", ["a", "b"], "c", sign=-1)
    flat = Flatten("f", ["c"], "y", shape=(8,))
    graph = Graph([relu, tanh, sub, flat], "x", (2, 2, 2))
    assert graph.summary() == [
        {"index": 0, "name": "r", "type": "Relu", "inputs": ["x"], "output_shape": [2, 2, 2], "parameters": 0},
        {"index": 1, "name": "t", "type": "Tanh", "inputs": ["x"], "output_shape": [2, 2, 2], "parameters": 0},
        {"index": 2, "name": "s", "type": "Sub", "inputs": ["a", "b"], "output_shape": [2, 2, 2], "parameters": 0},
        {"index": 3, "name": "f", "type": "Flatten", "inputs": ["c"], "output_shape": [8], "parameters": 0},
    ]
    assert list(graph.summary()[0]) == ["index", "name", "type", "inputs", "output_shape", "parameters"]
    assert repr(graph).splitlines() == [
        "Graph(input_shape=(2, 2, 2),",
        "  (r): Relu() <- x",
        "  (t): Tanh() <- x",
        "  (s): Add(sign=-1) <- a, b",
        "  (f): Flatten(shape=(8,)) <- c",
        ")",
    ]
