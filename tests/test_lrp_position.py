"""First, last and inner layers for composites: on a chain, on graphs with branches, and the same rules on a
sequential network and on the same network as a graph."""

from __future__ import annotations

import numpy as np
import pytest

from saliency_cli.methods.lrp.composites import COMPOSITES, LINEAR_TYPES, kind_of
from saliency_cli.methods.lrp.position import positions
from saliency_cli.methods.lrp.walk import lrp
from saliency_cli.nn.graph import Graph
from saliency_cli.nn.graph.activations import Relu
from saliency_cli.nn.graph.affine import AddTensors, Concat, Gemm
from saliency_cli.nn.graph.structure import Flatten
from saliency_cli.tasks import TASKS


def _linear(node) -> bool:
    return kind_of(node) in LINEAR_TYPES


def _gemm(name, x, y, k, m, rng):
    params = {"weight": rng.normal(size=(m, k)), "bias": rng.normal(size=m)}
    return Gemm(name, [x], y, params, alpha=1.0, beta=1.0, trans_b=1)


def _branches(rng) -> Graph:
    """g1 and g2 read the pixels (first); g3 reads g1's features beside the pixels (inner); g5's output reaches the
    logits directly and through g4 (inner); g4 ends the graph alone (last)."""
    nodes = [
        Flatten("flat", ["x"], "f", shape=(32,)),
        _gemm("g1", "f", "h1", 32, 8, rng),
        _gemm("g2", "f", "h2", 32, 8, rng),
        Relu("r1", ["h1"], "a1"),
        Concat("cat1", ["a1", "f"], "c1", axis=1),
        _gemm("g3", "c1", "h3", 40, 8, rng),
        AddTensors("add1", ["h3", "h2"], "s", sign=1),
        Relu("r2", ["s"], "a2"),
        _gemm("g5", "a1", "y5", 8, 3, rng),
        Concat("cat2", ["a2", "y5"], "c2", axis=1),
        _gemm("g4", "c2", "y4", 11, 3, rng),
        AddTensors("out", ["y4", "y5"], "y", sign=1),
    ]
    return Graph(nodes, "x", (2, 4, 4))


def _two_heads(rng) -> Graph:
    """A residual head: the logits are the sum of two Gemms, both last."""
    nodes = [
        Flatten("flat", ["x"], "f", shape=(32,)),
        _gemm("g1", "f", "h1", 32, 8, rng),
        Relu("r1", ["h1"], "a1"),
        _gemm("g2", "a1", "h2", 8, 8, rng),
        Relu("r2", ["h2"], "a2"),
        _gemm("head1", "a2", "y1", 8, 3, rng),
        _gemm("head2", "a1", "y2", 8, 3, rng),
        AddTensors("out", ["y1", "y2"], "y", sign=1),
    ]
    return Graph(nodes, "x", (2, 4, 4))


def _names(graph, indices) -> set[str]:
    return {graph.layers[i].name for i in indices}


def test_first_reads_only_pixels_and_last_reaches_the_logits_through_no_weights():
    graph = _branches(np.random.default_rng(0))
    first, last = positions(graph, _linear)
    assert _names(graph, first) == {"g1", "g2"}
    assert _names(graph, last) == {"g4"}
    heads = _two_heads(np.random.default_rng(0))
    first, last = positions(heads, _linear)
    assert _names(heads, first) == {"g1"} and _names(heads, last) == {"head1", "head2"}


def test_position_rules_apply_to_every_node_in_the_position_and_the_ledger_closes():
    rng = np.random.default_rng(1)
    for graph, rules in (
        (_branches(rng), {"g1": "flat", "g2": "flat", "g3": "gamma", "g5": "gamma", "g4": "epsilon"}),
        (_two_heads(rng), {"g1": "flat", "g2": "gamma", "head1": "epsilon", "head2": "epsilon"}),
    ):
        x = rng.random((3, 2, 4, 4))
        r, ledger = lrp(graph, x, rule="gamma", first="flat", last="epsilon")
        got = {e.name: e.rule.name for e in ledger.entries if e.kind == "dense"}
        assert got == rules
        assert ledger.complete and ledger.max_unexplained <= 1e-12 and np.isfinite(r).all()
        # without position rules every Gemm takes the rule
        _, plain = lrp(graph, x, rule="gamma")
        assert {e.rule.name for e in plain.entries if e.kind == "dense"} == {"gamma"}


def test_a_single_linear_layer_is_first_and_last_and_takes_the_first_layer_rule():
    rng = np.random.default_rng(2)
    graph = Graph([Flatten("flat", ["x"], "f", shape=(32,)), _gemm("g", "f", "y", 32, 3, rng)], "x", (2, 4, 4))
    assert positions(graph, _linear) == (frozenset({1}), frozenset({1}))
    _, ledger = lrp(graph, rng.random((1, 2, 4, 4)), rule="gamma", first="flat", last="epsilon")
    assert ledger.entries[0].rule.name == "flat"


def test_on_a_chain_first_and_last_are_the_first_and_last_linear_layers(shipped):
    net = shipped("blobs6x6")  # flatten1, dense1, relu1, dense2, relu2, dense3, softmax1
    first, last = positions(net, _linear)
    assert _names(net, first) == {"dense1"} and _names(net, last) == {"dense3"}
    x, _, _ = TASKS["blobs6x6"].probe("clean")
    _, ledger = lrp(net, x, rule="gamma", first="flat", last="epsilon")
    rules = {e.name: e.rule.name for e in ledger.entries}
    assert (rules["dense1"], rules["dense2"], rules["dense3"]) == ("flat", "gamma", "epsilon")
    assert ledger.max_unexplained <= 1e-12


# -- the same network as a chain and as a graph ----------------------------------------------------------------

#: every preset, and position rules on top of a rule and of a preset
SETTINGS = [{"composite": name} for name in sorted(COMPOSITES)] + [
    {"rule": "gamma", "first": "zbox", "last": "epsilon"},
    {"rule": "alpha-beta", "first": "wsquare", "last": "zplus"},
    {"composite": "epsilon-gamma-box", "last": "alpha-beta"},
]


@pytest.fixture(scope="module")
def lenet_both():
    """The LeNet fixture as the sequential network it imports as, and as a graph of its ONNX nodes."""
    pytest.importorskip("onnx")
    from saliency_cli.nn.modelfile import load_model

    from .onnx_fixtures import FIXTURES, load_as_graph, reference, tool_input

    chain, graph = load_model(FIXTURES / "lenet.onnx"), load_as_graph("lenet")
    assert not isinstance(chain, Graph) and isinstance(graph, Graph)
    return chain, graph, tool_input("lenet", reference("lenet")["x"])


@pytest.mark.parametrize("settings", SETTINGS, ids=lambda s: "-".join(str(v) for v in s.values()))
def test_a_sequential_network_and_the_same_graph_get_the_same_rules_and_relevance(lenet_both, settings):
    chain, graph, x = lenet_both
    r_chain, l_chain = lrp(chain, x, **settings)
    r_graph, l_graph = lrp(graph, x, **settings)
    linear = {e.name: e.rule.name for e in l_chain.entries if e.kind in LINEAR_TYPES}
    assert linear == {e.name: e.rule.name for e in l_graph.entries if e.kind in LINEAR_TYPES}
    assert len(linear) == 5 and len(set(linear.values())) > 1
    # NOTE: the chain runs on the sequential engine, the graph on the graph engine: the same sums in other orders
    scale = np.abs(r_chain).max()
    assert np.abs(r_chain - r_graph).max() <= 1e-12 * scale, settings
    assert l_graph.max_unexplained <= 1e-12 and l_chain.max_unexplained <= 1e-12
