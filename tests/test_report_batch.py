"""The saliency report's one batch: the probes' own rows give their logits and predicted targets (no separate
logits pass), checked against a separate pass and against every method run alone."""

from __future__ import annotations

import numpy as np
import pytest

from saliency_cli.attribution import integrated_gradients, saliency, smoothgrad
from saliency_cli.errors import UserError
from saliency_cli.inputs import Probe
from saliency_cli.methods import gradients as G
from saliency_cli.methods.scores import LayerUnit, LogitDifference
from saliency_cli.reports.saliency import ReportOptions, saliency_report, saliency_reports
from saliency_cli.tasks import TASKS

from .roundoff import assert_roundoff_close, forward_magnitudes


class _Spy:
    """Wraps `net.forward` to record the rows and stop layer of every pass that reaches the logits (`calls`), and
    the rows of the passes through the linear first layers only (`prefix`, see `pointsums`)."""

    def __init__(self, net):
        self.calls: list[tuple[int, object]] = []
        self.prefix: list[int] = []
        self._forward = net.forward
        self._linear = net.linear_prefix
        net.forward = self

    def __call__(self, x, stop=None, start=0, lean=False):
        if stop is not None and stop < self._linear:
            self.prefix.append(len(x))
        else:
            self.calls.append((len(x), stop))
        return self._forward(x, stop, start, lean)


def _probes(task: str, n: int = 8, seed: int = 3, noise: float = 0.45):
    x, y, _ = TASKS[task].sample(n, np.random.default_rng(seed), noise=noise)
    return [Probe(x[i], f"p{i}", int(y[i])) for i in range(n)]


def _alone(net, x, target, score, o: ReportOptions, dtype=None):
    """Each method run on its own (its own target resolution and passes), as the report must match."""
    common = {"target": target, "score": score, "dtype": dtype}
    return {
        "vanilla": saliency(net, x, abs=False, **common),
        "smoothgrad": smoothgrad(net, x, samples=o.samples, noise_frac=o.noise_frac, seed=o.seed, **common),
        "integrated_gradients": integrated_gradients(net, x, steps=o.steps, quadrature=o.quadrature, **common),
    }


@pytest.mark.parametrize("task", ["blobs8x8", "blobs6x6", "blobs8x8-gap"])
def test_one_forward_pass_gives_the_logits_and_the_predicted_targets(task, shipped):
    net = shipped(task)
    probes = _probes(task)
    spy = _Spy(net)
    reports = saliency_reports(net, probes, None, ReportOptions(samples=4, steps=5))
    assert len(spy.calls) == 1 and spy.calls[0][0] == len(probes) * (1 + 4 + 5 + 1)  # x, SG, IG path, baseline
    # blobs8x8: IG's path points formed after the first convolution, from x and the baseline taken through it
    assert spy.prefix == ([len(probes) * (1 + 4 + 2 + 1)] if task == "blobs8x8" else [])
    net.forward = spy._forward
    x = np.stack([p.x for p in probes])
    alone = np.concatenate([net.predict_logits(x[i : i + 1]) for i in range(len(x))])  # a separate 1-row pass each
    predicted = alone.argmax(axis=1)
    assert len(set(predicted.tolist())) == 2  # both classes are predicted among the probes
    for i, r in enumerate(reports):
        assert r.target == r.predicted == predicted[i] and not r.target_forced
        np.testing.assert_allclose(r.logits, alone[i], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(r.probabilities, np.exp(alone[i]) / np.exp(alone[i]).sum(), rtol=1e-12)


@pytest.mark.parametrize("score", ["logit", "probability", LogitDifference(0), LogitDifference(1)])
@pytest.mark.parametrize("target", [None, 0, 1])
def test_report_maps_equal_each_method_alone(score, target, shipped):
    net = shipped("blobs8x8")
    o = ReportOptions(samples=6, steps=7, quadrature="right")
    for probe in _probes("blobs8x8", n=4, seed=11):
        against = getattr(score, "against", None)
        predicted = int(net.predict_logits(probe.x[None])[0].argmax())
        explained = predicted if target is None else target
        if explained == against:
            with pytest.raises(UserError, match="same as --against"):
                saliency_report(net, probe, target=target, score=score, samples=6, steps=7)
            continue
        r = saliency_report(net, probe, target=target, score=score, samples=6, steps=7)
        assert r.target == explained and r.target_forced == (target is not None) and r.predicted == predicted
        for name, want in _alone(net, probe.x, target, score, o).items():
            got = r.methods[name].signed if name == "vanilla" else r.methods[name].attribution
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15, err_msg=name)
        score_x = G.scores(net, probe.x[None], [explained], score)[0]
        assert r.score_value == pytest.approx(score_x, rel=1e-13)
        assert r.completeness.score_input == pytest.approx(score_x, rel=1e-13)


def test_logit_diff_against_the_predicted_class_names_the_probe(shipped):
    net = shipped("blobs8x8")
    probes = _probes("blobs8x8", n=6, seed=4)
    predicted = [int(net.predict_logits(p.x[None])[0].argmax()) for p in probes]
    first = predicted.index(1)
    with pytest.raises(UserError, match=rf"the explained class \(probe {first}\) is 1, the same as --against"):
        saliency_reports(net, probes, None, ReportOptions(score=LogitDifference(1), samples=2, steps=2))


@pytest.mark.parametrize("batch_size", [1, 2, 3, 5, 8, 13, 64, 1000])
@pytest.mark.parametrize("target", [None, "per-probe"])
def test_chunked_batches_give_the_same_targets_and_maps(batch_size, target, shipped):
    net = shipped("blobs8x8")
    probes = _probes("blobs8x8", n=5, seed=7)
    targets = None if target is None else [1, 0, 0, 1, 1]
    whole = saliency_reports(net, probes, targets, ReportOptions(samples=3, steps=4))
    spy = _Spy(net)
    chunked = saliency_reports(net, probes, targets, ReportOptions(samples=3, steps=4, batch_size=batch_size))
    assert max(rows for rows, _ in spy.calls) <= batch_size and max(spy.prefix, default=0) <= batch_size
    assert sum(rows for rows, _ in spy.calls) == 5 * (1 + 3 + 4 + 1)  # no extra pass for the logits
    for a, b in zip(whole, chunked, strict=True):
        assert a.target == b.target and a.predicted == b.predicted
        np.testing.assert_allclose(b.logits, a.logits, rtol=1e-12, atol=1e-14)
        for name in a.methods:
            np.testing.assert_allclose(
                b.methods[name].attribution, a.methods[name].attribution, rtol=1e-11, atol=1e-14, err_msg=name
            )
        assert b.score_value == pytest.approx(a.score_value, rel=1e-12)


def test_float32_reports_predict_as_the_float32_network(shipped):
    net = shipped("blobs8x8")
    probes = _probes("blobs8x8", n=6, seed=2)
    reports = saliency_reports(net, probes, None, ReportOptions(samples=3, steps=4, dtype="float32"))
    x = np.stack([p.x for p in probes])
    z32 = net.astype("float32").predict_logits(x.astype(np.float32))
    # the reports' logits come from passes of other shapes: the same to float32's round-off
    mags, terms = forward_magnitudes(net, x)
    for i, r in enumerate(reports):
        assert r.target == r.predicted == int(z32[i].argmax())
        assert_roundoff_close(r.logits, z32[i], mags[net.logit_index][i], terms[net.logit_index], np.float32)
        assert r.dtype == "float32"


def test_a_score_of_an_inner_unit_still_reports_the_logits(shipped):
    net = shipped("blobs8x8")
    probes = _probes("blobs8x8", n=3, seed=8)
    reports = saliency_reports(net, probes, None, ReportOptions(score=LayerUnit("dense1", 3), samples=2, steps=3))
    x = np.stack([p.x for p in probes])
    for i, r in enumerate(reports):
        np.testing.assert_allclose(r.logits, net.predict_logits(x[i : i + 1])[0], rtol=1e-12, atol=1e-14)
        assert r.target is None and r.predicted == int(r.logits.argmax())
        want = saliency(net, x[i], score=LayerUnit("dense1", 3), abs=False)
        np.testing.assert_allclose(r.methods["vanilla"].signed, want, rtol=1e-12, atol=1e-15)


def test_sum_over_points_with_logits_checks_its_arguments(shipped):
    net = shipped("blobs8x8")
    x = np.stack([p.x for p in _probes("blobs8x8", n=2)])
    with pytest.raises(ValueError, match="does not read the logits"):
        G.sum_over_points_with_logits(net, [G.gradient_points(x)], 2, None, LayerUnit("dense1", 0), None)
    with pytest.raises(ValueError, match="examples themselves"):
        G.sum_over_points_with_logits(net, [G.smoothgrad_points(x, np.ones(2), 3, 0)], 2, None, "logit", None)
    totals, values, targets, z = G.sum_over_points_with_logits(net, [G.gradient_points(x)], 2, [1, 0], "logit", 1)
    np.testing.assert_array_equal(targets, [1, 0])
    np.testing.assert_allclose(z, net.predict_logits(x), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(values[0][:, 0], z[[0, 1], [1, 0]], rtol=1e-14)
    np.testing.assert_allclose(totals[0], saliency(net, x, target=[1, 0], abs=False), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("quadrature", ["right", "left", "middle", "trapezoid", "gauss-legendre"])
def test_every_row_at_once_is_each_row_bit_for_bit(quadrature, rng):
    """By construction: elementwise arithmetic, the same operations on each value whichever rows are formed."""
    from saliency_cli.methods import integrated as IG

    x = rng.normal(size=(3, 2, 4, 5))
    base = rng.normal(size=x.shape)
    sigma = np.array([0.0, 0.3, 1.7])
    alphas, weights = IG.quadrature_rule(quadrature, 7)
    for p in (
        G.gradient_points(x),
        G.gradient_points(base),
        G.smoothgrad_points(x, sigma, 6, seed=2),
        IG.path_points(x, base, alphas, weights),
    ):
        ex, k = np.divmod(np.arange(len(x) * p.n_points), p.n_points)
        np.testing.assert_array_equal(p.every(), p.points(ex, k))
        assert p.every().tobytes() == p.points(ex, k).tobytes()  # signed zeros too


@pytest.mark.parametrize("predict", [True, False])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_one_pass_path_equals_the_chunked_path_bit_for_bit(predict, dtype, shipped):
    """By construction: the same rows in one chunk, so the same passes on the same shapes."""
    from dataclasses import replace

    from saliency_cli.methods import integrated as IG

    net = shipped("blobs8x8").astype(dtype)
    x = np.stack([p.x for p in _probes("blobs8x8", n=3, seed=6)])
    alphas, weights = IG.quadrature_rule("trapezoid", 5)
    sums = [
        G.gradient_points(x),
        G.smoothgrad_points(x, G.noise_sigma(x, 0.2), 4, seed=1),
        IG.path_points(x, np.zeros_like(x), alphas, weights),
    ]
    targets = None if predict else [1, 0, 1]
    fast = G.sum_over_points_with_logits(net, sums, 3, targets, "probability", None)
    # without `every` the rows go through the general path, here in the same single chunk
    slow = G.sum_over_points_with_logits(net, [replace(p, every=None) for p in sums], 3, targets, "probability", None)
    for a, b in zip(fast[0] + fast[1] + [fast[2], fast[3]], slow[0] + slow[1] + [slow[2], slow[3]], strict=True):
        assert a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
    assert fast[1][0].dtype == np.float64  # the scores in float64 whatever the compute dtype
