"""Batches for `lrp`, `cam` and `features`: (N, C, H, W) input, --targets, JSON Lines, the summary table,
and --fields/--compact on every explaining command. Each probe of a batch gets what the single-probe
command gives it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from saliency_cli.attribution import lrp
from saliency_cli.methods import cam as C
from saliency_cli.render.schema import STAMP_KEYS
from saliency_cli.reports import cam as cam_reports_module
from saliency_cli.reports import lrp as lrp_reports_module
from saliency_cli.reports.cam import FIELDS as CAM_FIELDS
from saliency_cli.reports.features import FIELDS as FEATURES_FIELDS
from saliency_cli.reports.lrp import FIELDS as LRP_FIELDS
from saliency_cli.reports.saliency import FIELDS as SALIENCY_FIELDS
from saliency_cli.tasks import TASKS

from .cli_io import json_lines, npy_bytes, write_files

N = 5


@pytest.fixture
def batches(tmp_path):
    """task -> (path of an (N, C, H, W) batch, the batch, its labels), drawn by the task generator."""
    out = {}
    for task in ("blobs6x6", "blobs8x8", "blobs8x8-gap"):
        x, y, _ = TASKS[task].sample(N, np.random.default_rng(3), noise=0.3)
        path = tmp_path / f"{task}.npy"
        path.write_bytes(npy_bytes(x))
        out[task] = (path, x, y)
    return out


def _single(run, tmp_path, command, x, *args) -> dict:
    path = tmp_path / "one.npy"
    path.write_bytes(npy_bytes(x))
    result = run(command, "--input", path, "--format", "json", *args)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def _close(a, b):
    np.testing.assert_allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float), rtol=1e-12, atol=1e-14)


LRP_ARGS = [
    ["--rule", "gamma"],
    ["--compare"],
    ["--task", "blobs8x8", "--composite", "epsilon-gamma-box"],
    ["--task", "blobs8x8", "--rule", "alpha-beta", "--first-rule", "zbox", "--pool-rule", "proportional"],
]


@pytest.mark.parametrize("args", LRP_ARGS, ids=lambda a: " ".join(a))
def test_lrp_jsonl_lines_equal_the_single_probe_documents(args, batches, run, tmp_path):
    task = args[args.index("--task") + 1] if "--task" in args else "blobs6x6"
    path, x, _ = batches[task]
    docs = json_lines(run("lrp", "--input", path, "--format", "jsonl", "--batch-size", "2", *args))
    assert len(docs) == N
    for i, doc in enumerate(docs):
        one = _single(run, tmp_path, "lrp", x[i], *args)
        assert doc["source"] == f"{path}[{i}]"
        assert (doc["target"], doc["prediction"]["class"], doc["params"]) == (
            one["target"],
            one["prediction"]["class"],
            one["params"],
        )
        runs = doc["rules"].items() if "--compare" in args else [(None, doc)]
        for name, r in runs:
            r1 = one if name is None else one["rules"][name]
            _close(r["relevance"], r1["relevance"])
            assert r["top_k"][0]["x"] == r1["top_k"][0]["x"] and r["top_k"][0]["y"] == r1["top_k"][0]["y"]
            for key in ("logit", "input", "bias", "stabiliser", "dropped"):
                assert r["totals"][key] == pytest.approx(r1["totals"][key], rel=1e-12, abs=1e-13)
            assert [row["rule"] for row in r["layers"]] == [row["rule"] for row in r1["layers"]]
            assert r["max_unexplained"] < 1e-12


def test_lrp_targets_are_honoured(batches, run, tmp_path, shipped):
    path, x, y = batches["blobs6x6"]
    targets = tmp_path / "t.txt"
    targets.write_text("\n".join(str(1 - v) for v in y))
    docs = json_lines(run("lrp", "--input", path, "--targets", targets, "--format", "jsonl", "--rule", "gamma"))
    net = shipped("blobs6x6")
    assert [d["target"] for d in docs] == [1 - int(v) for v in y]
    for i, doc in enumerate(docs):
        relevance, _ = lrp(net, x[i], target=1 - int(y[i]), rule="gamma")
        _close(doc["relevance"], relevance)


def test_lrp_walks_the_batch_in_chunks_of_batch_size(batches, run, monkeypatch):
    calls = []
    real = lrp_reports_module.lrp

    def counting(net, x, **kwargs):
        calls.append(len(x))
        return real(net, x, **kwargs)

    monkeypatch.setattr(lrp_reports_module, "lrp", counting)
    path, _, _ = batches["blobs6x6"]
    assert run("lrp", "--input", path, "--format", "jsonl", "--batch-size", "2").exit_code == 0
    assert calls == [2, 2, 1]
    calls.clear()
    assert run("lrp", "--input", path, "--compare", "--format", "json").exit_code == 0
    assert calls == [N, N, N]  # one walk per rule, all probes together


CAM_ARGS = [
    ["--methods", "gradcam"],
    ["--methods", "gradcam++", "--layer", "conv2"],
    ["--methods", "cam"],
    ["--methods", "gradcam", "--smooth", "4", "--seed", "2"],
    ["--methods", "gradcam++", "--smooth", "3", "--sigma", "0.1"],
]


@pytest.mark.parametrize("args", CAM_ARGS, ids=lambda a: " ".join(a))
def test_cam_jsonl_lines_equal_the_single_probe_documents(args, batches, run, tmp_path):
    path, x, _ = batches["blobs8x8-gap"]
    docs = json_lines(run("cam", "--input", path, "--format", "jsonl", "--batch-size", "7", *args))
    assert len(docs) == N
    for i, doc in enumerate(docs):
        one = _single(run, tmp_path, "cam", x[i], *args)
        for key in ("target", "layer", "maps_layer", "peak"):
            if key == "peak":
                for where in ("layer", "input"):
                    p, p1 = doc[key][where], one[key][where]
                    assert (p["x"], p["y"], p["in_blob"]) == (p1["x"], p1["y"], p1["in_blob"])
                    assert p["value"] == pytest.approx(p1["value"], rel=1e-12)
            else:
                assert doc[key] == one[key], key
        for key in ("map_raw", "map"):
            _close(doc[key], one[key])
        for name in ("nearest", "bilinear"):
            _close(doc["upsampled"][name], one["upsampled"][name])
        if one["channel_weights"] is None:
            assert doc["channel_weights"] is None
            assert doc["smooth"]["sigma"] == pytest.approx(one["smooth"]["sigma"], rel=1e-15)
        else:
            _close(doc["channel_weights"], one["channel_weights"])


def test_cam_targets_are_honoured_and_the_batch_is_one_pass(batches, run, tmp_path, shipped, monkeypatch):
    path, x, y = batches["blobs8x8-gap"]
    targets = tmp_path / "t.npy"
    targets.write_bytes(npy_bytes((1 - y).astype(np.int64)))
    calls = []
    real = C.class_maps

    def counting(net, inputs, *args, **kwargs):
        calls.append(len(inputs))
        return real(net, inputs, *args, **kwargs)

    monkeypatch.setattr(cam_reports_module.C, "class_maps", counting)
    docs = json_lines(run("cam", "--input", path, "--targets", targets, "--format", "jsonl", "--methods", "gradcam++"))
    assert calls == [N]
    net = shipped("blobs8x8-gap")
    assert [d["target"] for d in docs] == [1 - int(v) for v in y]
    for i, doc in enumerate(docs):
        _close(doc["map"], real(net, x[i], 1 - int(y[i]), "gradcam++").map[0])
    calls.clear()
    assert run("cam", "--input", path, "--smooth", "4", "--batch-size", "8", "--format", "json").exit_code == 0
    assert calls == [2, 8, 2, 8, 1, 4]  # two probes per chunk: their clean maps, then their 4 copies each


def test_features_jsonl_lines_equal_the_single_probe_documents(batches, run, tmp_path, shipped):
    path, x, _ = batches["blobs8x8-gap"]
    docs = json_lines(run("features", "--input", path, "--layer", "conv2", "--format", "jsonl", "--batch-size", "3"))
    assert len(docs) == N
    net = shipped("blobs8x8-gap")
    for i, doc in enumerate(docs):
        one = _single(run, tmp_path, "features", x[i], "--layer", "conv2")
        assert doc["layer"] == one["layer"] and doc["shape"] == one["shape"] == [16, 8, 8]
        _close(doc["maps"], one["maps"])
        _close(doc["ranges"], one["ranges"])
        net.forward(x[i][None])
        _close(doc["maps"], net.outputs[net.index("conv2")][0])


@pytest.mark.parametrize(
    ("command", "task", "title"),
    [("lrp", "blobs6x6", "LRP over 5 probes"), ("cam", "blobs8x8-gap", "gradcam over 5 probes"),
     ("features", "blobs8x8-gap", "conv1 over 5 probes")],
)  # fmt: skip
def test_batch_text_is_one_summary_row_per_probe(command, task, title, batches, run):
    result = run(command, "--input", batches[task][0], "--no-color")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("model ") and title in lines  # what was run comes before the rows
    assert command == "features" or "model weights unchanged" in result.stdout
    rows = [r for r in map(str.split, lines) if len(r) > 2 and r[0].isdigit() and r[1].isdigit()]
    assert [int(r[0]) for r in rows] == list(range(N))
    first = next(i for i, line in enumerate(lines) if line.split()[:1] == ["0"])
    assert lines.index(title) < first and lines[0] not in lines[first:]
    assert max(len(line) for line in lines) <= 80


def test_cam_summary_counts_peaks_on_the_blob(batches, run):
    path, _, _ = batches["blobs8x8-gap"]
    result = run("cam", "--input", path, "--no-color")
    docs = json_lines(run("cam", "--input", path, "--format", "jsonl"))
    on = sum(d["peak"]["input"]["in_blob"] for d in docs)
    assert f"{on} of {N} input peaks on the explained class's blob" in " ".join(result.stdout.split())


def test_lrp_batch_max_residual_failure_names_a_probe(batches, run):
    path, _, _ = batches["blobs6x6"]
    result = run("lrp", "--input", path, "--max-residual", "0", "--format", "jsonl")
    assert result.exit_code == 1 and len(result.stdout.splitlines()) == N
    assert result.stderr.count("\n") == 1  # one line however long the path: never folded at a console's width
    assert f"{path}[" in result.stderr and "exceeds --max-residual 0" in result.stderr


# -- --fields and --compact -------------------------------------------------------------------------

COMMANDS = {
    "saliency": ("blobs8x8", SALIENCY_FIELDS, ["--methods", "vanilla"]),
    "lrp": ("blobs6x6", LRP_FIELDS, []),
    "cam": ("blobs8x8-gap", CAM_FIELDS, []),
    "features": ("blobs8x8-gap", FEATURES_FIELDS, []),
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_fields_keep_only_the_named_keys(command, batches, run):
    task, _, extra = COMMANDS[command]
    path = batches[task][0]
    docs = json_lines(run(command, "--input", path, "--format", "jsonl", "--fields", "source,prediction", *extra))
    assert len(docs) == N and all(list(d) == ["version", "schema", "source", "prediction", "index"] for d in docs)
    one = json.loads(run(command, "--format", "json", "--fields", " prediction ,command", *extra).stdout)
    assert list(one) == ["version", "schema", "command", "prediction"]
    named = json.loads(run(command, "--format", "json", "--fields", "schema,source", *extra).stdout)
    assert list(named) == ["version", "schema", "source"]


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_compact_drops_the_model_and_input_blocks(command, batches, run):
    task, _, extra = COMMANDS[command]
    path = batches[task][0]
    full = json_lines(run(command, "--input", path, "--format", "jsonl", *extra))
    compact = json_lines(run(command, "--input", path, "--format", "jsonl", "--compact", *extra))
    for f, c in zip(full, compact, strict=True):
        assert {"model", "input"} <= set(f) and set(c) == set(f) - {"model", "input"}
        assert c == {k: v for k, v in f.items() if k in c}
    wrapped = json.loads(run(command, "--input", path, "--format", "json", "--compact", *extra).stdout)
    assert list(wrapped) == ["version", "schema", "command", "model", "probes"]
    assert wrapped["model"] == full[0]["model"]
    assert wrapped["probes"] == compact
    both = json_lines(
        run(command, "--input", path, "--format", "jsonl", "--compact", "--fields", "model,source", *extra)
    )
    assert all(list(d) == ["version", "schema", "source", "index"] for d in both)


@pytest.mark.parametrize(
    ("command", "args"),
    [
        ("saliency", ["--convergence", "--methods", "ig"]),
        ("saliency", ["--smooth", "2", "--methods", "ig"]),
        ("lrp", []),
        ("lrp", ["--compare"]),
        ("cam", ["--smooth", "2"]),
        ("features", []),
    ],
)
def test_every_document_key_is_a_known_field(command, args, run):
    doc = json.loads(run(command, "--format", "json", *args).stdout)
    known = {*COMMANDS[command][1], *STAMP_KEYS}
    assert set(doc) <= known, set(doc) - known


# -- bad input ----------------------------------------------------------------------------------------


def _bad_cases(tmp_path, batches):
    f = write_files(
        tmp_path,
        short_txt="0 1",
        frac_txt="0 1 0.5 1 0",
        words_txt="zero one",
        two_npy=npy_bytes(np.zeros((N, 1), int)),
    )
    short, frac, words, two_d = f["short_txt"], f["frac_txt"], f["words_txt"], f["two_npy"]
    return {
        "too few targets": (["--targets", short], "2 targets for 5 probes"),
        "fractional targets": (["--targets", frac], "integers"),
        "words as targets": (["--targets", words], "not a .npy array nor a text list"),
        "2-D targets": (["--targets", two_d], "1-D array"),
        "target and targets": (["-c", "1", "--targets", short], "not both"),
        "fields with text": (["--format", "text", "--fields", "source"], "add --format json"),
        "unknown field": (["--fields", "source,nope"], "--fields nope: no such key"),
        "empty fields": (["--fields", ","], "--fields"),
    }


@pytest.mark.parametrize("command", ["lrp", "cam"])
@pytest.mark.parametrize(
    "case",
    ["too few targets", "fractional targets", "words as targets", "2-D targets", "target and targets",
     "fields with text", "unknown field", "empty fields"],
)  # fmt: skip
def test_bad_batch_input_is_one_line_and_exit_2(command, case, batches, tmp_path, run):
    task = "blobs6x6" if command == "lrp" else "blobs8x8-gap"
    args, words = _bad_cases(tmp_path, batches)[case]
    result = run(command, "--input", batches[task][0], "--format", "jsonl", *args)
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and words in result.stderr, result.stderr


@pytest.mark.parametrize("command", ["lrp", "cam", "features"])
def test_a_batch_of_the_wrong_shape_or_targets_without_a_batch_is_one_line_and_exit_2(command, batches, tmp_path, run):
    wrong = batches["blobs6x6" if command != "lrp" else "blobs8x8"][0]
    result = run(command, "--input", wrong)
    assert result.exit_code == 2 and "does not match the model's input" in result.stderr
    assert result.stderr.count("\n") == 1 and result.stdout == ""
    if command != "features":
        targets = tmp_path / "t.txt"
        targets.write_text("0")
        result = run(command, "--targets", targets)
        assert result.exit_code == 2 and "--targets needs a batch" in result.stderr
        assert result.stderr.count("\n") == 1


def test_cam_with_several_methods_gives_one_line_per_probe_holding_each_method(batches, run):
    path, _, _ = batches["blobs8x8-gap"]
    both = json_lines(run("cam", "--input", path, "--methods", "gradcam++,cam", "--format", "jsonl"))
    assert len(both) == N
    for method in ("cam", "gradcam++"):
        alone = json_lines(run("cam", "--input", path, "--methods", method, "--format", "jsonl"))
        for doc, one in zip(both, alone, strict=True):
            (inner,) = [d for d in doc["methods"] if d["method"] == method]
            # NOTE: a method's part of the document is not a document: "version" and "schema" head the line.
            assert inner == {k: v for k, v in one.items() if k not in ("index", *STAMP_KEYS)}
    assert [d["method"] for d in both[0]["methods"]] == ["cam", "gradcam++"]
    small = json_lines(
        run("cam", "--input", path, "--methods", "cam,gradcam", "--format", "jsonl", "--compact", "--fields", "peak")
    )
    assert all(list(d) == ["version", "schema", "command", "methods", "index"] for d in small)
    assert all(list(m) == ["peak"] for d in small for m in d["methods"])
    text = run("cam", "--input", path, "--methods", "cam,gradcam", "--no-color")
    assert "cam over 5 probes" in text.stdout and "gradcam over 5 probes" in text.stdout


@pytest.mark.parametrize("shown", [False, True], ids=["piped", "terminal"])
@pytest.mark.parametrize(
    ("command", "task", "args"),
    [("saliency", "blobs8x8", ["--methods", "vanilla"]), ("lrp", "blobs6x6", []),
     ("cam", "blobs8x8-gap", ["--methods", "cam,gradcam"]), ("features", "blobs8x8-gap", [])],
)  # fmt: skip
def test_long_batches_report_progress_and_finish(command, task, args, shown, run, tmp_path, monkeypatch):
    """Batches above the progress threshold, with the bar drawn (as on a terminal) or not (piped)."""
    from saliency_cli.cli import common

    monkeypatch.setattr(common, "show_progress", lambda console: shown)
    x, _, _ = TASKS[task].sample(130, np.random.default_rng(1), noise=0.3)
    path = tmp_path / "long.npy"
    path.write_bytes(npy_bytes(x))
    docs = json_lines(run(command, "--input", path, "--format", "jsonl", "--batch-size", "50", "--compact", *args))
    assert len(docs) == 130
