"""Canonical form of an imported graph for LRP: the same function, with the weights where the rules look for them.

LRP rules read a linear node's weight and bias; BatchNormalization after a convolution is part of that linear
map, so (as Zennit's `MergeBatchNorm` canonizer does) it is merged into it before the rules apply:

    w' = w * s,  b' = (b - mean) * s + B,  s = scale / sqrt(var + epsilon)   per output channel.

The merged BatchNormalization disappears from the canonical graph (an exact identity, not x / sqrt(1 + eps)).
A BatchNormalization whose input is not the output of a Conv or Gemm read by it alone is kept; the walk treats
it as an affine node and books its offset as bias. Besides:

- every Conv and Gemm carries a bias (zeros where the file has none), and Gemm's alpha and beta are folded into
  B and C (alpha = beta = 1), so the rules see z = a w + b;
- a MatMul of vectors (N, K) by a constant is a Gemm; followed by an Add of a constant vector (a dense layer
  written as MatMul + Add, as Keras exports it) the two are one Gemm with that bias.

The original graph is never modified; `canonicalise` returns a new one and the merges it made.
"""

from __future__ import annotations

import numpy as np

from ...nn.graph.affine import BatchNormalization, ConstArith, Gemm, MatMul
from ...nn.graph.conv import Conv
from ...nn.graph.network import Graph


def _readers(nodes) -> dict[str, int]:
    count: dict[str, int] = {}
    for node in nodes:
        for name in node.inputs:
            count[name] = count.get(name, 0) + 1
    return count


def _with(node, params: dict, **settings):
    """A copy of `node` with new parameters (and settings)."""
    attrs = {key: getattr(node, key) for key in node.settings}
    attrs.update(settings)
    return type(node)(node.name, list(node.inputs), node.output, params, **attrs)


def _canonical_linear(node):
    """Conv / Gemm with an explicit bias and alpha = beta = 1; a MatMul of vectors as a Gemm; others as they are."""
    if isinstance(node, Conv):
        w = node.params["weight"]
        b = node.params.get("bias", np.zeros(w.shape[0], dtype=w.dtype))
        return _with(node, {"weight": w, "bias": b})
    if isinstance(node, Gemm):
        b = node._b  # (K, M)
        c = node.params.get("bias")
        c = np.zeros(b.shape[1], dtype=b.dtype) if c is None else np.broadcast_to(c, (b.shape[1],)) * node.beta
        w = node.params["weight"] * node.alpha
        return _with(node, {"weight": w, "bias": np.array(c, dtype=b.dtype)}, alpha=1.0, beta=1.0)
    return node


def _merge_batchnorm(linear, bn):
    """The Conv or Gemm `linear` (canonical) followed by the BatchNormalization `bn`, as one node."""
    s = bn.params["scale"] / np.sqrt(bn.params["var"] + bn.epsilon)
    w, b = linear.params["weight"], linear.params["bias"]
    if isinstance(linear, Conv):
        w = w * s[:, None, None, None]
    else:
        w = w * (s[:, None] if linear.trans_b else s[None, :])
    b = (b - bn.params["mean"]) * s + bn.params["bias"]
    merged = _with(linear, {"weight": w, "bias": b})
    merged.output = bn.output
    return merged


def _matmul_as_gemm(node, shape, bias=None):
    w = node.params["weight"]
    b = np.zeros(w.shape[1], dtype=w.dtype) if bias is None else bias
    return Gemm(node.name, list(node.inputs), node.output, {"weight": w, "bias": b}, alpha=1.0, beta=1.0, trans_b=0)


def canonicalise(graph: Graph) -> tuple[Graph, list[tuple[str, str]]]:
    """The canonical graph for LRP (see the module's docstring) and the (BatchNormalization, into node) merges."""
    nodes = [_canonical_linear(n) for n in graph.layers]
    known = {graph.input_name: graph.input_shape}
    for node, shape in zip(graph.layers, graph.shapes, strict=True):
        known[node.output] = shape
    readers = _readers(nodes)
    writer = {node.output: i for i, node in enumerate(nodes)}
    merges, dropped = [], set()
    for i, node in enumerate(nodes):
        if not node.inputs or i in dropped:
            continue
        j = writer.get(node.inputs[0])
        if j is None or j in dropped or readers[node.inputs[0]] != 1:
            continue
        prev = nodes[j]
        if isinstance(node, BatchNormalization) and isinstance(prev, (Conv, Gemm)):
            nodes[j] = _merge_batchnorm(prev, node)
            merges.append((node.name, prev.name))
        elif (
            isinstance(node, ConstArith)
            and node.op == "Add"
            and isinstance(prev, MatMul)
            and len(known[prev.inputs[0]]) == 1
            and node.params["constant"].size == known[node.output][0]
        ):
            nodes[j] = _matmul_as_gemm(prev, known[prev.inputs[0]], node.params["constant"].reshape(-1))
            nodes[j].output = node.output
            merges.append((node.name, prev.name))
        else:
            continue
        dropped.add(i)
    nodes = [
        _matmul_as_gemm(n, known[n.inputs[0]]) if isinstance(n, MatMul) and len(known[n.inputs[0]]) == 1 else n
        for i, n in enumerate(nodes)
        if i not in dropped
    ]
    # NOTE: a merged node now writes its BatchNormalization's output, and runs where the linear node ran: every
    # reader of that output comes later in topological order, so the order still holds.
    out = Graph(nodes, graph.input_name, graph.input_shape, graph.task, graph.classes, graph.training, graph.notes)
    return out, merges
