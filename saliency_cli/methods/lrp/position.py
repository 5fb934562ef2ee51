"""Where a layer sits for a composite: first, last or inner, on a sequential network and on a graph.

Position is counted among the layers of the types a composite's position list names (conv2d and dense, i.e.
Conv and Gemm on an imported graph, for every preset and for `--first-rule` / `--last-rule`):

- first: a named layer no other named layer comes before: the input reaches it through unnamed layers only
  (activations, pooling, reshapes, input normalisation, an unmerged BatchNormalization). On a graph every path
  from the input to it must be so: a convolution reading the input and another convolution's output (a DenseNet
  concat) reads features, not pixels, and is not first.
- last: a named layer no other named layer comes after on the way to the explained output: its output reaches
  the logits through unnamed layers only (every path from it to the logits; a head of two Gemms summed has two
  last nodes, a node whose output also feeds a later convolution is not last).
- inner: every other named layer; it gets the composite's rule for its type.

A sequential network is a chain: the first and the last named layer (as Zennit's `SpecialFirstLayerMapComposite`
takes the first). A graph may have several of each (two convolutions reading the input side by side). A layer
that is both first and last (a model with one linear layer) takes the first-layer rule.
"""

from __future__ import annotations

from collections.abc import Callable

from ...nn.graph.network import Graph


def _chain(layers, named: Callable) -> tuple[frozenset[int], frozenset[int]]:
    hits = [i for i, layer in enumerate(layers) if named(layer)]
    return frozenset(hits[:1]), frozenset(hits[-1:])


def _graph(graph: Graph, named: Callable) -> tuple[frozenset[int], frozenset[int]]:
    nodes = graph.layers
    writer = {node.output: i for i, node in enumerate(nodes)}
    plan = graph.plan(graph.logit_index)  # the nodes the explained output needs, in topological order
    first, last = set(), set()
    upstream = {}  # node -> some named node is it or lies on a path from the input to it
    for i in plan:
        before = any(upstream.get(writer.get(name), False) for name in nodes[i].inputs)
        if named(nodes[i]) and not before:
            first.add(i)
        upstream[i] = before or named(nodes[i])
    downstream = dict.fromkeys(plan, False)  # node -> some named node reads its output, directly or further on
    for i in reversed(plan):
        if named(nodes[i]) and not downstream[i]:
            last.add(i)
        if downstream[i] or named(nodes[i]):
            for name in nodes[i].inputs:
                if name in writer:
                    downstream[writer[name]] = True
    return frozenset(first), frozenset(last)


def positions(net, named: Callable) -> tuple[frozenset[int], frozenset[int]]:
    """(first, last): the indices of `net.layers` in each position among the layers for which `named(layer)`."""
    if isinstance(net, Graph):
        return _graph(net, named)
    return _chain(net.layers, named)
