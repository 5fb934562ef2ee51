"""LRP on imported graphs: the canonical form, the node rules' ledger, and Zennit's maps (float64, no torch)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("onnx")

from saliency_cli.methods.lrp.canonical import canonicalise
from saliency_cli.methods.lrp.nodes import ROUND_OFF, Proportional
from saliency_cli.methods.lrp.walk import lrp
from saliency_cli.nn.graph import Graph
from saliency_cli.nn.graph.affine import AddTensors, BatchNormalization, Gemm, MatMul
from saliency_cli.nn.graph.conv import Conv
from saliency_cli.nn.graph.structure import Flatten
from saliency_cli.nn.modelfile import load_model

from .onnx_fixtures import FIXTURES, NAMES, reference, tool_input

#: every rule and composite the ledger is checked with
SETTINGS = (
    {"rule": "epsilon"},
    {"rule": "gamma"},
    {"rule": "alpha-beta"},
    {"rule": "zplus", "pool": "proportional"},
    {"composite": "epsilon-gamma-box"},
    {"composite": "epsilon-plus-flat"},
    {"rule": "epsilon", "first": "wsquare"},
    {"composite": "epsilon-alpha2-beta1-flat", "last": "zplus"},
    {"rule": "gamma", "first": "zbox", "last": "epsilon"},
)

#: reference name (bench/make_lrp_references.py) -> the tool's settings
ZENNIT = {
    "epsilon": {"rule": "epsilon", "eps": 1e-2},
    "gamma": {"rule": "gamma", "gamma": 0.25, "eps": 1e-2},
    "alpha-beta": {"rule": "alpha-beta", "alpha": 2.0},
    "zplus": {"rule": "zplus"},
    "epsilon-plus": {"composite": "epsilon-plus"},
    "epsilon-alpha2-beta1": {"composite": "epsilon-alpha2-beta1"},
    "epsilon-plus-flat": {"composite": "epsilon-plus-flat"},
    "epsilon-gamma-box": {"composite": "epsilon-gamma-box", "eps": 1e-2},
    "epsilon-alpha2-beta1-flat": {"composite": "epsilon-alpha2-beta1-flat"},
}

#: reference name -> the same map by position rules where the network's only Gemm is last (resnet, avgconcat)
BY_POSITION = {
    "epsilon-plus": {"rule": "zplus", "last": "epsilon"},
    "epsilon-alpha2-beta1": {"rule": "alpha-beta", "alpha": 2.0, "last": "epsilon"},
    "epsilon-plus-flat": {"rule": "zplus", "first": "flat", "last": "epsilon"},
    "epsilon-gamma-box": {"rule": "gamma", "first": "zbox", "last": "epsilon"},
}


def _model(name):
    return load_model(FIXTURES / f"{name}.onnx")


def _x(name):
    return tool_input(name, reference(name)["x"])


def test_canonical_graph_merges_every_batchnorm_and_computes_the_same_function():
    model = _model("resnet")
    canon, merges = canonicalise(model)
    assert not any(node.type == "BatchNormalization" for node in canon.layers)
    assert len(merges) == sum(node.type == "BatchNormalization" for node in model.layers) == 6
    assert all(
        node.params["bias"].shape == (node.params["weight"].shape[0],) for node in canon.layers if node.type == "Conv"
    )
    x = _x("resnet")
    want = model.forward(x)
    assert np.abs(canon.forward(x) - want).max() <= 1e-13 * np.abs(want).max()
    # the original is untouched
    assert model.params_hash() == _model("resnet").params_hash()


def test_matmul_and_its_bias_become_one_gemm():
    model = _model("keras_nhwc")
    canon, merges = canonicalise(model)
    assert [n.type for n in canon.layers][-1] == "Gemm" and len(merges) == 1
    x = _x("keras_nhwc")
    assert np.abs(canon.forward(x) - model.forward(x)).max() <= 1e-13 * np.abs(model.forward(x)).max()


def _bn_graph(rng):
    """BatchNormalization on the input (nothing to merge into), a conv, a residual Add, a Gemm."""
    c = 2
    bn = BatchNormalization(
        "bn",
        ["x"],
        "b",
        {
            "scale": rng.normal(size=c),
            "bias": rng.normal(size=c),
            "mean": rng.normal(size=c),
            "var": rng.random(c) + 0.5,
        },
        epsilon=1e-5,
    )
    conv = Conv(
        "conv",
        ["b"],
        "c",
        {"weight": rng.normal(size=(c, c, 3, 3)), "bias": rng.normal(size=c)},
        strides=(1, 1),
        pads=(1, 1, 1, 1),
        dilations=(1, 1),
        group=1,
    )
    add = AddTensors("add", ["c", "b"], "s", sign=1)
    flat = Flatten("flat", ["s"], "f", shape=(c * 16,))
    fc = Gemm(
        "fc",
        ["f"],
        "y",
        {"weight": rng.normal(size=(3, c * 16)), "bias": rng.normal(size=3)},
        alpha=1.0,
        beta=1.0,
        trans_b=1,
    )
    return Graph([bn, conv, add, flat, fc], "x", (c, 4, 4))


def test_a_batchnorm_with_nothing_to_merge_into_books_its_shift_as_bias():
    rng = np.random.default_rng(0)
    graph = _bn_graph(rng)
    canon, merges = canonicalise(graph)
    assert merges == [] and canon.layers[0].type == "BatchNormalization"
    x = rng.normal(size=(3, 2, 4, 4))
    r, ledger = lrp(graph, x, rule="epsilon")
    rows = {e.name: e for e in ledger.entries}
    assert rows["bn"].rule.name == "proportional" and np.all(np.abs(rows["bn"].shares.bias) > 0)
    assert rows["add"].rule.name == "proportional"
    assert ledger.max_unexplained <= 1e-12
    totals = ledger.totals(0)
    assert totals["input"] == pytest.approx(r[0].sum(), abs=1e-13)
    assert abs(totals["logit"] - totals["input"] - totals["bias"] - totals["stabiliser"] - totals["dropped"]) <= 1e-12


def test_the_add_rule_is_the_z_rule_over_the_summands_with_a_round_off_stabiliser():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 3, 4))
    r = rng.normal(size=(2, 3, 4))
    node = AddTensors("add", ["a", "b"], "s", sign=1)
    (ra, rb), shares = Proportional().propagate_node(node, [a, b], r)
    z = a + b
    den = z + np.where(z >= 0, 1.0, -1.0) * ROUND_OFF * (np.abs(a) + np.abs(b))
    np.testing.assert_allclose(ra, a * r / den, rtol=1e-15)
    np.testing.assert_allclose(rb, b * r / den, rtol=1e-15)
    closing = r.sum(axis=(1, 2)) - ra.sum(axis=(1, 2)) - rb.sum(axis=(1, 2)) - shares.stabiliser
    assert np.abs(closing).max() <= 1e-12
    assert np.abs(shares.stabiliser).max() <= 1e-13 * np.abs(r).sum()
    # a sum that is exactly zero with zero terms cannot share: dropped, booked
    (ra, rb), shares = Proportional().propagate_node(node, [np.zeros((1, 2)), np.zeros((1, 2))], np.ones((1, 2)))
    assert shares.dropped[0] == 2.0 and not ra.any() and not rb.any()


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("settings", SETTINGS, ids=lambda s: "-".join(str(v) for v in s.values()))
def test_the_ledger_closes_at_every_node_of_every_fixture(name, settings):
    model = _model(name)
    r, ledger = lrp(model, _x(name), **settings)
    assert ledger.complete and r is not None and np.isfinite(r).all()
    for entry in ledger.entries:
        assert np.abs(entry.unexplained).max() <= 1e-12, (entry.name, entry.type)
    for sample in range(len(r)):
        t = ledger.totals(sample)
        assert t["input"] == pytest.approx(r[sample].sum(), rel=1e-12, abs=1e-14)
        assert abs(t["logit"] - t["input"] - t["bias"] - t["stabiliser"] - t["dropped"]) <= 1e-12
    assert ledger.weights_unchanged


def test_smooth_activations_are_marked_in_the_ledger():
    _, ledger = lrp(_model("mlp"), _x("mlp"))
    rules = {e.type: e.rule.name for e in ledger.entries}
    assert rules["Tanh"] == rules["Sigmoid"] == "pass-through-smooth"


def test_input_normalisation_passes_relevance_to_the_same_pixel():
    model = _model("normalised")
    x = _x("normalised")
    r, ledger = lrp(model, x)
    assert [e.type for e in ledger.entries[-2:]] == ["Div", "Sub"]
    assert all(e.rule.name == "pass-through" for e in ledger.entries[-2:])
    # the same walk on the graph after the normalisation, fed the normalised input: the same map, pixel by pixel
    sub, div = model.layers[:2]
    assert (sub.label, div.label) == ("Sub", "Div")
    rest = Graph(model.layers[2:], div.output, model.input_shape, classes=model.classes)
    r_rest, _ = lrp(rest, div.forward(sub.forward(x)))
    assert np.array_equal(r, r_rest)


def test_concat_splits_by_slices():
    _, ledger = lrp(_model("avgconcat"), _x("avgconcat"))
    concat = next(e for e in ledger.entries if e.type == "Concat")
    assert concat.rule.name == "slices"
    assert np.array_equal(concat.shares.bias, np.zeros(2)) and np.abs(concat.unexplained).max() <= 1e-15


@pytest.mark.parametrize("name", ("lenet", "resnet", "avgconcat"))
@pytest.mark.parametrize("key", sorted(ZENNIT))
def test_maps_equal_zennits_with_batchnorm_merged(name, key):
    """avgconcat: both convolutions read the input, and both take the first-layer rule (Zennit's by name)."""
    _against_zennit(name, key, ZENNIT[key])


def _against_zennit(name: str, key: str, settings: dict):
    """LRP with `settings` on fixture `name` against Zennit's map `key` (to 1e-10), the ledger closed; the ledger."""
    with np.load(FIXTURES / f"{name}_lrp.npz") as data:
        ref = dict(data)
    settings = dict(settings)
    if key == "epsilon-gamma-box":
        settings.update(low=float(ref["low"]), high=float(ref["high"]))
    r, ledger = lrp(_model(name), ref["x"], target=ref["targets"], **settings)
    assert np.abs(r - ref[key]).max() <= 1e-10 * max(1.0, np.abs(ref[key]).max())
    assert ledger.max_unexplained <= 1e-12
    return ledger


@pytest.mark.parametrize("name", ("resnet", "avgconcat"))
@pytest.mark.parametrize("key", sorted(BY_POSITION))
def test_a_last_layer_rule_on_the_only_gemm_gives_zennits_composite(name, key):
    """The residual network's fc is its only Gemm, and last: the rule of every layer, epsilon on the last one, is
    Zennit's composite of conv rule and epsilon on Linear."""
    ledger = _against_zennit(name, key, BY_POSITION[key])
    gemm = [e for e in ledger.entries if e.kind == "dense"]
    assert len(gemm) == 1 and gemm[0].rule.name == "epsilon"


def test_a_matmul_of_higher_rank_stops_the_walk_in_the_ledger_without_a_traceback():
    rng = np.random.default_rng(2)
    mm = MatMul("mm", ["x"], "m", {"weight": rng.normal(size=(4, 3))})
    flat = Flatten("flat", ["m"], "f", shape=(2 * 5 * 3,))
    fc = Gemm(
        "fc", ["f"], "y", {"weight": rng.normal(size=(2, 30)), "bias": np.zeros(2)}, alpha=1.0, beta=1.0, trans_b=1
    )
    graph = Graph([mm, flat, fc], "x", (2, 5, 4))
    r, ledger = lrp(graph, rng.normal(size=(1, 2, 5, 4)))
    assert r is None and ledger.stopped.name == "mm" and "MatMul" in ledger.reason


@pytest.mark.parametrize("name", ("resnet", "avgconcat"))
def test_compare_on_a_graph_gives_zennits_three_maps(name, run, tmp_path):
    import json

    with np.load(FIXTURES / f"{name}_lrp.npz") as data:
        ref = dict(data)
    np.save(tmp_path / "x.npy", ref["x"][1])
    target = str(int(ref["targets"][1]))
    model = FIXTURES / f"{name}.onnx"
    result = run("lrp", "--model", model, "--input", tmp_path / "x.npy", "--target", target, "--compare",
                 "--format", "json")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert list(doc["rules"]) == ["epsilon", "gamma", "alpha-beta"] and doc["complete"]
    for rule, run_doc in doc["rules"].items():
        want = ref[rule][1]
        assert np.abs(np.array(run_doc["relevance"]) - want).max() <= 1e-10 * max(1.0, np.abs(want).max()), rule
        assert run_doc["max_unexplained"] <= 1e-12
        assert len(run_doc["layers"]) == len(canonicalise(_model(name))[0].layers)  # a row per node
