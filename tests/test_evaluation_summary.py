"""Saturation, ranks, ties, paired decisions and the recommendation rule, on hand-made tables."""

from __future__ import annotations

import numpy as np
import pytest

from saliency_cli.evaluation.recommend import recommend
from saliency_cli.evaluation.table import Cell, Table, saturation
from saliency_cli.evaluation.verdicts import exclusions, rank_sums, verdict

N = 40
RNG = np.random.default_rng(0)
SPREAD = RNG.normal(0.0, 0.2, N)  # a wide spread shared by the paired values


def table(values: dict[str, dict[str, np.ndarray]], lerf=None, resamples=400) -> Table:
    methods = [m for m in values if m not in ("random", "input")]
    controls = [m for m in values if m in ("random", "input")]
    metrics = tuple(next(iter(values.values())))
    return Table(values, methods, controls, metrics, resamples, 0, lerf or {})


def const(v, n=N):
    return np.full(n, float(v))


def test_saturation_by_the_rule():
    # means 0.5 and 0.505 span 0.005 < 0.01: saturated; 0.5 and 0.52 with intervals 0.01 wide: not
    assert saturation([Cell(0.5, (0.5, 0.5), 5), Cell(0.505, (0.505, 0.505), 5)])
    assert not saturation([Cell(0.5, (0.495, 0.505), 5), Cell(0.52, (0.515, 0.525), 5)])
    # a span of 0.05 inside an interval 0.06 wide: saturated
    assert saturation([Cell(0.5, (0.47, 0.53), 5), Cell(0.55, (0.54, 0.56), 5)])
    # one scored method (or one plus n/a): nothing to tell apart, never flagged
    assert not saturation([Cell(0.5, (0.5, 0.5), 5), Cell(float("nan"), (float("nan"),) * 2, 0)])


def test_a_saturated_metric_is_flagged_unhighlighted_and_unused():
    t = table({
        "a": {"auc": const(0.9), "insertion": const(0.98)},
        "b": {"auc": const(0.7), "insertion": const(0.98)},
        "random": {"auc": const(0.5), "insertion": const(0.6)},
    })  # fmt: skip
    excluded = exclusions(t, t.metrics)
    assert t.saturated("insertion") and not t.saturated("auc")
    assert list(excluded) == ["insertion"] and excluded["insertion"].startswith("saturated")
    v = verdict(t, "faithfulness", excluded)
    assert v.metrics == ["insertion"] and v.judged == [] and v.best == [] and v.ranks == {}
    loc = verdict(t, "localisation", excluded)
    assert loc.best == ["a"] and loc.judged == ["auc"] and loc.ranks == {"a": 1.0, "b": 2.0}


def test_abpc_counts_once_when_lerf_saturates():
    base = {"deletion": None, "abpc": None}
    values = {
        "a": {"deletion": 0.2 + SPREAD * 0, "abpc": 0.78 + SPREAD * 0},
        "b": {"deletion": const(0.5), "abpc": const(0.48)},
        "random": {"deletion": const(0.9), "abpc": const(0.0)},
    }
    assert set(base) == set(values["a"])
    flat = table(values, lerf={"a": const(0.98), "b": const(0.98), "random": const(0.9)})
    excluded = exclusions(flat, flat.metrics)
    assert "counted once" in excluded["abpc"]
    v = verdict(flat, "faithfulness", excluded)
    assert v.metrics == ["deletion", "abpc"] and v.judged == ["deletion"]
    sloped = table(values, lerf={"a": const(0.98), "b": const(0.60), "random": const(0.9)})
    assert "abpc" not in exclusions(sloped, sloped.metrics)


def test_ranks_ties_and_methods_a_metric_does_not_apply_to():
    nan = const(np.nan)
    t = table({
        "a": {"auc": const(0.9), "deletion": const(0.2), "conservation": const(0.0)},
        "b": {"auc": const(0.8), "deletion": const(0.1), "conservation": nan},
        "c": {"auc": const(0.7), "deletion": const(0.3), "conservation": nan},
        "d": {"auc": nan, "deletion": const(0.05), "conservation": nan},
    })  # fmt: skip
    # auc: a 1, b 2, c 3 (d has none: not ranked); deletion: b 1, a 2, c 3 -> a and b tie at 3
    assert rank_sums(t, ["auc", "deletion"]) == {"a": 3.0, "b": 3.0, "c": 6.0}
    t.metrics = ("auc",)
    v = verdict(t, "localisation", {})
    assert v.best == ["a"]
    both = Table(t.values, ["a", "b", "c"], [], ("auc", "deletion"), 100, 0)
    loc = verdict(both, "localisation", {})
    faith = verdict(both, "faithfulness", {})
    assert loc.best == ["a"] and faith.best == ["b"]
    # ties within a metric share their places: 1.5 each
    tied = table({"a": {"auc": const(0.9)}, "b": {"auc": const(0.9)}, "c": {"auc": const(0.1)}})
    assert rank_sums(tied, ["auc"]) == {"a": 1.5, "b": 1.5, "c": 3.0}
    tv = verdict(tied, "localisation", {})
    assert tv.best == ["a", "b"] and tv.mean_rank == 1.5


def test_beating_a_control_is_a_paired_decision():
    # a = control + 0.02 on every probe: the marginal intervals overlap widely, the paired one excludes 0
    control = 0.5 + SPREAD
    b = control + 0.02 * np.sign(SPREAD)
    t = table({"a": {"auc": control + 0.02}, "b": {"auc": b}, "random": {"auc": control}})
    a, c = t.cell("a", "auc"), t.cell("random", "auc")
    assert a.ci[0] < c.ci[1]  # overlapping marginal intervals
    d = t.difference("a", "random", "auc")
    assert d.mean == pytest.approx(0.02) and d.ci == pytest.approx((0.02, 0.02))
    assert t.beats("a", "random", "auc")
    # b differs from the control by +-0.02 at random: its paired interval holds 0
    assert not t.beats("b", "random", "auc")
    # lower is better: a deletion 0.02 below the control's beats it, one above does not
    t2 = table({"a": {"deletion": control - 0.02}, "b": {"deletion": control + 0.02}, "random": {"deletion": control}})
    assert t2.beats("a", "random", "deletion") and not t2.beats("b", "random", "deletion")


def test_draws_are_paired_too():
    k_by_n = np.stack([0.2 + SPREAD, 0.3 + SPREAD, 0.25 + SPREAD])
    t = table({"a": {"mprt": k_by_n}, "b": {"mprt": k_by_n + 0.3}, "random": {"mprt": np.ones((3, N))}})
    assert t.cell("a", "mprt").mean == pytest.approx(0.25 + SPREAD.mean())
    assert t.beats("a", "random", "mprt") and t.beats("b", "random", "mprt")


def _rec_table(sanity_a: float, sanity_b: float, auc_a: float = 0.9, auc_b: float = 0.8):
    noise = RNG.normal(0.0, 0.01, N)
    return table({
        "a": {"auc": auc_a + noise, "mprt": sanity_a + noise, "random-logit": const(0.3)},
        "b": {"auc": auc_b + noise, "mprt": sanity_b + noise, "random-logit": const(0.3)},
        "c": {"auc": 0.7 + noise, "mprt": const(1.0), "random-logit": const(1.0)},  # fails sanity
        "random": {"auc": 0.5 + noise, "mprt": const(1.0), "random-logit": const(1.0)},
        "input": {"auc": 0.6 + noise, "mprt": const(1.0), "random-logit": const(1.0)},
    })  # fmt: skip


def _verdicts(t):
    excluded = exclusions(t, t.metrics)
    return [verdict(t, f, excluded) for f in ("localisation", "faithfulness", "sanity")]


def test_recommendation_is_the_best_rank_among_methods_that_pass_sanity():
    t = _rec_table(0.2, 0.3)
    rec = recommend(t, _verdicts(t))
    assert rec.method == "a" and rec.ties == [] and rec.passes_sanity == ["a", "b"]
    loc = rec.reasons["localisation"]
    assert loc.startswith("rank 1 of 3") and "beats random on auc" in loc
    assert "below random and input" in rec.reasons["sanity"]
    # a's map does not change when the weights do (MPRT 1, like the controls): b is recommended
    t = _rec_table(1.0, 0.3)
    rec = recommend(t, _verdicts(t))
    assert rec.method == "b" and rec.passes_sanity == ["b"]
    # nobody passes: none, with the reason (although mprt, now alike for every method, is saturated: the
    # sanity gate compares each method with the controls, which a metric that cannot rank methods still does)
    t = _rec_table(1.0, 1.0)
    assert t.saturated("mprt")
    rec = recommend(t, _verdicts(t))
    assert rec.method is None and "no method passes sanity" in rec.reason


def test_recommendation_ties_and_no_evidence():
    t = _rec_table(0.2, 0.3, auc_a=0.9, auc_b=0.9)
    rec = recommend(t, _verdicts(t))
    assert rec.method == "a" and rec.ties == ["b"]
    # both pass sanity but neither beats the input control (AUC 0.6) on anything
    t = _rec_table(0.2, 0.3, auc_a=0.58, auc_b=0.4)
    assert not t.saturated("auc")
    rec = recommend(t, _verdicts(t))
    assert rec.method is None and "beats random and input" in rec.reason
