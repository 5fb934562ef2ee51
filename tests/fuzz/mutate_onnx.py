"""Hostile .onnx files for the fuzz suite: the committed fixtures truncated, with bytes changed, or with one
structural mutation (wrong data types, hostile or huge shapes, cycles, dangling inputs, unknown ops, bad
attributes, external data pointing outside the model's folder)."""

from __future__ import annotations

import random

from . import mutate

#: fixture -> the tool's input shape (for a probe that fits).
FIXTURES = {"resnet": (3, 32, 32), "keras_nhwc": (2, 12, 12), "mlp": (1, 1, 20), "avgconcat": (2, 16, 16),
            "normalised": (3, 16, 16), "lenet": (1, 28, 28)}  # fmt: skip


def _structural(rng: random.Random, data: bytes) -> bytes:
    import onnx

    model = onnx.ModelProto.FromString(data)
    g = model.graph
    nodes, inits = list(g.node), list(g.initializer)
    kind = rng.choice(["dtype", "dims", "input-dims", "cycle", "dangling", "op", "attribute", "external", "output",
                       "duplicate", "opset"])  # fmt: skip
    if kind == "dtype" and inits:
        rng.choice(inits).data_type = rng.choice([0, 2, 3, 7, 8, 9, 10, 11, 16, 17, 99])
    elif kind == "dims" and inits:
        t = rng.choice(inits)
        del t.dims[:]
        t.dims.extend(rng.choice([[], [0], [-1, 3], [2**40], [2**31, 2**31], [1] * 9, [3, 3]]))
    elif kind == "input-dims":
        dims = g.input[0].type.tensor_type.shape.dim
        d = dims[rng.randrange(len(dims))]
        if rng.random() < 0.5:
            d.dim_value = rng.choice([0, 1, 2**40, 10**6, 7])
        else:
            d.dim_param = rng.choice(["height", "", "N"])
    elif kind == "cycle" and len(nodes) > 1:
        i = rng.randrange(len(nodes) - 1)
        later = rng.randrange(i + 1, len(nodes))
        if nodes[i].input:
            nodes[i].input[0] = nodes[later].output[0]
    elif kind == "dangling" and nodes:
        node = rng.choice(nodes)
        if node.input:
            node.input[rng.randrange(len(node.input))] = rng.choice(["ghost", "", "input"])
    elif kind == "op" and nodes:
        rng.choice(nodes).op_type = rng.choice(["Upsample", "Loop", "If", "Softmax", "Gemm", "Conv", "Relu", ""])
    elif kind == "attribute" and nodes:
        node = rng.choice(nodes)
        if node.attribute:
            a = rng.choice(list(node.attribute))
            if a.ints:
                a.ints[rng.randrange(len(a.ints))] = rng.choice([-1, 0, 2**40, 1000])
            else:
                a.i = rng.choice([-1, 0, 2**40, 1000])
                a.f = rng.choice([float("nan"), float("inf"), -1.0, 1e30])
    elif kind == "external" and inits:
        t = rng.choice(inits)
        t.ClearField("raw_data")
        t.data_location = 1
        t.external_data.add(key="location", value=rng.choice(["../x.bin", "/etc/passwd", "a/../../x", "x.bin"]))
        if rng.random() < 0.5:
            t.external_data.add(key="offset", value=rng.choice(["-5", "abc", "99999999999"]))
    elif kind == "output":
        g.output[0].name = rng.choice(["nowhere", g.input[0].name, ""])
    elif kind == "duplicate" and len(nodes) > 1:
        nodes[1].output[0] = nodes[0].output[0]
    elif kind == "opset":
        model.opset_import[0].version = rng.choice([1, 5, 99])
    return model.SerializeToString()


def mutate_onnx(rng: random.Random, data: bytes) -> bytes:
    """One mutation of an .onnx file's bytes."""
    how = rng.random()
    if how < 0.2:
        return data[: rng.randrange(len(data))]
    if how < 0.45:
        return mutate.mutate_bytes(rng, data)
    return _structural(rng, data)
