"""`saliency-cli saliency`: batch input, --targets, JSON Lines, --reduce, scores and --smooth from the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

from saliency_cli.attribution import integrated_gradients, saliency
from saliency_cli.methods.scores import LayerUnit, LogitDifference
from saliency_cli.tasks import TASKS

from .cli_io import json_lines, npy_bytes, write_files


@pytest.fixture
def batch(tmp_path):
    x, y, _ = TASKS["blobs8x8"].sample(5, np.random.default_rng(7), noise=0.3)
    path = tmp_path / "batch.npy"
    path.write_bytes(npy_bytes(x))
    return path, x, y


def test_jsonl_has_one_object_per_probe_equal_to_the_single_probe_document(batch, tmp_path, run):
    path, x, _ = batch
    docs = json_lines(run("saliency", "--input", path, "--format", "jsonl", "--samples", "4"))
    assert len(docs) == 5 and [d["index"] for d in docs] == list(range(5))
    for i, doc in enumerate(docs):
        single = tmp_path / f"p{i}.npy"
        single.write_bytes(npy_bytes(x[i]))
        one = json.loads(run("saliency", "--input", single, "--format", "json", "--samples", "4").stdout)
        assert doc["source"] == f"{path}[{i}]" and doc["target"] == one["target"]
        np.testing.assert_array_equal(doc["input"], one["input"])
        for key, method in one["methods"].items():
            np.testing.assert_allclose(
                doc["methods"][key]["attribution"], method["attribution"], rtol=1e-12, atol=1e-14
            )
        c, c1 = doc["methods"]["integrated_gradients"], one["methods"]["integrated_gradients"]
        assert c["pieces"] == c1["pieces"] and c["completeness"]["gap_rel"] < 1e-12


def test_per_probe_targets_from_a_text_file_and_fromnpy_bytes(batch, tmp_path, run, shipped):
    path, x, y = batch
    net = shipped("blobs8x8")
    targets = 1 - y
    text = tmp_path / "t.txt"
    text.write_text("# other class\n" + ", ".join(map(str, targets)) + "\n")
    npy = tmp_path / "t.npy"
    npy.write_bytes(npy_bytes(targets))
    for source in (text, npy):
        docs = json_lines(
            run("saliency", "--input", path, "--targets", source, "--format", "jsonl", "--methods", "vanilla,ig")
        )
        assert [d["target"] for d in docs] == list(targets)
        for i, doc in enumerate(docs):
            want = saliency(net, x[i], target=int(targets[i]), abs=False)
            np.testing.assert_allclose(doc["methods"]["vanilla"]["signed"], want, rtol=1e-12, atol=1e-15)


def test_one_target_for_the_whole_batch_and_json_wraps_the_probes(batch, run):
    path, _, _ = batch
    result = run("saliency", "--input", path, "-c", "1", "--format", "json", "--methods", "vanilla")
    doc = json.loads(result.stdout)
    assert doc["command"] == "saliency" and len(doc["probes"]) == 5
    assert all(p["target"] == 1 for p in doc["probes"])


def test_batch_text_is_one_summary_row_per_probe(batch, run):
    path, _, _ = batch
    result = run("saliency", "--input", path)
    assert result.exit_code == 0, result.stderr
    out = " ".join(result.stdout.split())
    assert "saliency over 5 probes" in out and "IG gap" in out and "top c,x,y" in out
    assert "input, channel 0" not in out  # no full reports
    assert "0 of 5 probes have a completeness gap" in out


def test_reduce_in_json(run, shipped):
    net = shipped("blobs8x8")
    x = TASKS["blobs8x8"].probe("clean")[0]
    doc = json.loads(run("saliency", "--format", "json", "--reduce", "max").stdout)
    assert doc["reduce"] == "max"
    g = saliency(net, x, abs=False)
    np.testing.assert_allclose(doc["methods"]["vanilla"]["attribution"], np.abs(g).max(axis=0, keepdims=True))
    assert np.shape(doc["methods"]["vanilla"]["signed"]) == (2, 8, 8)
    for method in doc["methods"].values():
        assert np.shape(method["attribution"]) == (1, 8, 8)
    assert doc["methods"]["vanilla"]["top_k"][0]["channel"] is None


def test_logit_diff_and_unit_from_the_cli(run, shipped):
    net = shipped("blobs8x8")
    x = TASKS["blobs8x8"].probe("clean")[0]
    doc = json.loads(run("saliency", "--format", "json", "--score", "logit-diff", "--against", "1").stdout)
    assert doc["explained"]["score"] == "logit-diff" and doc["explained"]["against"] == 1
    want = saliency(net, x, target=0, abs=False) - saliency(net, x, target=1, abs=False)
    np.testing.assert_allclose(doc["methods"]["vanilla"]["signed"], want, rtol=1e-12, atol=1e-15)
    ig = doc["methods"]["integrated_gradients"]
    assert ig["quadrature"] == "exact" and ig["completeness"]["gap_rel"] < 1e-12
    np.testing.assert_allclose(ig["attribution"], integrated_gradients(net, x, score=LogitDifference(1), exact=True))

    doc = json.loads(run("saliency", "--format", "json", "--layer", "conv1", "--unit", "3,2,1").stdout)
    e = doc["explained"]
    assert (e["score"], e["layer"], e["layer_index"], e["unit_index"]) == ("unit", "conv1", 0, [3, 2, 1])
    assert e["unit_at"] == {"channel": 3, "x": 2, "y": 1}  # --unit is c,x,y: x = column, y = row
    assert doc["target"] is None and e["value"] == pytest.approx(net.forward(x[None], stop=0)[0, 3, 1, 2])
    np.testing.assert_allclose(
        doc["methods"]["vanilla"]["signed"], saliency(net, x, abs=False, score=LayerUnit(0, e["unit"]))
    )


def test_unit_after_the_softmax_falls_back_from_exact_with_a_note(run):
    result = run("saliency", "--format", "json", "--layer", "softmax1", "--unit", "0", "--methods", "ig")
    assert result.exit_code == 0 and "using --quadrature right" in result.stderr
    assert json.loads(result.stdout)["methods"]["integrated_gradients"]["quadrature"] == "right"


def test_smooth_ig_from_the_cli(run, shipped):
    net = shipped("blobs8x8")
    x = TASKS["blobs8x8"].probe("clean")[0]
    flat = json.loads(run("saliency", "--format", "json", "--methods", "ig", "--smooth", "3", "--sigma", "0").stdout)
    ig = flat["methods"]["integrated_gradients"]
    np.testing.assert_allclose(ig["attribution"], integrated_gradients(net, x, exact=True), rtol=1e-12, atol=1e-15)
    assert ig["smooth"] == {"copies": 3, "sigma": 0.0, "seed": 0}
    noisy = json.loads(run("saliency", "--format", "json", "--methods", "ig", "--smooth", "4").stdout)
    c = noisy["methods"]["integrated_gradients"]["completeness"]
    assert "definition" in c and c["gap_rel"] < 1e-12 and c["score_clean"] != c["score_input"]
    text = run("saliency", "--methods", "ig", "--smooth", "4")
    out = " ".join(text.stdout.split())
    assert "smooth IG, 4 copies" in out and "not conserved" in out


def _bad(tmp_path, batch_path):
    f = write_files(
        tmp_path,
        odd_npy=npy_bytes(np.zeros((3, 1, 8, 8))),
        short_txt="0 1",
        frac_txt="0 1 0.5 1 0",
        big_txt="0 1 2 1 0",
    )
    odd, short, frac, big = f["odd_npy"], f["short_txt"], f["frac_txt"], f["big_txt"]
    return {
        "unit without layer": (["--unit", "3"], "--unit needs --layer"),
        "layer without unit": (["--layer", "conv1"], "--layer needs --unit"),
        "unit out of range": (["--layer", "dense1", "--unit", "16"], "out of range"),
        "unit of the wrong shape": (["--layer", "conv1", "--unit", "1,2"], "does not index"),
        "unit not a number": (["--layer", "conv1", "--unit", "x"], "--unit"),
        "no such layer": (["--layer", "conv7", "--unit", "0"], "no layer named"),
        "layer index out of range": (["--layer", "12", "--unit", "0"], "out of range"),
        "unit with score": (["--layer", "conv1", "--unit", "0", "--score", "probability"], "drop --score"),
        "unit with target": (["--layer", "conv1", "--unit", "0", "-c", "1"], "drop --target"),
        "against without logit-diff": (["--against", "1"], "--against needs --score logit-diff"),
        "logit-diff without against": (["--score", "logit-diff"], "needs --against"),
        "against equals target": (["--score", "logit-diff", "--against", "0"], "same as --against"),
        "against out of range": (["--score", "logit-diff", "--against", "4"], "out of range"),
        "targets with one probe": (["--targets", short], "needs a batch"),
        "target and targets": (["--input", batch_path, "-c", "1", "--targets", short], "not both"),
        "too few targets": (["--input", batch_path, "--targets", short], "2 targets for 5 probes"),
        "fractional targets": (["--input", batch_path, "--targets", frac], "integers"),
        "target out of range": (["--input", batch_path, "--targets", big], "out of range"),
        "missing targets file": (["--input", batch_path, "--targets", tmp_path / "no.txt"], "no such file"),
        "batch of the wrong shape": (["--input", odd], "does not match"),
        "convergence on a batch": (["--input", batch_path, "--convergence"], "one probe"),
        "smooth without ig": (["--methods", "vanilla", "--smooth", "3"], "add ig"),
        "bad reduce": (["--reduce", "sum"], "--reduce"),
    }


CASES = [
    "unit without layer", "layer without unit", "unit out of range", "unit of the wrong shape", "unit not a number",
    "no such layer", "layer index out of range", "unit with score", "unit with target", "against without logit-diff",
    "logit-diff without against", "against equals target", "against out of range", "targets with one probe",
    "target and targets", "too few targets", "fractional targets", "target out of range", "missing targets file",
    "batch of the wrong shape", "convergence on a batch", "smooth without ig", "bad reduce",
]  # fmt: skip


@pytest.mark.parametrize("case", CASES)
def test_bad_combinations_are_one_line_and_exit_2(case, batch, tmp_path, run):
    args, words = _bad(tmp_path, batch[0])[case]
    result = run("saliency", "--format", "jsonl", *args)
    assert result.exit_code == 2, result.stdout
    assert result.stdout == "" and "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error")]
    assert len(errors) == 1 and words in errors[0], result.stderr


def test_every_new_option_has_help_and_the_help_ends_with_examples(run):
    out = run("saliency", "--help").stdout
    for option in ("--targets", "--against", "--layer", "--unit", "--reduce", "--smooth", "jsonl"):
        assert option in out, option
    assert "saliency-cli saliency --input batch.npy" in out


@pytest.mark.parametrize(("task", "args"), [("blobs8x8", []), ("blobs8x8-gap", ["--quadrature", "right"])])
def test_workers_share_the_batch_and_give_the_same_bytes(task, args, tmp_path, run):
    # NOTE: by construction (each worker computes whole blocks of probes, the blocks one process computes). The
    # spawned workers are other processes: the same bytes also show that a process's products do not
    # depend on its BLAS threading (blobs8x8-gap's convolutions are shared out over the engine's threads)
    x, _, _ = TASKS[task].sample(130, np.random.default_rng(8), noise=0.3)  # two blocks of probes
    path = tmp_path / "batch.npy"
    path.write_bytes(npy_bytes(x))
    common = ["saliency", "--task", task, "--input", path, "--format", "jsonl", "--samples", "4", *args]
    one, two, auto = run(*common), run(*common, "--workers", "2"), run(*common, "--workers", "auto")
    assert one.exit_code == two.exit_code == auto.exit_code == 0, two.stderr + auto.stderr
    assert len(json_lines(one)) == 130 and two.stdout == one.stdout == auto.stdout


def test_workers_need_a_batch(run):
    result = run("saliency", "--workers", "2")
    assert result.exit_code == 2 and "--workers shares the probes of a batch" in result.stderr
