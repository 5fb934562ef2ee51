"""The evaluation engine: probe sets, method maps, determinism over workers, and what the shipped models show."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from saliency_cli.errors import UserError
from saliency_cli.evaluation import run as R
from saliency_cli.evaluation.methods import METHODS, MethodOptions, default_methods, random_map
from saliency_cli.evaluation.probes import check_masks, task_probes, user_probes
from saliency_cli.evaluation.run import Settings, evaluate
from saliency_cli.evaluation.summary import summarise
from saliency_cli.inputs import Probe
from saliency_cli.reports.cam import cam_report
from saliency_cli.reports.lrp import lrp_report
from saliency_cli.reports.saliency import ReportOptions, saliency_reports
from saliency_cli.tasks import TASKS


def test_probe_set_is_seeded_class_balanced_and_spread_over_noise():
    task = TASKS["blobs8x8"]
    p = task_probes(task, 13, [0.05, 0.45], seed=3)
    np.testing.assert_array_equal(p.labels, np.arange(13) % 2)
    np.testing.assert_array_equal(p.noise, [0.05, 0.05, 0.45, 0.45] * 3 + [0.05])
    for i in range(13):
        np.testing.assert_array_equal(p.masks[i], task.mask(p.labels[i]))
        background = p.x[i][~p.masks[i]]
        assert background.max() < p.noise[i] and p.x[i][p.masks[i]].min() >= 1.0
    again = task_probes(task, 13, [0.05, 0.45], seed=3)
    np.testing.assert_array_equal(p.x, again.x)
    assert not np.array_equal(p.x, task_probes(task, 13, [0.05, 0.45], seed=4).x)
    # never the training stream: training draws from default_rng([seed, 1])
    train, _, _ = task.sample(13, np.random.default_rng([3, 1]), noise=0.05)
    assert not np.isclose(train[0], p.x[0]).any()


def test_masks_are_checked_and_empty_masks_refused():
    # Quantus defect: an empty mask scored as a pointing-game hit; here it is refused, naming the probe.
    masks = np.ones((3, 1, 2, 2))
    masks[1] = 0
    with pytest.raises(UserError, match="probe 1 has an empty mask"):
        check_masks(masks, (1, 2, 2))
    with pytest.raises(UserError, match="boolean or 0/1"):
        check_masks(np.full((1, 1, 2, 2), 0.5), (1, 2, 2))
    with pytest.raises(UserError, match="does not match"):
        check_masks(np.ones((1, 2, 2, 2)), (1, 2, 2))
    with pytest.raises(UserError, match="2 masks for 3 inputs"):
        user_probes(np.zeros((3, 1, 2, 2)), np.ones((2, 1, 2, 2)), None, (1, 2, 2), "x")


def test_default_methods_are_those_that_apply(shipped):
    dense = default_methods(shipped("blobs6x6"), MethodOptions())
    assert dense == ["vanilla", "smoothgrad", "ig", "lrp:epsilon", "lrp:gamma", "lrp:alpha-beta", "random", "input"]
    conv = default_methods(shipped("blobs8x8"), MethodOptions())
    assert "gradcam" in conv and "gradcam++" in conv and "cam" not in conv and "lrp:epsilon-plus" in conv
    assert "cam" in default_methods(shipped("blobs8x8-gap"), MethodOptions())
    assert conv[-2:] == ["random", "input"]


def test_maps_equal_the_single_method_reports(shipped):
    # Same functions, same defaults: as `saliency --input batch.npy` on the same batch and the single-probe `lrp`
    # and `cam` reports, within round-off (BLAS rounds a one-row pass differently from a batch, and the saliency
    # report sends vanilla's and SmoothGrad's rows through the network as one batch).
    for task, gradients in (("blobs8x8", ("vanilla", "smoothgrad", "ig")), ("blobs8x8-gap", ("vanilla",))):
        net = shipped(task)
        p = task_probes(TASKS[task], 3, [0.05, 0.45], 0)
        o, index = MethodOptions(), np.arange(3)
        maps = {m: METHODS[m].compute(net, p.x, p.labels, o, index).maps for m in (*gradients, "lrp:gamma", "gradcam")}
        probes = [Probe(x, "p", int(y)) for x, y in zip(p.x, p.labels, strict=True)]
        methods = tuple(m for m in gradients)
        batch = saliency_reports(net, probes, p.labels, ReportOptions(methods=methods, quadrature="exact"))
        for i, probe in enumerate(probes):
            for name in gradients:
                key = {"ig": "integrated_gradients"}.get(name, name)
                np.testing.assert_allclose(
                    maps[name][i],
                    batch[i].methods[key].attribution,
                    rtol=1e-12,
                    atol=1e-15,
                    err_msg=f"{task} {name} {i}",
                )
            lrp_map = lrp_report(net, probe, rules=("gamma",), target=int(probe.label)).runs["gamma"].relevance
            cam_map = cam_report(net, probe, target=int(probe.label)).upsampled["bilinear"]
            for got, want in ((maps["lrp:gamma"][i], lrp_map), (maps["gradcam"][i, 0], cam_map)):
                np.testing.assert_allclose(got, want, rtol=0, atol=1e-14)


def _small(net, n=12, **kw):
    methods = kw.pop("methods", ("vanilla", "lrp:epsilon", "random"))
    settings = Settings(methods=methods, resamples=200, **kw)
    return evaluate(net, task_probes(TASKS[net.task], n, [0.05, 0.25, 0.45], 0), settings)


def test_results_do_not_depend_on_workers_blocks_or_batch_size(shipped, monkeypatch):
    # Quantus defect: a metric averaged over its first batch only. Every probe is in the mean, whatever the blocks.
    net = shipped("blobs8x8")
    metrics = ("auc", "deletion", "mprt", "random-logit")
    one = _small(net, metrics=metrics)
    monkeypatch.setattr(R, "BLOCK", 5)
    options = MethodOptions(batch_size=7)
    many = _small(net, metrics=metrics, workers=2, options=options)
    for name, result in one.methods.items():
        for metric in metrics:
            assert len(many.methods[name].values[metric]) == 12
            np.testing.assert_allclose(many.methods[name].values[metric], result.values[metric], rtol=1e-12, atol=1e-12)
    serial = _small(net, metrics=metrics, options=options)  # by construction: the workers' blocks, in one process
    for name, result in serial.methods.items():
        for metric in metrics:
            np.testing.assert_array_equal(many.methods[name].values[metric], result.values[metric])
    s = summarise(many)
    assert s.cells["vanilla"]["auc"].mean == pytest.approx(np.mean(many.methods["vanilla"].values["auc"]), rel=1e-15)


def test_random_control_is_keyed_by_seed_and_probe_only():
    a, b = random_map((2, 3, 3), 0, 5), random_map((2, 3, 3), 0, 5)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, random_map((2, 3, 3), 0, 6)) and not np.array_equal(a, random_map((2, 3, 3), 1, 5))


def test_shipped_blobs8x8_numbers(shipped):
    net = shipped("blobs8x8")
    probes = task_probes(TASKS["blobs8x8"], 40, [0.05, 0.25, 0.45], 0)
    loc = Settings(
        methods=("ig", "lrp:epsilon", "random"), metrics=("mass-accuracy", "auc", "conservation"), resamples=500
    )
    s = summarise(evaluate(net, probes, loc))
    assert int(s.evaluation.wrong.sum()) == 0
    for method in ("ig", "lrp:epsilon"):
        for metric in ("mass-accuracy", "auc"):
            assert s.cells[method][metric].ci[0] > s.cells["random"][metric].ci[1] + 0.1, (method, metric)
    share = 9 / 64  # the blob's share of the pixels (--mask-level pixel, the default)
    lo, hi = s.cells["random"]["mass-accuracy"].ci
    assert lo <= share <= hi
    channel = summarise(evaluate(net, probes, dataclasses.replace(loc, mask_level="channel")))
    lo, hi = channel.cells["random"]["mass-accuracy"].ci
    assert lo <= 9 / 128 <= hi  # of the (channel, pixel) positions
    assert s.cells["random"]["auc"].ci[0] < 0.5 < s.cells["random"]["auc"].ci[1]
    assert s.cells["ig"]["conservation"].mean < 1e-12  # exact IG is complete to round-off
    assert np.isnan(s.cells["random"]["conservation"].mean) and s.cells["random"]["conservation"].n == 0
    sanity = Settings(methods=("vanilla", "smoothgrad", "lrp:epsilon", "random"), metrics=("mprt", "mprt-signed"),
                      resamples=200)  # fmt: skip
    s = summarise(evaluate(net, probes.take(slice(0, 16)), sanity))
    for method in ("vanilla", "smoothgrad"):
        assert s.cells[method]["mprt"].ci[1] < 0.5 and max(s.mprt[method]) < 0.9, method
    assert s.mprt["random"] == [1.0, 1.0, 1.0]  # a map that ignores the model never decorrelates
    # LRP's signed maps turn partly into their own negatives: signed MPRT near 0, absolute MPRT well above
    assert s.cells["lrp:epsilon"]["mprt"].mean > s.cells["lrp:epsilon"]["mprt-signed"].mean + 0.2
    r = s.evaluation.methods["lrp:epsilon"]
    assert r.mprt.shape == (3, 16, 3) and r.per_draw["mprt"].shape == (3, 16)  # draws, probes, layers
    np.testing.assert_allclose(r.values["mprt"], r.mprt[:, :, -1].mean(axis=0), rtol=1e-15)


def test_a_nan_map_is_refused_naming_the_method_and_probe(shipped, monkeypatch):
    import dataclasses

    from saliency_cli.evaluation import methods as M

    def nan_at_3(net, x, targets, o, index):
        maps = np.abs(x)
        maps[index == 3] = np.nan
        return M.Maps(maps)

    monkeypatch.setitem(M.METHODS, "input", dataclasses.replace(M.METHODS["input"], compute=nan_at_3))
    with pytest.raises(UserError, match="input: the map of probe 3 has NaN"):
        _small(shipped("blobs8x8"), n=6, methods=("input",), metrics=("auc",))
