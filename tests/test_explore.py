"""The explorer's pure parts: the probe set, the selection's cycles, the cache, the panels' results."""

from __future__ import annotations

import numpy as np
import pytest

from saliency_cli.errors import UserError
from saliency_cli.explore.compute import PIECES, feature_layers, prediction
from saliency_cli.explore.samples import NOISE_LEVELS, generated_set, user_set
from saliency_cli.explore.state import LRP_CHOICES, STEP_CHOICES, ResultCache, Selection
from saliency_cli.tasks import TASKS


def test_generated_set_is_seeded_class_balanced_and_spread_over_the_noise_levels(shipped):
    net = shipped("blobs8x8")
    a, b = generated_set(net, 64, seed=3), generated_set(net, 64, seed=3)
    assert len(a) == 64 and a.levels == list(NOISE_LEVELS)
    for level in NOISE_LEVELS:
        labels = [p.label for p, n in zip(a.probes, a.noise, strict=True) if n == level]
        assert len(labels) == 16 and labels.count(0) == labels.count(1) == 8
    np.testing.assert_array_equal(np.stack([p.x for p in a.probes]), np.stack([p.x for p in b.probes]))
    other = generated_set(net, 64, seed=4)
    assert not np.array_equal(a.probes[0].x, other.probes[0].x)
    for p, n in zip(a.probes, a.noise, strict=True):  # background below the level, blob where the mask says
        np.testing.assert_array_equal(p.mask, TASKS["blobs8x8"].mask(p.label))
        assert p.x[~p.mask].max() < n and p.x[p.mask].min() >= 1.0
    odd = generated_set(net, 7, seed=0)
    assert len(odd) == 7 and [n for n in odd.noise] == [0.05, 0.05, 0.15, 0.15, 0.30, 0.30, 0.45]


def test_next_noise_level_keeps_the_position_within_the_level(shipped):
    s = generated_set(shipped("blobs6x6"), 8, seed=0)  # 2 per level
    assert [s.next_level(i) for i in range(8)] == [2, 3, 4, 5, 6, 7, 0, 1]
    assert s.next_level(2, -1) == 0


def test_user_set_checks_shapes_and_takes_masks_from_labels(shipped):
    net = shipped("blobs8x8")
    x = np.zeros((3, 2, 8, 8))
    s = user_set(net, x, "b.npy", np.array([0, 1, 1]))
    assert len(s) == 3 and s.levels == [] and s.probes[2].mask[1, 6, 6] and not s.probes[2].mask[0].any()
    assert len(user_set(net, x[0], "one.npy")) == 1 and user_set(net, x[0], "one.npy").probes[0].mask is None
    with pytest.raises(UserError, match=r"shape \(3, 8, 8\)"):
        user_set(net, np.zeros((3, 8, 8)), "bad.npy")
    with pytest.raises(UserError, match="2 labels for 3 inputs"):
        user_set(net, x, "b.npy", np.array([0, 1]))


def test_selection_cycles():
    sel = Selection()
    targets = [sel.target]
    for _ in range(3):
        sel = sel.with_target_cycled(2)
        targets.append(sel.target)
    assert targets == [None, 0, 1, None]
    rules = [Selection().with_lrp_cycled(k).lrp for k in range(len(LRP_CHOICES) + 1)]
    assert rules[0] == "epsilon" and rules[-1] == rules[0] and sorted(set(rules)) == sorted(LRP_CHOICES)
    assert Selection().with_lrp_cycled(-1).lrp == LRP_CHOICES[-1]
    assert Selection(steps=32).with_steps(1).steps == 64 and Selection(steps=32).with_steps(-1).steps == 16
    assert Selection(steps=50).with_steps(1).steps == 64 and Selection(steps=50).with_steps(-1).steps == 32
    top = Selection(steps=STEP_CHOICES[-1])
    assert top.with_steps(1) == top and Selection(steps=1).with_steps(-1).steps == 1
    assert Selection(quadrature="exact", steps=8).ig_key() == Selection(quadrature="exact", steps=64).ig_key()


def test_cache_is_bounded_and_least_recently_used_goes_first():
    cache = ResultCache(capacity=2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1
    cache.put("c", 3)
    assert "b" not in cache and cache.get("a") == 1 and cache.get("c") == 3 and len(cache) == 2


def test_piece_keys_depend_only_on_what_each_result_uses():
    by = {p.name: p for p in PIECES}
    a, b = Selection(index=3, lrp="gamma", quadrature="right", steps=8), Selection(index=3, lrp="zplus")
    assert by["vanilla"].key(a) == by["vanilla"].key(b) and by["gradcam"].key(a) == by["gradcam"].key(b)
    assert by["lrp"].key(a) != by["lrp"].key(b) and by["ig"].key(a) != by["ig"].key(b)
    assert by["ig"].key(Selection(steps=8)) == by["ig"].key(Selection(steps=64))  # exact: steps do not matter
    assert by["vanilla"].key(a) != by["vanilla"].key(Selection(index=3, target=1))


def test_panels_match_the_reports_checks(shipped):
    net = shipped("blobs8x8")
    s = generated_set(net, 8, seed=0)
    probe = s.probes[1]  # class 1
    by = {p.name: p for p in PIECES}
    ig = by["ig"].compute(net, probe, Selection(index=1))
    assert ig.signed and ig.check.startswith("IG gap ") and ig.check_ok
    assert ig.check == "IG gap <1e-12 OK"  # exact IG: float64 round-off
    np.testing.assert_allclose(ig.values.sum(), float(net.predict_logits(probe.x[None])[0, 1]) - float(
        net.predict_logits(np.zeros((1, 2, 8, 8)))[0, 1]), atol=1e-9)  # fmt: skip
    coarse = by["ig"].compute(net, probe, Selection(index=1, quadrature="right", steps=4))
    assert coarse.title == "IG right 4" and float(coarse.check.split()[2]) > 1e-6
    lrp = by["lrp"].compute(net, probe, Selection(index=1, lrp="gamma"))
    ledger = lrp.extra["report"].runs["gamma"].ledger
    assert ledger.max_unexplained < 1e-12 and lrp.check == "unexplained <1e-12" and lrp.check_ok
    share = np.abs(lrp.values)[probe.mask].sum() / np.abs(lrp.values).sum()
    assert lrp.blob == pytest.approx(share) and lrp.blob > 0.5
    cam = by["gradcam"].compute(net, probe, Selection(index=1))
    assert cam.values.shape == (1, 8, 8) and cam.check.endswith("on blob")
    forced = by["vanilla"].compute(net, probe, Selection(index=1, target=0))
    assert not np.allclose(forced.values, by["vanilla"].compute(net, probe, Selection(index=1)).values)
    pred = prediction(net, probe)
    assert pred["predicted"] == 1 and pred["probabilities"].sum() == pytest.approx(1.0)
    layers = feature_layers(net, probe)
    assert [fm.name for fm in layers] == ["conv1", "relu1", "pool1"] and layers[2].maps.shape == (8, 4, 4)


def test_dense_models_have_no_cam_panels(shipped):
    net = shipped("blobs6x6")
    assert [p.name for p in PIECES if p.applies(net)] == ["vanilla", "smoothgrad", "ig", "lrp"]


def test_round_off_is_shown_as_such():
    from saliency_cli.explore.compute import small

    assert small(1.8e-15) == small(-3e-13) == small(0.0) == "<1e-12"
    assert small(0.0123) == "1.2e-02" and small(-2e-12) == "-2.0e-12"
