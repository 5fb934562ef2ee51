"""A NaN or infinity is never a success: tiny (subnormal) and extreme inputs give finite LRP results whose
ledger closes, any other non-finite result is refused before output, and no RuntimeWarning reaches stderr."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from saliency_cli.methods.lrp.rules import AlphaBeta, Epsilon, Gamma, ZPlus, lift
from saliency_cli.methods.lrp.walk import lrp
from saliency_cli.render.jsonout import non_finite_path


@pytest.fixture
def subnormal(tmp_path):
    path = tmp_path / "sub.npy"
    np.save(path, np.full((1, 6, 6), 1e-310))
    return path


@pytest.mark.parametrize("rule", ["alpha-beta", "zplus", "epsilon", "gamma"])
def test_subnormal_input_gives_finite_lrp_and_a_closed_ledger(rule, subnormal, run):
    result = run("lrp", "--task", "blobs6x6", "--rule", rule, "--input", subnormal, "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert "Warning" not in result.stderr
    doc = json.loads(result.stdout)
    assert non_finite_path(doc) is None and "null" not in json.dumps(doc["relevance"])
    assert doc["max_unexplained"] is not None and doc["max_unexplained"] < 1e-12
    relevance = np.array(doc["relevance"])
    assert relevance.shape == (1, 6, 6) and np.abs(relevance).sum() > 0


@pytest.mark.parametrize("rule", [AlphaBeta(), ZPlus(), Epsilon(eps=0.0), Gamma(eps=0.0), AlphaBeta(alpha=3.0)])
def test_tiny_inputs_give_the_relevance_of_ordinary_ones(rule, shipped):
    """Rules without a stabiliser on a bias-free ReLU network are positively homogeneous: at 2^-1000 x
    (subnormal activations) every R_i is exactly 2^-1000 times its value at x, not NaN."""
    net = shipped("blobs6x6")
    for layer in net.layers:
        if "bias" in layer.params:
            layer.params["bias"] = np.zeros_like(layer.params["bias"])
    x = np.random.default_rng(3).uniform(0, 1, (2, 1, 6, 6))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        big, _ = lrp(net, x, rule=rule, target=[0, 1])
        small, _ = lrp(net, np.ldexp(x, -1000), rule=rule, target=[0, 1])
    assert np.all(np.isfinite(small))
    # a bias-free ReLU network is positively homogeneous: the logit and every R_i scale by 2^-1000
    np.testing.assert_allclose(np.ldexp(small, 1000), big, rtol=1e-9, atol=1e-12)


def test_lift_is_exact_and_only_scales_up():
    a = np.array([[1e-310, -3e-312], [0.25, 0.0], [4.0, 1.0], [0.0, 0.0]])
    lifted, k = lift(a)
    assert list(k[1:]) == [1, 0, 0] and k[0] > 1000
    np.testing.assert_array_equal(np.ldexp(lifted, -k[:, None]), a)
    assert 0.5 <= np.abs(lifted[0]).max() < 1


def test_a_unit_fed_only_by_tiny_contributions_is_dropped_not_nan(tmp_path, run):
    rng = np.random.default_rng(1)
    x = np.where(rng.uniform(size=(2, 8, 8)) > 0.5, 1e-310, 1e100)
    path = tmp_path / "mix.npy"
    np.save(path, x)
    for args in (["--rule", "alpha-beta"], ["--rule", "zplus", "--pool-rule", "proportional"], ["--compare"]):
        result = run("lrp", "--task", "blobs8x8", *args, "--input", path, "--format", "json")
        assert result.exit_code in (0, 1), result.stderr  # 1: relevance that could not reach the input
        assert "Warning" not in result.stderr
        assert non_finite_path(json.loads(result.stdout)) is None


def test_a_non_finite_result_is_refused_before_output(run, monkeypatch):
    import saliency_cli.reports.saliency as report

    real = report.saliency_report

    def poisoned(*args, **kwargs):
        result = real(*args, **kwargs)
        result.methods["vanilla"].attribution[0, 0, 0] = np.nan
        return result

    monkeypatch.setattr(report, "saliency_report", poisoned)
    for fmt in ("json", "text"):
        result = run("saliency", "--format", fmt)
        assert result.exit_code == 2 and result.stdout == ""
        assert result.stderr.count("\n") == 1
        assert "not finite (NaN or infinity in methods.vanilla" in result.stderr


def test_non_finite_path_names_the_first_place():
    assert non_finite_path({"a": [1.0, {"b": np.array([1.0, np.inf])}]}) == "a[1].b"
    assert non_finite_path({"a": 1.0, "b": None, "c": "nan", "d": np.arange(3)}) is None
    assert non_finite_path([float("nan")]) == "[0]"


@pytest.mark.parametrize("value", [1e-310, 1e150, -1e300])
def test_no_runtime_warning_reaches_stderr_even_with_debug(value, tmp_path, run):
    """With SALIENCY_CLI_DEBUG warnings are not filtered: so none may be raised at all."""
    path = tmp_path / "x.npy"
    np.save(path, np.full((2, 8, 8), value))
    for args in (["saliency"], ["saliency", "--methods", "ig", "--smooth", "2"], ["lrp", "--task", "blobs8x8"]):
        result = run(*args, "--input", path, "--format", "json", env={"SALIENCY_CLI_DEBUG": "1"})
        assert "Warning" not in result.stderr, result.stderr
        assert result.exit_code in (0, 1, 2)


def test_a_diverged_training_run_is_refused_not_written(run, tmp_path, monkeypatch):
    import saliency_cli.training as training

    real = training.train_task

    def diverging(*args, **kwargs):
        net, record = real(*args, **kwargs)
        net.layers[1].params["weight"][0, 0] = np.inf
        return net, {**record, "final_loss": float("nan")}

    monkeypatch.setattr(training, "train_task", diverging)
    out = tmp_path / "m.npz"
    result = run("train", "--task", "blobs6x6", "--epochs", "1", "--out", out)
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert "the trained model is not finite" in result.stderr and not out.exists()
