"""`cost`: measured time and memory per method, the theory column, scaled networks, the command."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from saliency_cli.reports.cost import COST_METHODS, best_time, measure_costs, peak_memory, scaled_network
from saliency_cli.tasks import TASKS


def test_peak_memory_sees_a_numpy_allocation():
    n = 1_000_000
    peak = peak_memory(lambda: np.ones(n))
    assert 8 * n <= peak < 8 * n + 64 * 1024
    assert peak_memory(lambda: None) < 4096


def test_best_time_is_the_fastest_run():
    delays = iter([0.03, 0.001, 0.02])
    best = best_time(lambda: time.sleep(next(delays)), 3)
    assert 0.001 <= best < 0.015


def test_one_row_per_method_with_positive_times_on_the_gap_model(shipped):
    net = shipped("blobs8x8-gap")
    before = net.params_hash()
    x = TASKS["blobs8x8-gap"].probe("clean")[0]
    report = measure_costs(net, x, steps=5, samples=4, repeats=1)
    rows = {row.key: row for row in report.rows}
    assert list(rows) == list(COST_METHODS)
    theory = {k: r.theory for k, r in rows.items()}
    assert theory == {"vanilla": 3, "smoothgrad": 12, "ig": 15, "gradcam": 3, "gradcam++": 3, "cam": 1, "lrp": 3}
    for key in ("vanilla", "smoothgrad", "ig", "gradcam", "gradcam++", "cam"):
        row = rows[key]
        assert row.skipped is None and row.seconds > 0 and row.peak_bytes > 0
        assert row.ratio == pytest.approx(row.seconds / report.forward_seconds)
    # IG's 5 path points are one batch: its peak memory exceeds one gradient's
    assert rows["ig"].peak_bytes > rows["vanilla"].peak_bytes
    _assert_lrp_row_matches_lrp(net, rows["lrp"])
    assert report.forward_seconds > 0 and report.target == 0
    assert report.weights_unchanged and net.params_hash() == before


def _assert_lrp_row_matches_lrp(net, row):
    """LRP is timed exactly when its walk reaches the input; otherwise the row says where it stopped."""
    from saliency_cli.attribution import lrp

    relevance, ledger = lrp(net, np.zeros((1, *net.input_shape)), target=0)
    if relevance is None:
        stopped = next(entry for entry in ledger.entries if entry.status == "stopped")
        assert row.seconds is None and stopped.name in row.skipped
    else:
        assert row.skipped is None and row.seconds > 0 and row.peak_bytes > 0


def test_cam_is_skipped_without_a_gap_head(shipped):
    net = shipped("blobs8x8")
    report = measure_costs(net, TASKS["blobs8x8"].probe("noisy")[0], steps=3, samples=2, repeats=1)
    rows = {row.key: row for row in report.rows}
    assert rows["cam"].skipped and "global_avg_pool" in rows["cam"].skipped and rows["cam"].seconds is None
    assert rows["gradcam"].seconds > 0 and report.target == 1
    _assert_lrp_row_matches_lrp(net, rows["lrp"])


def test_lrp_is_timed_on_a_dense_network(shipped):
    net = shipped("blobs6x6")
    report = measure_costs(net, TASKS["blobs6x6"].probe("clean")[0], steps=2, samples=2, repeats=1)
    rows = {row.key: row for row in report.rows}
    assert rows["lrp"].skipped is None and rows["lrp"].seconds > 0
    # no conv layer at all: no class activation map applies
    assert all(rows[k].skipped for k in ("cam", "gradcam", "gradcam++"))
    assert "no conv layer" in rows["gradcam"].skipped


@pytest.mark.parametrize(("task", "size", "flat"), [("blobs8x8", 16, 8 * 8 * 8), ("blobs6x6", 10, 100)])
def test_scaled_network_adapts_the_dense_layer_after_flatten(shipped, task, size, flat):
    net = shipped(task)
    big = scaled_network(net, size, seed=1)
    assert big.input_shape == (net.input_shape[0], size, size)
    dense = next(layer for layer in big.layers if layer.type == "dense")
    assert dense.in_features == flat and dense.params["weight"].shape == (dense.out_features, flat)
    assert big.names == net.names and big.params_hash() != net.params_hash()
    assert big.predict_logits(np.ones((2, *big.input_shape))).shape == (2, 2)
    assert scaled_network(net, size, seed=1).params_hash() == big.params_hash()  # seeded


def test_scaled_gap_network_keeps_its_parameter_count(shipped):
    net = shipped("blobs8x8-gap")
    assert scaled_network(net, 32).num_parameters() == net.num_parameters()


def test_cli_json_and_text(run):
    result = run("cost", "--format", "json", "--steps", "4", "--samples", "3", "--repeats", "1")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["command"] == "cost" and doc["scaling"]["random_weights"] is False and doc["input_shape"] == [2, 8, 8]
    assert [m["method"] for m in doc["methods"]] == list(COST_METHODS)
    assert {m["method"]: m["forward_equivalents_theory"] for m in doc["methods"]}["ig"] == 12
    assert doc["weights_unchanged"] is True
    scaled = json.loads(run("cost", "--format", "json", "--size", "12", "--repeats", "1", "--steps", "2").stdout)
    assert scaled["input_shape"] == [2, 12, 12] and scaled["scaling"]["random_weights"] is True
    text = run("cost", "--task", "blobs8x8", "--size", "10", "--repeats", "1", "--steps", "2", "--samples", "2")
    assert text.exit_code == 0
    assert "RANDOM weights" in text.stdout and "Grad-CAM++" in text.stdout and "CAM: not run" in text.stdout


def test_cli_size_that_does_not_fit_is_one_line(run):
    result = run("cost", "--task", "blobs8x8", "--size", "1")
    assert result.exit_code == 2 and "cannot take a 1x1 input" in result.stderr
    assert result.stderr.strip().count("\n") == 0 and "Traceback" not in result.stderr
