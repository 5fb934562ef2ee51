"""`saliency-cli lrp`: text and JSON reports, --compare, --no-bias, --max-residual, errors."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

TOP_LEFT = {(0, 0), (0, 1), (1, 0), (1, 1)}  # (x, y) of the blobs6x6 class-0 blob


def run_json(run, *args):
    result = run("lrp", "--format", "json", *args)
    assert result.stdout.count("\n") == 1, "exactly one JSON document on stdout"
    return result, json.loads(result.stdout)


def check_ledger_rows(rows, tol=1e-12):
    for row in rows:
        if row["relevance_in"] is None:
            continue
        total = row["relevance_in"] + row["bias"] + row["stabiliser"] + row["dropped"]
        assert abs(total - row["relevance_out"]) <= tol * (1 + abs(row["relevance_out"])), row["name"]
        assert row["residual"] == pytest.approx(abs(row["relevance_in"] - row["relevance_out"]), abs=1e-15)


def test_gamma_on_the_clean_probe_finds_the_top_left_blob(run):
    result, doc = run_json(run, "--rule", "gamma")
    assert result.exit_code == 0
    assert doc["command"] == "lrp" and doc["rule"] == "gamma" and doc["label"] == 0 and doc["target"] == 0
    assert doc["params"] == {
        "eps": 0.01,
        "gamma": 0.25,
        "alpha": 2.0,
        "beta": 1.0,
        "bias": True,
        "pool": "winner",
        "first": None,
        "last": None,
        "low": None,
        "high": None,
    }
    assert doc["composite"] is None
    assert {(p["x"], p["y"]) for p in doc["top_k"][:4]} == TOP_LEFT
    assert len(doc["top_k"]) == 8 and all(p["channel"] == 0 for p in doc["top_k"])
    relevance = np.array(doc["relevance"])
    assert relevance.shape == (1, 6, 6) and np.array(doc["input"]).shape == (1, 6, 6)
    assert [row["name"] for row in doc["layers"]] == [
        "softmax1",
        "dense3",
        "relu2",
        "dense2",
        "relu1",
        "dense1",
        "flatten1",
    ]
    assert doc["layers"][0]["rule"] == "pass-through" and doc["layers"][1]["rule"] == "gamma"
    assert doc["layers"][0]["relevance_out"] == pytest.approx(doc["prediction"]["scores"][0])
    assert relevance.sum() == pytest.approx(doc["layers"][-1]["relevance_in"], abs=1e-12)
    check_ledger_rows(doc["layers"])
    assert doc["max_unexplained"] < 1e-12 and doc["weights_unchanged"] is True and doc["complete"]


def test_text_report_shows_header_ledger_top_k_and_heatmap(run):
    result = run("lrp", "--rule", "gamma", "--no-color")
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    for needle in (
        "models/blobs6x6.npz",
        "probabilities",
        "gamma (gamma=0.25, eps=0.01)",
        "conservation ledger",
        "pass-through",
        "stabiliser",
        "unexplained",
        "top 8 positions",
        "|R| per channel",
        "weights unchanged",
    ):
        assert needle in out, needle
    assert "\x1b[" not in out  # plain text when piped
    heat_rows = [line for line in out.splitlines() if line.startswith(" 0 ") or line.startswith(" 1 ")]
    assert any("@@" in line for line in heat_rows)


def test_compare_runs_the_three_rules(run):
    result, doc = run_json(run, "--compare")
    assert result.exit_code == 0 and doc["compare"] is True
    assert list(doc["rules"]) == ["epsilon", "gamma", "alpha-beta"]
    for name, sub in doc["rules"].items():
        assert sub["rule"] == name and np.array(sub["relevance"]).shape == (1, 6, 6)
        check_ledger_rows(sub["layers"])
        assert {(p["x"], p["y"]) for p in sub["top_k"][:2]} <= TOP_LEFT
    assert doc["max_unexplained"] == max(sub["max_unexplained"] for sub in doc["rules"].values())
    text = run("lrp", "--compare")
    assert text.exit_code == 0
    for needle in ("epsilon", "gamma", "alpha-beta", "beta=1", "max unexplained"):
        assert needle in text.stdout


def test_no_bias_zeroes_the_bias_shares(run):
    _, doc = run_json(run, "--no-bias")
    assert doc["params"]["bias"] is False
    dense = [row for row in doc["layers"] if row["type"] == "dense"]
    assert all(row["bias"] == 0 for row in dense) and all(row["stabiliser"] != 0 for row in dense)
    for row in dense:  # epsilon without bias: the residual is the stabiliser's share, O(eps)
        assert row["residual"] == pytest.approx(abs(row["stabiliser"]), abs=1e-12)
    _, doc = run_json(run, "--no-bias", "--rule", "alpha-beta", "--probe", "noisy")
    assert all(row["residual"] <= 1e-12 for row in doc["layers"])


def test_max_residual_sets_exit_code_1(run):
    _, doc = run_json(run)
    assert 0 < doc["max_unexplained"] < 1e-12
    ok = run("lrp", "--max-residual", "1e-9")
    assert ok.exit_code == 0
    failed = run("lrp", "--max-residual", "1e-30", "--format", "json")
    assert failed.exit_code == 1 and "exceeds --max-residual" in failed.stderr
    json.loads(failed.stdout)  # the report is still written


BLOB0 = {(0, x, y) for x in range(3) for y in range(3)}  # (channel, x, y) of the blobs8x8 class-0 blob


def test_conv_model_gets_a_full_ledger(run):
    text = run("lrp", "--task", "blobs8x8", "--no-color")
    assert text.exit_code == 0, text.stderr
    assert "SKIPPED" not in text.stdout and "not reached" not in text.stdout
    for needle in ("conv1", "pool1", "winner-take-all", "|R| ch 0", "|R| ch 1", "top 8 positions"):
        assert needle in text.stdout, needle
    result, doc = run_json(run, "--task", "blobs8x8")
    assert result.exit_code == 0 and doc["complete"] is True and doc["stopped"] is None
    assert [row["rule"] for row in doc["layers"]] == [
        "pass-through",
        "epsilon",
        "pass-through",
        "epsilon",
        "pass-through",
        "winner-take-all",
        "pass-through",
        "epsilon",
    ]
    assert not any(row["skipped"] for row in doc["layers"])
    assert np.array(doc["relevance"]).shape == (2, 8, 8)
    check_ledger_rows(doc["layers"])
    assert doc["max_unexplained"] < 1e-12


def test_epsilon_gamma_box_on_the_conv_model(run):
    text = run("lrp", "--task", "blobs8x8", "--composite", "epsilon-gamma-box", "--no-color")
    assert text.exit_code == 0, text.stderr
    out = text.stdout
    assert "SKIPPED" not in out and "not reached" not in out
    for needle in ("composite epsilon-gamma-box", "first layer conv1: zbox", "gamma (gamma=0.25", "zbox bounds"):
        assert needle in out, needle
    assert "|R| ch 0" in out and "top 8 positions" in out
    result, doc = run_json(run, "--task", "blobs8x8", "--composite", "epsilon-gamma-box")
    assert result.exit_code == 0 and doc["complete"] and doc["composite"] == "epsilon-gamma-box"
    rules = {row["name"]: row["rule"] for row in doc["layers"]}
    assert rules == {
        "softmax1": "pass-through",
        "dense2": "epsilon",
        "relu2": "pass-through",
        "dense1": "epsilon",
        "flatten1": "pass-through",
        "pool1": "winner-take-all",
        "relu1": "pass-through",
        "conv1": "zbox",
    }
    conv1 = doc["layers"][-1]
    assert conv1["rule_params"] == {"eps": 0.01, "low": "input min", "high": "input max"}
    x = np.array(doc["input"])
    assert doc["params"]["low"] == x.min() and doc["params"]["high"] == x.max()
    check_ledger_rows(doc["layers"])
    assert doc["max_unexplained"] < 1e-12 and doc["weights_unchanged"]
    # The top positions are on the class-0 blob (channel 0, x and y in 0..2); z-box also credits channel-1
    # pixels under the blob (dark where a filter's negative weights look), so: the top 3 on the blob, at least
    # 6 of the top 8, and all 8 in the top-left 3x3 corner of some channel.
    top = [(p["channel"], p["x"], p["y"]) for p in doc["top_k"]]
    assert set(top[:3]) <= BLOB0 and len(set(top) & BLOB0) >= 6
    assert all(x <= 2 and y <= 2 for _, x, y in top)
    relevance = np.array(doc["relevance"])
    assert relevance[0, :3, :3].sum() > 0.45 * relevance.sum()


def test_every_composite_and_first_rule_runs_on_both_conv_models(run):
    for task in ("blobs8x8", "blobs8x8-gap"):
        for extra in (
            ["--composite", "epsilon-plus"],
            ["--composite", "epsilon-plus-flat"],
            ["--composite", "epsilon-alpha2-beta1"],
            ["--rule", "zplus", "--first-rule", "wsquare"],
            ["--first-rule", "zbox", "--low", "0", "--high", "1.5"],
        ):
            result, doc = run_json(run, "--task", task, *extra)
            assert result.exit_code == 0, (task, extra, result.stderr)
            assert doc["complete"] and doc["max_unexplained"] < 1e-12, (task, extra)
            check_ledger_rows(doc["layers"])
    _, doc = run_json(run, "--task", "blobs8x8", "--pool-rule", "proportional")
    assert {row["name"]: row["rule"] for row in doc["layers"]}["pool1"] == "proportional"
    _, doc = run_json(run, "--task", "blobs8x8", "--composite", "epsilon-alpha2-beta1", "--pool-rule", "proportional")
    assert doc["layers"][-1]["rule_params"]["alpha"] == 2.0  # the preset fixes alpha 2, beta 1
    assert {row["name"]: row["rule"] for row in doc["layers"]}["pool1"] == "proportional"


def test_last_rule_replaces_the_rule_of_the_last_linear_layer(run):
    result, doc = run_json(run, "--task", "blobs8x8", "--rule", "zplus", "--last-rule", "epsilon", "--eps", "0.05")
    assert result.exit_code == 0, result.stderr
    rules = {row["name"]: row["rule"] for row in doc["layers"]}
    assert rules["dense2"] == "epsilon" and rules["dense1"] == rules["conv1"] == "zplus"
    assert doc["params"]["last"] == "epsilon" and doc["params"]["first"] is None
    check_ledger_rows(doc["layers"])
    text = run("lrp", "--task", "blobs8x8", "--composite", "epsilon-plus-flat", "--last-rule", "alpha-beta", "-q")
    assert text.exit_code == 0 and "last layer dense2: alpha-beta" in " ".join(text.stdout.split())
    # --eps is read by the last layer's rule only: refused without it
    refused = run("lrp", "--task", "blobs8x8", "--rule", "zplus", "--eps", "0.05")
    assert refused.exit_code == 2 and "--eps is not used" in refused.stderr
    bad = run("lrp", "--last-rule", "flat")
    assert bad.exit_code == 2 and "--last-rule" in bad.stderr and bad.stderr.strip().count("\n") == 0


def test_rule_settings_are_judged_on_the_graph_the_walk_uses(run, tmp_path):
    pytest.importorskip("onnx")
    from .onnx_fixtures import FIXTURES, reference, tool_input

    for name, args, node, rule in (
        ("keras_nhwc", ["--composite", "epsilon-plus", "--eps", "0.05"], "MatMul+Add", "epsilon"),  # a dense layer
        ("normalised", ["--pool-rule", "proportional"], "MaxPool", "proportional"),
    ):
        np.save(tmp_path / "x.npy", tool_input(name, reference(name)["x"])[0])
        result, doc = run_json(run, "--model", FIXTURES / f"{name}.onnx", "--input", tmp_path / "x.npy", *args)
        assert result.exit_code == 0, (name, result.stderr)
        assert {row["type"]: row["rule"] for row in doc["layers"]}[node] == rule
    text = run(
        "lrp", "--model", FIXTURES / "normalised.onnx", "--input", tmp_path / "x.npy", "--pool-rule", "proportional"
    )
    assert text.exit_code == 0 and "max pooling proportional" in " ".join(text.stdout.split())  # the header names it


def test_target_and_input_from_stdin(run):
    sample = run("sample", "--task", "blobs6x6", "--label", "1", "--noise", "0.1", "--seed", "3")
    assert sample.exit_code == 0
    result = run("lrp", "--input", "-", "--format", "json", "--target", "0", "--top-k", "3", input=sample.stdout_bytes)
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["label"] is None and doc["source"] == "stdin" and doc["target"] == 0
    assert doc["prediction"]["class"] == 1 and len(doc["top_k"]) == 3
    x = np.load(io.BytesIO(sample.stdout_bytes))
    np.testing.assert_allclose(doc["input"], x)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--alpha", "0.5"], "--alpha"),
        (["--eps", "0"], "--eps"),
        (["--eps", "-1e-3"], "--eps"),
        (["--eps", "nan"], "--eps"),
        (["--gamma", "-0.1"], "--gamma"),
        (["--max-residual", "-1"], "--max-residual"),
        (["--rule", "zminus"], "--rule"),
        (["--target", "5"], "out of range"),
        (["--top-k", "0"], "--top-k"),
        (["--compare", "--rule", "gamma"], "not both"),
        (["--composite", "epsilon-bogus"], "--composite"),
        (["--composite", "epsilon-plus", "--rule", "gamma"], "not both"),
        (["--composite", "epsilon-plus", "--compare"], "not both"),
        (["--first-rule", "zbox", "--low", "1", "--high", "0"], "--low must be below --high"),
        (["--first-rule", "zbox", "--low", "nan"], "--low"),
        (["--first-rule", "zbox", "--low", "0.5"], "outside the zbox bounds"),
        (["--first-rule", "zbox", "--low", "5"], "low < high"),
        (["--low", "0"], "zbox rule, which is not in use"),
        (["--pool-rule", "average"], "--pool-rule"),
        (["--first-rule", "gamma"], "--first-rule"),
    ],
)
def test_bad_options_are_one_line_and_exit_2(run, args, needle):
    result = run("lrp", *args)
    assert result.exit_code == 2
    assert result.stderr.strip().count("\n") == 0 and needle in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


@pytest.mark.parametrize("content", [b"", b"garbage", b"\x93NUMPY\x01\x00broken"])
def test_corrupt_input_is_one_line_and_exit_2(run, tmp_path, content):
    path = tmp_path / "x.npy"
    path.write_bytes(content)
    result = run("lrp", "--input", path)
    assert result.exit_code == 2 and result.stderr.strip().count("\n") == 0 and str(path) in result.stderr
    piped = run("lrp", "--input", "-", input=content)
    assert piped.exit_code == 2 and piped.stderr.strip().count("\n") == 0


def test_wrong_input_shape_is_refused(run, tmp_path):
    path = tmp_path / "x.npy"
    np.save(path, np.zeros((2, 8, 8)))
    result = run("lrp", "--input", path)
    assert result.exit_code == 2 and "does not match" in result.stderr
