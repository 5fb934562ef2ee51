"""Best per column and verdicts from hand-made cells; the text helpers of the renderer."""

from __future__ import annotations

from saliency_cli.evaluation.summary import Cell, _best, _verdict
from saliency_cli.render.evaluate import short, sparkline


def cell(mean, lo, hi, n=10):
    return Cell(mean, (lo, hi), n)


CELLS = {
    "a": {"auc": cell(0.9, 0.85, 0.95), "mass-accuracy": cell(0.5, 0.45, 0.55), "deletion": cell(0.2, 0.1, 0.3)},
    "b": {"auc": cell(0.9, 0.80, 0.99), "mass-accuracy": cell(0.7, 0.65, 0.75), "deletion": cell(0.4, 0.3, 0.5)},
    "random": {"auc": cell(0.5, 0.45, 0.55), "mass-accuracy": cell(0.07, 0.06, 0.08), "deletion": cell(0.9, 0.8, 1)},
    "input": {"auc": cell(1.0, 1.0, 1.0), "mass-accuracy": cell(0.5, 0.4, 0.6), "deletion": cell(0.5, 0.45, 0.55)},
}


def test_best_per_column_keeps_ties_and_follows_the_direction():
    assert _best(CELLS, ["a", "b"], "auc") == ["a", "b"]
    assert _best(CELLS, ["a", "b"], "deletion") == ["a"]  # lower is better


def test_verdict_names_the_best_mean_rank_and_where_it_beats_both_controls():
    v = _verdict("localisation", CELLS, ["a", "b"], ["random", "input"], ("auc", "mass-accuracy"))
    # ranks: auc a 1.5, b 1.5; mass-accuracy b 1, a 2 -> b (1.25) before a (1.75)
    assert (v.best, v.mean_rank) == ("b", 1.25)
    assert v.judged == ["mass-accuracy", "auc"] and v.beats == ["mass-accuracy"]  # input's AUC of 1.0 is not beaten
    f = _verdict("faithfulness", CELLS, ["a", "b"], ["random", "input"], ("deletion",))
    assert f.best == "a" and f.beats == ["deletion"]  # [0.1, 0.3] lies below [0.45, 0.55] and [0.8, 1]


def test_short_numbers_and_sparklines():
    assert [short(v) for v in (0.79, -0.07, 1.0, 0.0, 3e-16, float("nan"))] == [
        ".79",
        "-.07",
        "1.00",
        ".00",
        "3e-16",
        "n/a",
    ]
    assert sparkline([0.0, 0.5, 1.0], 0, 1, color=False) == " =@"
    assert sparkline([-1.0, 1.0], -1, 1, color=True) == " █"


def test_every_metric_has_a_definition_and_a_summary():
    from saliency_cli.evaluation.metrics import FAMILIES, METRICS

    assert sorted(m for names in FAMILIES.values() for m in names) == sorted(METRICS)
    for metric in METRICS.values():
        assert metric.definition and metric.summary and len(metric.summary) <= 80
        assert metric.direction in ("higher", "lower")
