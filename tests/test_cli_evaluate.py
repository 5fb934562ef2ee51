"""`saliency-cli evaluate`: the text report, the JSON document, determinism, recomputation and bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from saliency_cli.evaluation import run as R
from saliency_cli.evaluation.metrics import METRICS
from saliency_cli.evaluation.probes import task_probes
from saliency_cli.tasks import TASKS

FAST = ("--probes", "6", "--resamples", "50")


def _json(run, *args):
    result = run("evaluate", "--format", "json", *args)
    assert result.exit_code == 0, result.stderr
    return result.stdout, json.loads(result.stdout)


def test_text_report_has_the_table_verdicts_and_curves(run):
    result = run("evaluate", *FAST, "--methods", "vanilla,lrp:epsilon,random,input", "--no-color")
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    for needle in ("pointing", "game ↑", "deletion ↓", "conservation ↓", "localisation: best", "faithfulness: best",
                   "sanity: best", "deletion (MoRF)", "MPRT (cascading)", "dense2", "conv1", "bootstrap"):  # fmt: skip
        assert needle in out, needle
    rows = [
        line.split()[0] for line in out.splitlines() if line.strip().startswith(("vanilla", "lrp:", "random", "input"))
    ]
    assert rows[:4] == ["vanilla", "lrp:epsilon", "random", "input"]  # controls grouped last
    assert "…" not in out  # no column is cropped


def test_json_document_shape(run):
    _, doc = _json(run, *FAST, "--methods", "ig,random", "--per-probe", "--task", "blobs6x6")
    assert doc["command"] == "evaluate" and doc["task"] == "blobs6x6" and doc["probes"] == 6 and doc["wrong"] == 0
    assert doc["seed"] == 0 and doc["model"]["task"] == "blobs6x6"
    assert set(doc["metrics"]) == set(METRICS)
    for name, metric in METRICS.items():
        assert doc["metrics"][name]["direction"] == metric.direction and doc["metrics"][name]["definition"]
    ig = doc["methods"]["ig"]
    for metric in METRICS:
        cell = ig[metric]
        assert set(cell) >= {"mean", "ci", "n"} and len(cell["ci"]) == 2
    assert ig["conservation"]["n"] == 6 and ig["conservation"]["mean"] < 1e-12
    assert doc["methods"]["random"]["conservation"] == {"mean": None, "ci": [None, None], "n": 0}
    curves = ig["curves"]
    assert len(curves["fractions"]) == 17 and curves["fractions"][0] == 0 and curves["fractions"][-1] == 1
    assert len(curves["deletion"]) == len(curves["insertion"]) == len(curves["lerf"]) == 17
    assert ig["mprt"]["layers"] == ["dense3", "dense2", "dense1"] and len(ig["mprt"]["spearman"]) == 3
    assert len(doc["per_probe"]["ig"]["auc"]) == 6
    detail = doc["probes_detail"]
    assert [d["index"] for d in detail] == list(range(6)) and [d["label"] for d in detail] == [0, 1] * 3
    assert {d["noise"] for d in detail} == {0.05, 0.25, 0.45} and all(d["target"] == d["label"] for d in detail)
    assert np.mean(doc["per_probe"]["ig"]["auc"]) == pytest.approx(ig["auc"]["mean"], rel=1e-15)


def test_same_bytes_for_a_seed_and_any_workers(run, monkeypatch):
    monkeypatch.setattr(R, "BLOCK", 3)
    args = ("--probes", "7", "--resamples", "100", "--methods", "vanilla,lrp:gamma,random", "--per-probe")
    one, _ = _json(run, *args, "--workers", "1")
    two, _ = _json(run, *args, "--workers", "2")
    auto, _ = _json(run, *args)  # the default (small blocks: this process)
    assert one == two == auto
    other, _ = _json(run, *args, "--seed", "1")
    assert other != one


def test_workers_auto_is_one_process_per_core_and_block(monkeypatch):
    import click

    from saliency_cli.cli import sharing
    from saliency_cli.nn import blas

    monkeypatch.setattr(blas, "cores", lambda: 4)
    assert sharing.resolve_workers("auto", 2) == 2  # at most one per block
    assert sharing.resolve_workers("auto", 9) == 4  # at most one per core
    assert sharing.resolve_workers("auto", 9, scheduler="local:2") == 1  # the cluster runs the blocks
    assert sharing.resolve_workers(3, 1) == 3  # a number is taken as given
    small, large = sharing.AUTO_MIN_WORK * 3 * 0.9, sharing.AUTO_MIN_WORK * 3
    assert sharing.resolve_workers("auto", 3, work=small) == 1  # blocks too small to pay for a process's start
    assert sharing.resolve_workers("auto", 3, work=large) == 3
    assert sharing.resolve_workers(2, 3, work=small) == 2
    kind = sharing.Workers()
    assert kind.convert("AUTO", None, None) == "auto" and kind.convert(" 7 ", None, None) == 7
    for bad in ("0", "65", "two", "-1", "٢", "³", "2.0"):
        with pytest.raises(click.BadParameter):
            kind.convert(bad, None, None)


def test_a_number_of_workers_with_a_scheduler_is_refused(run):
    # (the default, auto, goes with --scheduler: the cluster tests run evaluate with it)
    result = run("evaluate", *FAST, "--workers", "2", "--scheduler", "local:1")
    assert result.exit_code == 2 and "not both" in result.stderr


def _saliency_maps(run, x, targets) -> list[np.ndarray]:
    result = run("saliency", "--input", x, "--targets", targets, "--methods", "ig", "--format", "json")
    assert result.exit_code == 0, result.stderr
    return [np.array(p["methods"]["integrated_gradients"]["attribution"]) for p in json.loads(result.stdout)["probes"]]


def test_per_probe_values_recompute_from_the_single_method_commands(run, tmp_path):
    task = TASKS["blobs8x8"]
    p = task_probes(task, 3, [0.25], seed=9)
    np.save(tmp_path / "x.npy", p.x)
    np.save(tmp_path / "m.npy", p.masks)
    (tmp_path / "y.txt").write_text(" ".join(map(str, p.labels)))
    _, doc = _json(run, "--input", tmp_path / "x.npy", "--masks", tmp_path / "m.npy", "--labels", tmp_path / "y.txt",
                   "--methods", "ig,lrp:epsilon", "--per-probe", "--resamples", "10",
                   "--metrics", "pointing-game,mass-accuracy,random-logit,random-logit-signed,conservation",
                   )  # fmt: skip
    detail = doc["probes_detail"]
    assert detail[1]["noise"] is None and detail[1]["label"] == 1 and doc["settings"]["mask_level"] == "pixel"
    assert [d["other"] for d in detail] == [1 - y for y in p.labels]  # two classes: the other one
    # the batch through `saliency` gives the same IG maps bit for bit (by construction: the same block of probes
    # through the same passes): the metrics recompute (to summation order)
    maps = _saliency_maps(run, tmp_path / "x.npy", tmp_path / "y.txt")
    (tmp_path / "other.txt").write_text(" ".join(str(d["other"]) for d in detail))
    others = _saliency_maps(run, tmp_path / "x.npy", tmp_path / "other.txt")
    for i, ig in enumerate(maps):
        pixels, mask = ig.sum(axis=0), p.masks[i].any(axis=0)  # pixel level: channels summed, any channel's mask
        pos = np.maximum(pixels, 0)
        assert doc["per_probe"]["ig"]["mass-accuracy"][i] == pytest.approx(pos[mask].sum() / pos.sum(), rel=1e-14)
        assert doc["per_probe"]["ig"]["pointing-game"][i] == float(mask.ravel()[np.argmax(pixels)])
        # random-logit: Spearman of |map| for the target with |map| for the other class (scipy-free, by ranks)
        a, b = np.abs(ig).ravel(), np.abs(others[i]).ravel()
        rho = np.corrcoef(_ranks(a), _ranks(b))[0, 1]
        assert doc["per_probe"]["ig"]["random-logit"][i] == pytest.approx(rho, abs=1e-12)
        signed = np.corrcoef(_ranks(ig.ravel()), _ranks(others[i].ravel()))[0, 1]
        assert doc["per_probe"]["ig"]["random-logit-signed"][i] == pytest.approx(signed, abs=1e-12)
    # one probe through `lrp`: the same map within round-off, so the same values to 1e-12
    np.save(tmp_path / "x1.npy", p.x[1])
    result = run("lrp", "--task", "blobs8x8", "--input", tmp_path / "x1.npy", "--target", "1", "--format", "json")
    assert result.exit_code == 0, result.stderr
    lrp = json.loads(result.stdout)
    r = np.array(lrp["relevance"])
    pos = np.maximum(r.sum(axis=0), 0)
    assert doc["per_probe"]["lrp:epsilon"]["mass-accuracy"][1] == pytest.approx(
        pos[p.masks[1].any(axis=0)].sum() / pos.sum(), rel=1e-12
    )
    claimed = lrp["totals"]["logit"]
    assert doc["per_probe"]["lrp:epsilon"]["conservation"][1] == pytest.approx(
        abs(r.sum() - claimed) / abs(claimed), rel=1e-9
    )


def _ranks(v: np.ndarray) -> np.ndarray:
    """Average ranks, ties sharing the mean of their places (written out independently of ranks.py)."""
    order = np.argsort(v, kind="stable")
    ranks = np.empty(len(v))
    i = 0
    while i < len(v):
        j = i
        while j + 1 < len(v) and v[order[j + 1]] == v[order[i]]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--methods", "nope"), "unknown method nope"),
        (("--metrics", "auc,nope"), "unknown metric nope"),
        (("--methods", "cam"), "--methods cam does not apply to this model: CAM needs"),
        (("--methods", "cam"), "use --methods gradcam or gradcam++"),
        (("--methods", "gradcam", "--cam-layer", "nope"), "does not apply to this model: --cam-layer nope: no layer"),
        (("--methods", "gradcam", "--cam-layer", "dense1"), "--cam-layer dense1 has no spatial output"),
        (("--masks", "m.npy"), "--masks and --labels go with --input"),
        (("--per-probe",), "--per-probe adds to the JSON document"),
        (("--noise", "0.1,abc"), "comma-separated numbers"),
        (("--probes", "0"), "--probes"),
        (("--ig-steps", "8"), "--ig-steps sets a quadrature rule's steps"),
        (("--probes", "100000"), "lower --probes (each probe takes"),
        (
            ("--probes", "5000", "--methods", "random", "--metrics", "auc", "--resamples", "100000"),
            "use --resamples 13421",
        ),
    ],
)
def test_bad_options_are_one_line(run, args, message):
    result = run("evaluate", *args)
    assert result.exit_code == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_bad_masks_are_refused_naming_the_probe(run, tmp_path):
    p = task_probes(TASKS["blobs8x8"], 3, [0.1], 0)
    np.save(tmp_path / "x.npy", p.x)
    masks = p.masks.copy()
    masks[2] = False
    np.save(tmp_path / "m.npy", masks)
    np.save(tmp_path / "small.npy", p.masks[:, :1])
    for name, message in (("m.npy", "probe 2 has an empty mask"), ("small.npy", "does not match")):
        result = run("evaluate", "--input", tmp_path / "x.npy", "--masks", tmp_path / name)
        assert result.exit_code == 2 and message in result.stderr, result.stderr
        assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_independent_mprt_and_other_substrates(run):
    base = ("--probes", "4", "--resamples", "20", "--methods", "vanilla,random", "--task", "blobs6x6")
    _, doc = _json(run, *base, "--metrics", "mprt,deletion", "--mprt-order", "independent", "--substrate", "blur")
    v = doc["methods"]["vanilla"]
    assert doc["settings"]["mprt_order"] == "independent" and doc["settings"]["substrate"] == "blur"
    assert v["mprt"]["layers"] == ["dense3", "dense2", "dense1"]
    assert v["mprt"]["mean"] == pytest.approx(np.mean(v["mprt"]["spearman"]), rel=1e-12)  # the mean over layers
    zero = _json(run, *base, "--metrics", "deletion")[1]["methods"]["vanilla"]["deletion"]["mean"]
    mean = _json(run, *base, "--metrics", "deletion", "--substrate", "mean")[1]["methods"]["vanilla"]["deletion"][
        "mean"
    ]
    assert len({zero, mean, v["deletion"]["mean"]}) == 3


def test_the_controls_are_always_scored(run):
    """--methods chooses the methods; random and input are added so that every number reads against chance."""
    _, doc = _json(run, *FAST, "--methods", "ig", "--metrics", "auc")
    assert list(doc["methods"]) == ["ig", "random", "input"]
    result = run("evaluate", *FAST, "--methods", "ig", "--metrics", "auc", "--no-color")
    assert result.exit_code == 0 and "6 probes, 1 method + 2 controls" in " ".join(result.stdout.split())


@pytest.mark.parametrize("task", ["blobs6x6", "blobs8x8", "blobs8x8-gap"])
def test_the_report_opens_with_one_recommendation_and_no_saturated_metric_decides(run, task):
    args = ("--task", task, "--probes", "12", "--resamples", "100", "--draws", "2")
    text = run("evaluate", *args, "--no-color")
    assert text.exit_code == 0, text.stderr
    first = text.stdout.splitlines()[0]
    assert first.startswith("recommendation: ")
    _, doc = _json(run, *args)
    rec = doc["recommendation"]
    assert first.split()[1] == (rec["method"] or "none")
    assert set(rec) >= {"method", "ties", "reasons"} and isinstance(rec["ties"], list)
    if rec["method"] is not None:
        assert set(rec["reasons"]) == {"localisation", "faithfulness", "sanity"}
        assert rec["method"] in rec["passes_sanity"]
    saturated = {m for m, d in doc["metrics"].items() if d["saturated"]}
    for name, metric in doc["metrics"].items():
        if metric["saturated"] or not metric["judged"]:
            assert metric["best"] == [] and metric["excluded"], name
    for v in doc["verdicts"]:
        assert isinstance(v["best"], list) and not saturated & set(v["judged"])
        assert "conservation" not in v["metrics"]  # an axiom check, never ranked with the sanity tests
        assert set(v["judged"]) <= {m for m, d in doc["metrics"].items() if d["judged"]}
        for method in v["best"]:
            assert set(v["beats"][method]) == {"random", "input"}
            for won in v["beats"][method].values():
                assert set(won) <= set(v["judged"])
    assert doc["verdicts"][-1]["family"] == "sanity" and "mprt" in doc["verdicts"][-1]["metrics"]
    assert doc["metrics"]["mprt-signed"]["judged"] is False and "absolute" in doc["metrics"]["mprt"]["definition"]
    assert doc["settings"]["insertion_substrate"] == "blur" and doc["settings"]["draws"] == 2
    assert set(doc["settings"]["substrate_probability"]) == {"zero", "mean", "blur"}
    assert doc["settings"]["substrate_probability"]["blur"] < 0.9  # the blur removes the class evidence
    ig = doc["methods"]["ig"]["mprt"]
    assert ig["draws"] == 2 and len(ig["per_draw"]) == 2
    assert ig["mean"] == pytest.approx(np.mean(ig["per_draw"]), rel=1e-12)
    assert len(ig["spearman"]) == len(ig["layers"]) == len(ig["spearman_signed"])
    assert "ig" in doc["axioms"]["conservation"] and doc["axioms"]["conservation"]["vanilla"] is None


def test_a_substrate_that_keeps_the_class_is_named_in_one_line(run):
    # blobs8x8-gap classifies each channel's mean (the mean substrate) as the probe's class with p = 1.0
    args = ("--task", "blobs8x8-gap", "--probes", "4", "--resamples", "20", "--methods", "vanilla",
            "--metrics", "deletion,insertion", "--substrate", "mean")  # fmt: skip
    _, doc = _json(run, *args)
    assert doc["settings"]["substrate_probability"]["mean"] > 0.99
    (warning,) = doc["warnings"]
    assert "mean substrate (deletion)" in warning and "try --substrate zero" in warning
    text = run("evaluate", *args, "--no-color").stdout
    lines = [line for line in text.splitlines() if line.startswith("warning:")]
    assert len(lines) == 1 and "try --substrate" in " ".join(text.split())
    assert _json(run, *args[:-2])[1]["warnings"] == []


def test_mask_level_and_draws_are_settings(run):
    base = ("--probes", "6", "--resamples", "50", "--methods", "ig", "--task", "blobs8x8")
    _, pixel = _json(run, *base, "--metrics", "mass-accuracy")
    _, channel = _json(run, *base, "--metrics", "mass-accuracy", "--mask-level", "channel")
    assert pixel["settings"]["mask_level"] == "pixel" and channel["settings"]["mask_level"] == "channel"
    # the random control's chance follows the level: the blob's share of the pixels (9/64) or positions (9/128)
    assert (
        pixel["methods"]["random"]["mass-accuracy"]["mean"]
        > 0.1
        > channel["methods"]["random"]["mass-accuracy"]["mean"]
    )
    one = _json(run, *base, "--metrics", "mprt", "--draws", "1")[1]["methods"]["ig"]["mprt"]
    three = _json(run, *base, "--metrics", "mprt")[1]["methods"]["ig"]["mprt"]
    assert one["draws"] == 1 and three["draws"] == 3 and one["per_draw"] == three["per_draw"][:1]
    assert run("evaluate", *base, "--draws", "0").exit_code == 2
