"""Composites: first match wins, the first-layer list, and the presets' layer maps."""

from __future__ import annotations

import numpy as np
import pytest

from saliency_cli.attribution import lrp
from saliency_cli.methods.lrp.composites import COMPOSITES, Composite, base_mapping, make_composite
from saliency_cli.methods.lrp.first import Flat, ZBox
from saliency_cli.methods.lrp.rules import AlphaBeta, Epsilon, Gamma, ZPlus
from saliency_cli.tasks import TASKS


def rules_used(ledger) -> dict[str, str]:
    return {e.name: e.rule.name for e in ledger.entries}


@pytest.mark.parametrize(
    ("name", "conv1", "conv_rest", "dense"),
    [
        ("epsilon-plus", ZPlus, ZPlus, Epsilon),
        ("epsilon-plus-flat", Flat, ZPlus, Epsilon),
        ("epsilon-gamma-box", ZBox, Gamma, Epsilon),
        ("epsilon-alpha2-beta1", AlphaBeta, AlphaBeta, Epsilon),
        ("epsilon-alpha2-beta1-flat", Flat, AlphaBeta, Epsilon),
    ],
)
def test_presets_map_layer_types_to_rules(shipped, name, conv1, conv_rest, dense):
    net = shipped("blobs8x8-gap")  # conv1, conv2, conv3, gap1, dense1
    x, _, _ = TASKS["blobs8x8-gap"].probe("clean")
    _, ledger = lrp(net, x, composite=name, alpha=5.0)
    rules = {e.name: e.rule for e in ledger.entries}
    assert type(rules["conv1"]) is conv1
    assert type(rules["conv2"]) is conv_rest and type(rules["conv3"]) is conv_rest
    assert type(rules["dense1"]) is dense
    assert rules["gap1"].name == "proportional" and rules["lrelu1"].name == "pass-through"
    if conv_rest is AlphaBeta:
        assert rules["conv2"].alpha == 2.0  # fixed by the preset, whatever --alpha says
    assert ledger.composite.name == name and COMPOSITES[name].summary


def test_first_layer_list_applies_to_the_first_linear_layer_only(shipped):
    net = shipped("blobs6x6")  # flatten1, dense1, relu1, dense2, relu2, dense3, softmax1
    x, _, _ = TASKS["blobs6x6"].probe("clean")
    _, ledger = lrp(net, x, composite="epsilon-gamma-box")
    assert rules_used(ledger)["dense1"] == "zbox"
    assert rules_used(ledger)["dense2"] == "epsilon" and rules_used(ledger)["dense3"] == "epsilon"
    _, ledger = lrp(net, x, rule="gamma", first="flat")
    assert rules_used(ledger)["dense1"] == "flat" and rules_used(ledger)["dense2"] == "gamma"


def test_first_match_wins(rng, shipped):
    net = shipped("blobs8x8")
    x, _, _ = TASKS["blobs8x8"].probe("clean")
    eps, ab = Epsilon(0.05), AlphaBeta(2.0)
    composite = Composite([("conv2d", ab), ("dense", eps), ("conv2d", eps), *base_mapping("proportional")])
    relevance, ledger = lrp(net, x, composite=composite)
    assert ledger.entries[-1].rule is ab and rules_used(ledger)["pool1"] == "proportional"
    by_hand = Composite([("conv2d", ab), ("dense", eps), *base_mapping("proportional")])
    np.testing.assert_array_equal(relevance, lrp(net, x, composite=by_hand)[0])


def test_unknown_presets_and_pool_rules_are_refused():
    with pytest.raises(ValueError, match="unknown LRP composite"):
        make_composite("epsilon-bogus")
    with pytest.raises(ValueError, match="unknown pool rule"):
        base_mapping("average")
