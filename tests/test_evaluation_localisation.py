"""Localisation metrics and ranks: hand-computed values, edge cases, properties and Quantus's defects."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from saliency_cli.evaluation import localisation as L
from saliency_cli.evaluation.ranks import average_ranks, spearman

T, F = True, False
ALL = (L.pointing_game, L.mass_accuracy, L.rank_accuracy, L.auc)


def values(maps, masks):
    """pointing-game, mass-accuracy, rank-accuracy, auc of one probe."""
    return [float(fn(np.array([maps], float), np.array([masks]))[0]) for fn in ALL]


def test_distinct_values():
    # top-2 are 4 (in) and 3 (out); pairs (in, out): 4>1, 4>3, 2>1, 2<3
    assert values([4, 1, 3, 2], [T, F, F, T]) == pytest.approx([1.0, 6 / 10, 1 / 2, 3 / 4], abs=1e-15)


def test_ties_at_the_maximum_count_fractionally():
    # maxima at 0, 1, 3, one of them in the mask; AUC: 2 vs (2, 1, 2) = (1/2 + 1 + 1/2) / 3
    assert values([2, 2, 1, 2], [T, F, F, F]) == pytest.approx([1 / 3, 2 / 7, 1 / 3, 2 / 3], abs=1e-15)


def test_ties_at_the_kth_value_share_the_remaining_places():
    # K = 3: 3 (in) is above; 2, 2, 2 tie for the last 2 places and 1 of them is in the mask: (1 + 2/3) / 3
    # AUC: positives (3, 2, 0) against negatives (2, 2): (2 + 1 + 0) / 6
    got = values([3, 2, 2, 2, 0], [T, T, F, F, T])
    assert got == pytest.approx([1.0, 5 / 9, 5 / 9, 1 / 2], abs=1e-15)  # mass: (3 + 2) / 9


def test_constant_map_scores_chance_not_a_hit():
    assert values([5, 5, 5, 5], [F, T, F, F]) == pytest.approx([1 / 4, 1 / 4, 1 / 4, 1 / 2], abs=1e-15)


def test_all_zero_and_all_negative_maps_have_no_mass():
    assert values([0, 0, 0, 0], [F, T, F, F]) == pytest.approx([1 / 4, 0.0, 1 / 4, 1 / 2], abs=1e-15)
    assert values([-1, -2, -3, -4], [F, T, F, F])[1] == 0.0
    assert L.positive_mass(np.zeros((1, 4)))[0] == 0.0


def test_signed_map_mass_is_of_the_positive_part():
    assert values([-2, 1, 3, -1], [T, T, F, F])[1] == pytest.approx(1 / 4, abs=1e-15)


def test_one_pixel_mask():
    assert values([0.1, 0.5, 0.9, 0.3], [F, F, T, F]) == pytest.approx([1.0, 0.5, 1.0, 1.0], abs=1e-15)
    assert values([0.1, 0.5, 0.9, 0.3], [T, F, F, F]) == pytest.approx([0.0, 0.1 / 1.8, 0.0, 0.0], abs=1e-15)


def test_mask_covering_everything():
    got = values([0.1, 0.5, 0.9, 0.3], [T, T, T, T])
    assert got[:3] == pytest.approx([1.0, 1.0, 1.0], abs=1e-15)
    assert np.isnan(got[3])  # no negatives: AUC is undefined, reported n/a


def test_average_ranks_and_spearman_by_hand():
    np.testing.assert_array_equal(average_ranks(np.array([[3.0, 1.0, 3.0, 2.0]])), [[3.5, 1.0, 3.5, 2.0]])
    assert spearman(np.array([[1.0, 2, 3, 4]]), np.array([[1.0, 3, 2, 4]]))[0] == pytest.approx(0.8, abs=1e-15)
    rho = spearman(np.array([[1.0, 1, 2, 3]]), np.array([[1.0, 2, 3, 4]]))[0]
    assert rho == pytest.approx(3 / np.sqrt(10), abs=1e-15)
    assert spearman(np.array([[2.0, 2, 2]]), np.array([[1.0, 2, 3]]))[0] == 0.0  # a constant map: no association
    assert spearman(np.array([[1.0, 2, 3]]), np.array([[3.0, 2, 1]]))[0] == -1.0


# -- properties -----------------------------------------------------------------------------------

INCREASING = (lambda v: 2 * v + 7, lambda v: v**3 + v, lambda v: np.exp(v / 3.0), lambda v: np.arctan(v / 50))


@st.composite
def probe(draw, min_size=2, max_size=12):
    p = draw(st.integers(min_size, max_size))
    maps = draw(hnp.arrays(np.int64, p, elements=st.integers(-6, 6))).astype(float)
    mask = draw(hnp.arrays(bool, p))
    mask[draw(st.integers(0, p - 1))] = True
    return maps, mask


@settings(max_examples=60, deadline=None)
@given(probe(), st.sampled_from(range(len(INCREASING))))
def test_rank_metrics_invariant_to_strictly_increasing_transforms(pm, which):
    maps, mask = pm
    f = INCREASING[which]
    for fn in (L.pointing_game, L.rank_accuracy, L.auc):
        np.testing.assert_array_equal(fn(maps[None], mask[None]), fn(f(maps)[None], mask[None]))
    np.testing.assert_array_equal(spearman(maps[None], maps[None] ** 2), spearman(f(maps)[None], maps[None] ** 2))


@settings(max_examples=60, deadline=None)
@given(probe(), st.floats(1e-3, 1e3))
def test_pointing_game_and_rank_accuracy_invariant_to_positive_scaling(pm, c):
    maps, mask = pm
    for fn in (L.pointing_game, L.rank_accuracy, L.mass_accuracy):
        np.testing.assert_allclose(fn(maps[None], mask[None]), fn(c * maps[None], mask[None]), rtol=1e-12)


@settings(max_examples=60, deadline=None)
@given(probe(min_size=2))
def test_auc_of_the_mask_is_1_and_of_its_negation_0(pm):
    _, mask = pm
    if mask.all():
        mask[0] = False
    m = mask.astype(float)[None]
    assert L.auc(m, mask[None])[0] == 1.0
    assert L.auc(-m, mask[None])[0] == 0.0


@settings(max_examples=40, deadline=None)
@given(probe(), st.randoms(use_true_random=False))
def test_no_sort_order_decides_the_result(pm, rnd):
    # Quantus defect: an unstable sort deciding rank accuracy. Permuting map and mask alike changes nothing.
    maps, mask = pm
    perm = np.array(rnd.sample(range(len(maps)), len(maps)))
    for fn in ALL:
        np.testing.assert_allclose(fn(maps[None], mask[None]), fn(maps[perm][None], mask[perm][None]), rtol=1e-15)


# -- regression tests against known defects of the usual implementation ------------------------


def test_each_probe_is_normalised_on_its_own():
    # Quantus defect: one normalisation scale shared by a batch. Scaling one probe changes no other's values.
    rng = np.random.default_rng(0)
    maps, masks = rng.normal(size=(3, 20)), rng.random((3, 20)) < 0.3
    masks[:, 0] = True
    scaled = maps.copy()
    scaled[0] *= 1000.0
    for fn in ALL:
        np.testing.assert_allclose(fn(maps, masks), fn(scaled, masks), rtol=1e-12)
        np.testing.assert_array_equal(fn(maps, masks)[1:], fn(maps[1:], masks[1:]))


def test_an_empty_mask_is_never_a_hit():
    # Quantus defect: an empty mask scored as a pointing-game hit (probe sets refuse them; see test_evaluation_run)
    assert L.pointing_game(np.array([[1.0, 2.0]]), np.array([[F, F]]))[0] == 0.0


def test_a_constant_map_is_not_a_hit():
    # Quantus defect: a constant map scored as a hit.
    assert L.pointing_game(np.ones((1, 10)), np.eye(10, dtype=bool)[:1])[0] == pytest.approx(0.1)


def test_pixel_and_channel_levels_by_hand():
    # a 2-channel 1x2 probe: the blob is channel 0's left pixel; the map puts 3 there and 2 + 2 on the right
    maps = np.array([[[[3.0, 2.0]], [[0.0, 2.0]]]])
    masks = np.array([[[[True, False]], [[False, False]]]])
    flat, m = L.localisation_inputs(maps, masks, L.CHANNEL)
    assert flat.tolist() == [[3.0, 2.0, 0.0, 2.0]] and m.tolist() == [[True, False, False, False]]
    assert L.pointing_game(flat, m)[0] == 1.0 and L.mass_accuracy(flat, m)[0] == pytest.approx(3 / 7)
    # pixel level: the map summed over channels (3, 4) against any channel's mask (True, False)
    flat, m = L.localisation_inputs(maps, masks, L.PIXEL)
    assert flat.tolist() == [[3.0, 4.0]] and m.tolist() == [[True, False]]
    assert L.pointing_game(flat, m)[0] == 0.0 and L.mass_accuracy(flat, m)[0] == pytest.approx(3 / 7)
    # a signed sum: channels that cancel leave nothing at that pixel
    flat, _ = L.localisation_inputs(np.array([[[[1.0, -1.0]], [[-1.0, 5.0]]]]), masks, L.PIXEL)
    assert flat.tolist() == [[0.0, 4.0]]
    # a spatial (N, 1, H, W) map is scored against any channel's mask at either level
    for level in L.MASK_LEVELS:
        flat, m = L.localisation_inputs(np.array([[[[1.0, 0.5]]]]), masks, level)
        assert flat.tolist() == [[1.0, 0.5]] and m.tolist() == [[True, False]]


def test_chance_follows_the_level():
    # a uniform random map's expected mass share is the mask's share of the positions scored: a 3x3 blob
    # in one channel of 2x8x8 is 9/128 per channel and 9/64 per pixel
    rng = np.random.default_rng(0)
    maps = rng.random((4000, 2, 8, 8))
    masks = np.zeros((4000, 2, 8, 8), bool)
    masks[:, 0, 1:4, 1:4] = True
    for level, share in ((L.CHANNEL, 9 / 128), (L.PIXEL, 9 / 64)):
        flat, m = L.localisation_inputs(maps, masks, level)
        assert L.mass_accuracy(flat, m).mean() == pytest.approx(share, rel=0.02)
