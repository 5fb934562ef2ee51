"""MPRT, random-logit, conservation and the bootstrap."""

from __future__ import annotations

import numpy as np
import pytest

from saliency_cli.evaluation import bootstrap
from saliency_cli.evaluation import sanity as S


def test_mprt_models_cascade_from_the_output_and_leave_the_model_alone(shipped):
    net = shipped("blobs8x8")
    before = net.params_hash()
    cascading = S.mprt_models(net, "cascading", seed=0)
    independent = S.mprt_models(net, "independent", seed=0)
    assert [label for label, _ in cascading] == ["dense2", "dense1", "conv1"]
    assert [label for label, _ in independent] == ["dense2", "dense1", "conv1"]
    assert net.params_hash() == before
    _, all_random = cascading[-1]
    for i in S.parameter_layers(net):
        w, w0 = all_random.layers[i].params["weight"], net.layers[i].params["weight"]
        assert not np.array_equal(w, w0)
        assert np.std(w) == pytest.approx(np.std(w0), rel=0.35)  # the same scale, drawn afresh
    # cascading step 1 and independent step 1 draw the same weights for dense2; independent keeps dense1
    i_dense2, i_dense1 = S.parameter_layers(net)[:2]
    np.testing.assert_array_equal(
        cascading[0][1].layers[i_dense2].params["weight"], independent[0][1].layers[i_dense2].params["weight"]
    )
    np.testing.assert_array_equal(
        independent[0][1].layers[i_dense1].params["weight"], net.layers[i_dense1].params["weight"]
    )
    np.testing.assert_array_equal(
        cascading[1][1].layers[i_dense1].params["weight"], independent[1][1].layers[i_dense1].params["weight"]
    )


def test_mprt_summary_never_averages_in_the_original_map():
    # Quantus defect: an MPRT average that includes the original map's self-similarity (1.0).
    corr = np.array([[0.8, 0.4, 0.1], [0.6, 0.2, -0.2]])
    np.testing.assert_array_equal(S.mprt_summary(corr, "cascading"), [0.1, -0.2])
    np.testing.assert_allclose(S.mprt_summary(corr, "independent"), [1.3 / 3, 0.6 / 3], rtol=1e-15)


def test_other_classes_and_random_logit():
    np.testing.assert_array_equal(S.other_classes(np.array([0, 1, 1]), np.array([0, 0, 0]), 2), [1, 0, 0])
    others = S.other_classes(np.array([0, 1, 2, 2]), np.array([0, 1, 0, 1]), 3)
    np.testing.assert_array_equal(others, [1, 0, 0, 1])
    a = np.array([[1.0, 2, 3, 4]])
    assert S.random_logit(a, -a, signed=True)[0] == -1.0
    assert S.random_logit(a, -a)[0] == 1.0  # judged on |map|: a sign flip is no change at all


def test_absolute_spearman_by_hand():
    a = np.array([[1.0, -2.0, 3.0, -4.0]])
    # a sign-flipped map: signed rho -1, |rho| of the absolute maps 1
    assert S.spearman(a, -a)[0] == -1.0 and S.spearman_abs(a, -a)[0] == 1.0
    # |a| = 1 2 3 4; a permutation with sum d^2 = 10: rho = 1 - 6 * 10 / (4 * 15) = 0
    b = np.array([[2.0, -4.0, 1.0, 3.0]])
    assert S.spearman_abs(a, b)[0] == 0.0
    # mixed signs: |a| ranks 1 2 3 4 against |c| ranks 2 1 3 4: sum d^2 = 2, rho = 1 - 12 / 60 = 0.8
    c = np.array([[-2.0, 1.0, 3.5, -9.0]])
    assert S.spearman_abs(a, c)[0] == pytest.approx(0.8, abs=1e-15)
    # a random permutation of a long map: |rho| near 0
    rng = np.random.default_rng(1)
    long = rng.normal(size=(1, 4000))
    assert abs(S.spearman_abs(long, rng.permutation(long[0])[None])[0]) < 0.05


def test_draws_seed_each_layer_afresh(shipped):
    net = shipped("blobs6x6")
    draws = S.mprt_draws(net, "cascading", 0, 2)
    assert len(draws) == 2 and [label for label, _ in draws[0]] == [label for label, _ in draws[1]]
    i = S.parameter_layers(net)[0]
    w0, w1 = (d[0][1].layers[i].params["weight"] for d in draws)
    assert not np.array_equal(w0, w1)
    np.testing.assert_array_equal(w0, S.mprt_models(net, "cascading", 0, draw=0)[0][1].layers[i].params["weight"])


def test_conservation_by_hand():
    maps = np.array([[1.0, 2.0], [3.0, -1.0], [1.0, 1.0]])
    np.testing.assert_allclose(S.conservation(maps, np.array([4.0, 2.0, 0.0]))[:2], [0.25, 0.0])
    assert np.isnan(S.conservation(maps, np.array([4.0, 2.0, 0.0]))[2])  # a zero claimed total: n/a
    assert np.isnan(S.conservation(maps, None)).all()


def test_bootstrap_is_seeded_paired_and_skips_nan():
    v = np.array([0.0, 1.0, 2.0, 3.0, np.nan])
    mean, (lo, hi), n = bootstrap.mean_ci(v, 2000, seed=3)
    assert (mean, n) == (1.5, 4) and 0.0 <= lo < 1.5 < hi <= 3.0
    assert bootstrap.mean_ci(v, 2000, seed=3) == (mean, (lo, hi), n)
    assert bootstrap.mean_ci(np.array([np.nan]), 10, 0)[2] == 0
    assert bootstrap.mean_ci(np.array([2.0]), 10, 0) == (2.0, (2.0, 2.0), 1)
    np.testing.assert_array_equal(bootstrap.resample_indices(4, 5, 1), bootstrap.resample_indices(4, 5, 1))
    # a constant sample has a zero-width interval
    assert bootstrap.mean_ci(np.full(10, 0.5), 100, 0)[1] == (0.5, 0.5)


def test_two_level_bootstrap_covers_the_draws():
    rng = np.random.default_rng(2)
    probes = rng.normal(0.3, 0.05, 60)
    # one draw: exactly the one-level bootstrap
    assert bootstrap.mean_ci(probes[None], 500, 4) == bootstrap.mean_ci(probes, 500, 4)
    # three draws that agree: the same mean; draws that disagree by +-0.1 around the same per-probe means:
    # the same mean, but the interval widens to cover the draw-to-draw variation
    same = np.stack([probes] * 3)
    apart = np.stack([probes + 0.1, probes, probes - 0.1])
    m0, (lo0, hi0), n0 = bootstrap.mean_ci(same, 500, 4)
    m1, (lo1, hi1), n1 = bootstrap.mean_ci(apart, 500, 4)
    assert n0 == n1 == 60 and m0 == pytest.approx(m1, abs=1e-15) == pytest.approx(probes.mean(), abs=1e-15)
    assert hi0 - lo0 < 0.03 and hi1 - lo1 > 0.1  # a resample of 3 draws averages +0.1 with odds 1/27
    # the per-probe mean over draws alone (what a probes-only bootstrap would see) hides it
    assert bootstrap.mean_ci(apart.mean(axis=0), 500, 4)[1] == pytest.approx((lo0, hi0), abs=1e-12)
    # a probe with a NaN in any draw is left out
    apart[1, 5] = np.nan
    assert bootstrap.mean_ci(apart, 100, 0)[2] == 59


def test_a_mean_is_never_outside_its_interval():
    skewed = np.array([0.0] * 3 + [1.0])  # few values: the percentile interval may miss the mean
    for seed in range(20):
        mean, (lo, hi), _ = bootstrap.mean_ci(skewed, 7, seed)
        assert lo <= mean <= hi
