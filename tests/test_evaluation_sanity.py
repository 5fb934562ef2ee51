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
    assert S.random_logit(a, -a)[0] == -1.0


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
