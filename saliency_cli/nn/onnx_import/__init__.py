"""ONNX import: an .onnx file becomes a graph of the engine's nodes (or, when it is a chain of the sequential
network's layer types, a `Network`), for the file's fixed input shape.

The onnx package (its protobuf classes only) is imported here and nowhere else, and only when an .onnx file is
read. Nothing here runs a model: the graph is built, checked and bounded, then the engine runs it.
"""

from __future__ import annotations

import heapq
import os

import numpy as np

from ..graph import Graph, Reshape
from ..layers import ShapeError
from ..limits import MAX_LAYERS, MAX_PARAMETERS, MAX_VALUES_PER_SAMPLE
from .builders import BUILDERS, Site
from .fold import BATCH, FOLDS, fold
from .heads import class_labels, find_head, pick_output
from .lower import lower
from .read import Refused, parse, tensor_array

__all__ = ["Refused", "load_onnx"]

#: Most nodes an .onnx graph may have (before constant folding).
MAX_ONNX_NODES = 4096


def _attributes(node, folder: str) -> dict:
    from onnx import helper

    out = {}
    for a in node.attribute:
        if a.type == 4:  # TENSOR
            out[a.name] = tensor_array(a.t, folder)
        elif a.type in (5, 10, 11, 13):  # GRAPH, SPARSE_TENSOR, GRAPHS, SPARSE_TENSORS
            raise Refused(f"unsupported attribute {a.name} (a subgraph) of ONNX op '{node.op_type}'")
        else:
            value = helper.get_attribute_value(a)
            out[a.name] = (
                list(value) if isinstance(value, list | tuple) or type(value).__name__.startswith("Repeated") else value
            )
    return out


def _names(nodes) -> list[str]:
    """Unique node names: the file's, or '<op>_<i>' where it has none (and never a bare number)."""
    out, seen = [], set()
    for i, node in enumerate(nodes):
        name = node.name if isinstance(node.name, str) else ""
        name = name if name.isprintable() and not name.lstrip("-").isdigit() else ""
        name = name or f"{node.op_type}_{i}"
        while name in seen:
            name = f"{name}_{i}"
        seen.add(name)
        out.append(name[:200])
    return out


def _input(graph, consts) -> tuple[str, tuple[int, ...], int | None]:
    """The one non-constant graph input: name, per-sample shape, declared batch size (None when symbolic)."""
    inputs = [i for i in graph.input if i.name not in consts]
    if len(inputs) != 1:
        raise Refused(f"the graph takes {len(inputs)} inputs; one input tensor is supported")
    value = inputs[0]
    tt = value.type.tensor_type
    if not value.type.HasField("tensor_type") or tt.elem_type not in (1, 10, 11):
        raise Refused(f"input {value.name!r} is not a float tensor")
    if not tt.HasField("shape"):
        raise Refused(f"dynamic shape: input {value.name!r} declares no shape")
    dims = list(tt.shape.dim)
    if not 2 <= len(dims) <= 4:
        raise Refused(f"input {value.name!r} of rank {len(dims)}: (N, D), (N, H, W) or (N, C, H, W) are supported")
    shape = []
    for axis, d in enumerate(dims[1:], start=1):
        if not d.HasField("dim_value") or d.dim_value < 1:
            what = d.dim_param or "no size"
            raise Refused(f"dynamic shape: input {value.name!r} axis {axis} is {what!r}; export it with a fixed size")
        shape.append(int(d.dim_value))
    size = 1
    for s in shape:
        size *= s
    if size > MAX_VALUES_PER_SAMPLE:
        raise Refused(f"input {value.name!r} of shape {shape} has {size:,} values; at most {MAX_VALUES_PER_SAMPLE:,}")
    batch = int(dims[0].dim_value) if dims[0].HasField("dim_value") else None
    return value.name, tuple(shape), batch


def _order(nodes, names, writer, target: str, consts, graph_input: str) -> list[int]:
    """The nodes `target` depends on, in topological order; refuses cycles and dangling inputs."""
    index = {id(n): i for i, n in enumerate(nodes)}
    need, todo = set(), [target]
    while todo:
        name = todo.pop()
        node = writer.get(name)
        if node is None:
            continue
        i = index[id(node)]
        if i in need:
            continue
        need.add(i)
        for j in node.input:
            if not j or j in consts or j == graph_input:
                continue
            if j not in writer:
                raise Refused(f"node '{names[i]}' reads {j[:60]!r}, which no node writes and no initializer holds")
            todo.append(j)
    deps = {i: {index[id(writer[j])] for j in nodes[i].input if j in writer and j not in consts} for i in need}
    # NOTE: the ready node that comes first in the file runs first: a file in topological order keeps its order
    order, ready = [], sorted(i for i in need if not deps[i])
    users: dict[int, list[int]] = {}
    for i, ds in deps.items():
        for d in ds:
            users.setdefault(d, []).append(i)
    while ready:
        i = heapq.heappop(ready)
        order.append(i)
        for u in users.get(i, []):
            deps[u].discard(i)
            if not deps[u]:
                heapq.heappush(ready, u)
    if len(order) != len(need):
        stuck = min(set(need) - set(order))
        raise Refused(f"the graph has a cycle through node '{names[stuck]}'")
    return order


def load_onnx(path: str, output: str | None = None):
    """The model in the .onnx file at `path`: a Network when it is a chain of its layer types, else a Graph.

    Raises Refused (a ValueError) with one line; OSError for an unreadable file.
    """
    model, sha256 = parse(path)
    folder = os.path.dirname(os.path.abspath(path))
    graph = model.graph
    if len(graph.node) > MAX_ONNX_NODES or len(graph.initializer) > MAX_ONNX_NODES:
        raise Refused(f"the graph has more than {MAX_ONNX_NODES} nodes or initializers")
    if len(graph.sparse_initializer):
        raise Refused("sparse initializers are not supported")
    consts, total = {}, 0
    for t in graph.initializer:
        consts[t.name] = tensor_array(t, folder)
        total += consts[t.name].size
        if total > MAX_PARAMETERS:
            raise Refused(f"the initializers hold more than {MAX_PARAMETERS:,} values")
    nodes = list(graph.node)
    names = _names(nodes)
    input_name, shape, batch = _input(graph, consts)
    writer = {}
    for i, node in enumerate(nodes):
        for out in node.output:
            if out and (out in writer or out in consts or out == input_name):
                raise Refused(f"tensor {out[:60]!r} is written twice (node '{names[i]}')")
            if out:
                writer[out] = node
    chosen = pick_output(graph, writer, output)
    head = find_head(writer, chosen, set(consts))
    logits = head.input[0] if head is not None else chosen
    order = _order(nodes, names, writer, logits, consts, input_name)
    used = {j for i in order for j in nodes[i].input} | {logits}

    engine, aliases, notes = [], {}, []
    shapes = {input_name: shape}
    engine_input, input_shape = input_name, shape
    nhwc = _nhwc_transposes(nodes, order, input_name, shape)
    if nhwc:
        input_shape = (shape[2], shape[0], shape[1])
        shapes = {input_name: input_shape}
        for i in nhwc:
            aliases[nodes[i].output[0]] = input_name
        notes.append("the graph's NHWC input is read as (C, H, W): its Transpose to NCHW is folded")
    elif len(shape) < 3:
        engine_input = f"{input_name}:image"
        input_shape = (1,) * (3 - len(shape)) + shape
        engine.append(Reshape(f"{input_name}:view", [engine_input], input_name, shape=shape))
        notes.append(f"the graph's input of shape {list(shape)} is read as an image of shape {list(input_shape)}")
    for i in order:
        node = nodes[i]
        if i in nhwc:
            continue
        if node.domain not in ("", "ai.onnx"):
            raise Refused(f"unsupported ONNX op '{node.domain}.{node.op_type}' at node '{names[i]}'")
        ins = [aliases.get(j, j) for j in node.input]
        try:
            attrs = _attributes(node, folder)
        except Refused as exc:
            raise Refused(f"{exc} at node '{names[i]}'") from None
        outs = list(node.output)
        if node.op_type == "Constant":
            consts[outs[0]] = _constant(attrs, names[i])
            continue
        if node.op_type == "Shape" and ins and ins[0] in shapes:
            full = [BATCH, *shapes[ins[0]]]
            start, end = attrs.get("start", 0), attrs.get("end", len(full))
            consts[outs[0]] = np.array(full[start:end], dtype=np.int64)
            continue
        if all(not j or j in consts for j in ins):
            if node.op_type not in FOLDS:
                raise Refused(f"unsupported ONNX op '{node.op_type}' at node '{names[i]}'")
            try:
                consts[outs[0]] = fold(node.op_type, attrs, [consts[j] if j else None for j in ins])
            except Refused as exc:
                raise Refused(f"{exc} at node '{names[i]}' (ONNX op '{node.op_type}')") from None
            continue
        builder = BUILDERS.get(node.op_type)
        if builder is None:
            raise Refused(f"unsupported ONNX op '{node.op_type}' at node '{names[i]}'")
        site = Site(names[i], node.op_type, attrs, ins, outs, consts, shapes, batch)
        built = builder(site, used)
        if isinstance(built, str):
            aliases[outs[0]] = built
            continue
        try:
            out_shape = tuple(int(s) for s in built.output_shape(*(shapes[j] for j in built.inputs)))
            values, what = built.values_per_sample(*(shapes[j] for j in built.inputs))
        except ShapeError as exc:
            raise Refused(f"{exc} at node '{names[i]}' (ONNX op '{node.op_type}')") from None
        if values > MAX_VALUES_PER_SAMPLE:
            raise Refused(
                f"node '{names[i]}' ({node.op_type}) would need {values:,} values per example for {what}; "
                f"this tool handles at most {MAX_VALUES_PER_SAMPLE:,}"
            )
        shapes[outs[0]] = out_shape
        engine.append(built)
        if len(engine) > MAX_LAYERS:
            raise Refused(f"the graph has more than {MAX_LAYERS} nodes after folding")
    logits = aliases.get(logits, logits)
    if logits not in shapes or logits == engine_input:
        raise Refused("the explained output does not depend on the input")
    k = shapes[logits]
    if len(k) != 1:
        raise Refused(f"the explained output has shape {list(k)} per example; a vector of class scores is needed")
    engine = _needed(engine, logits)
    classes = _classes(writer, chosen, k[0], head)
    notes += _head_notes(head, writer, names, nodes, k[0])
    info = {
        "source": "onnx",
        "file": os.path.basename(path),
        "producer": f"{model.producer_name} {model.producer_version}".strip(),
        "opset": max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=0),
        "output": chosen,
        # the graph's own input (see inputs.model_layout: --input files may be laid out so)
        "input": {"shape": list(shape), "layout": "nhwc" if nhwc else "view" if len(shape) < 3 else "nchw"},
    }
    try:
        net = lower(engine, engine_input, input_shape, classes, info)
        if net is None:
            net = Graph(engine, engine_input, input_shape, None, classes, info, notes)
    except ShapeError as exc:
        raise Refused(str(exc)) from None
    net.notes, net.path, net.sha256 = notes, str(path), sha256
    return net


def _constant(attrs: dict, name: str):
    for key, dtype in (
        ("value", None),
        ("value_float", np.float32),
        ("value_floats", np.float32),
        ("value_int", np.int64),
        ("value_ints", np.int64),
    ):
        if key in attrs:
            return np.asarray(attrs[key], dtype=dtype)
    raise Refused(f"unsupported attribute of ONNX op 'Constant' at node '{name}'")


def _nhwc_transposes(nodes, order, input_name: str, shape) -> set[int]:
    """The nodes reading a 4-D input when every one is a Transpose to NCHW (a Keras export), else empty."""
    if len(shape) != 3:
        return set()
    readers = [i for i in order if input_name in nodes[i].input]
    for i in readers:
        node = nodes[i]
        perm = [list(a.ints) for a in node.attribute if a.name == "perm"]
        if node.op_type != "Transpose" or perm != [[0, 3, 1, 2]]:
            return set()
    return set(readers)


def _needed(engine: list, logits: str) -> list:
    writer = {node.output: node for node in engine}
    need, todo = set(), [logits]
    while todo:
        node = writer.get(todo.pop())
        if node is not None and id(node) not in need:
            need.add(id(node))
            todo.extend(node.inputs)
    return [node for node in engine if id(node) in need]


def _classes(writer, chosen: str, k: int, head) -> list[str] | None:
    labels = class_labels(writer, chosen)
    if labels is None:
        return ["1"] if k == 1 and head is not None and head.op_type == "Sigmoid" else None
    if len(labels) == k:
        return labels
    if k == 1 and len(labels) == 2:
        return [labels[1]]
    return None


def _head_notes(head, writer, names, nodes, k: int) -> list[str]:
    if head is None:
        return []
    name = names[[id(n) for n in nodes].index(id(head))]
    if head.op_type == "Sigmoid" and k == 1:
        return [f"single-unit Sigmoid head (node '{name}'): explaining that unit's logit, the sigmoid's input"]
    return [f"explaining the logits: the input of the final {head.op_type} (node '{name}')"]
