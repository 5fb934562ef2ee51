"""`saliency-cli saliency`: the JSON document, the text report, exit codes and bad input."""

from __future__ import annotations

import io
import json
import re

import numpy as np
import pytest

from saliency_cli.attribution import integrated_gradients, saliency, smoothgrad
from saliency_cli.methods.gradients import noise_sigma
from saliency_cli.nn import ops
from saliency_cli.render.heatmap import ASCII_RAMP
from saliency_cli.tasks import TASKS


def _doc(run, *args, **kwargs):
    result = run("saliency", "--format", "json", *args, **kwargs)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)  # the whole of stdout is one JSON document


def _npy(array) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.asarray(array), allow_pickle=False)
    return buf.getvalue()


def test_json_has_the_documented_schema(run):
    doc = _doc(run)
    assert doc["command"] == "saliency"
    assert set(doc["model"]) == {"path", "task", "sha256"} and doc["model"]["task"] == "blobs8x8"
    assert np.shape(doc["input"]) == (2, 8, 8)
    assert doc["label"] == 0 and doc["score"] == "logit" and doc["weights_unchanged"] is True
    assert set(doc["prediction"]) >= {"class", "scores", "probabilities"}
    assert set(doc["methods"]) == {"vanilla", "smoothgrad", "integrated_gradients"}
    vanilla, sg, ig = (doc["methods"][k] for k in ("vanilla", "smoothgrad", "integrated_gradients"))
    assert set(vanilla) >= {"attribution", "signed", "mass", "top_k"}
    assert set(sg) >= {"attribution", "mass", "samples", "sigma"}
    assert set(ig) >= {"attribution", "mass", "steps", "quadrature", "baseline", "completeness"}
    assert set(ig["completeness"]) >= {"sum", "score_input", "score_baseline", "delta", "gap_abs", "gap_rel"}
    assert len(vanilla["top_k"]) == 8 and set(vanilla["top_k"][0]) == {"channel", "x", "y", "value"}
    for method in (vanilla, sg, ig):
        assert np.shape(method["attribution"]) == (2, 8, 8) and len(method["mass"]) == 2
    assert (sg["samples"], ig["steps"], ig["quadrature"], ig["baseline"]) == (16, None, "exact", "zero")
    assert ig["pieces"] > 1 and ig["completeness"]["gap_rel"] <= 1e-9


def test_json_values_match_the_python_api(run, shipped):
    net = shipped("blobs8x8")
    x, _, _ = TASKS["blobs8x8"].probe("clean")
    doc = _doc(run)
    z = net.predict_logits(x[None])[0]
    assert doc["prediction"]["class"] == int(z.argmax()) == doc["target"]
    np.testing.assert_allclose(doc["prediction"]["scores"], z)
    np.testing.assert_allclose(doc["prediction"]["probabilities"], ops.softmax(z[None])[0])
    vanilla = doc["methods"]["vanilla"]
    signed = saliency(net, x, abs=False)
    np.testing.assert_allclose(vanilla["signed"], signed)
    np.testing.assert_allclose(vanilla["attribution"], np.abs(signed))
    np.testing.assert_allclose(vanilla["mass"], np.abs(signed).sum(axis=(1, 2)))
    values = [p["value"] for p in vanilla["top_k"]]
    assert values == sorted(values, reverse=True) and values[0] == pytest.approx(np.abs(signed).max())
    for p in vanilla["top_k"]:
        assert abs(signed[p["channel"], p["y"], p["x"]]) == pytest.approx(p["value"])
    sg = doc["methods"]["smoothgrad"]
    assert sg["sigma"] == pytest.approx(float(noise_sigma(x, 0.15)))
    np.testing.assert_allclose(sg["attribution"], smoothgrad(net, x, samples=16, seed=0))
    ig_doc = doc["methods"]["integrated_gradients"]
    ig, c = integrated_gradients(net, x, exact=True, return_completeness=True)  # the CLI's default
    np.testing.assert_allclose(ig_doc["attribution"], ig)
    assert ig_doc["completeness"]["gap_rel"] == pytest.approx(float(c.gap_rel), abs=1e-15)
    assert ig_doc["pieces"] == int(c.pieces)
    assert ig_doc["completeness"]["score_input"] == pytest.approx(z[doc["target"]])


@pytest.mark.parametrize("probe", ["clean", "noisy"])
def test_default_completeness_gap_is_ok_on_both_probes(probe, run):
    completeness = _doc(run, "--probe", probe)["methods"]["integrated_gradients"]["completeness"]
    assert completeness["gap_rel"] < 0.05 and completeness["verdict"] == "OK"


def test_probability_score_explains_the_softmax_output(run):
    doc = _doc(run, "--score", "probability", "--methods", "ig")
    assert doc["score"] == "probability" and set(doc["methods"]) == {"integrated_gradients"}
    completeness = doc["methods"]["integrated_gradients"]["completeness"]
    assert completeness["score_input"] == pytest.approx(doc["prediction"]["probabilities"][doc["target"]])


def test_forced_target_and_options_reach_the_report(run, tmp_path):
    base = tmp_path / "b.npy"
    base.write_bytes(_npy(np.full((2, 8, 8), 0.05)))
    doc = _doc(
        run, "-c", "1", "--sigma", "0.2", "--samples", "3", "--steps", "7", "--quadrature", "gauss-legendre",
        "--baseline", base, "--top-k", "3", "--batch-size", "4",
    )  # fmt: skip
    assert doc["target"] == 1 and doc["prediction"]["class"] == 0
    ig = doc["methods"]["integrated_gradients"]
    assert (ig["steps"], ig["quadrature"], ig["baseline"]) == (7, "gauss-legendre", str(base))
    assert (doc["methods"]["smoothgrad"]["samples"], doc["methods"]["smoothgrad"]["sigma"]) == (3, 0.2)
    assert len(doc["methods"]["vanilla"]["top_k"]) == 3


def test_input_from_stdin_pipeline(run):
    probe = run("sample", "--label", "1", "--noise", "0.3", "--seed", "2")
    doc = _doc(run, "--input", "-", input=probe.stdout_bytes)
    x = np.load(io.BytesIO(probe.stdout_bytes))
    np.testing.assert_array_equal(doc["input"], x)
    assert doc["label"] is None and doc["prediction"]["class"] == 1


def test_other_model_file(run):
    doc = _doc(run, "--model", "models/blobs6x6.npz", "--probe", "noisy")
    assert doc["model"]["task"] == "blobs6x6" and np.shape(doc["input"]) == (1, 6, 6)
    assert doc["target"] == doc["label"] == 1


def test_max_gap_sets_exit_code_1_after_the_report(run):
    loose = run("saliency", "--format", "json", "--steps", "2", "--quadrature", "left", "--max-gap", "0.05")
    assert loose.exit_code == 1
    gap = json.loads(loose.stdout)["methods"]["integrated_gradients"]["completeness"]["gap_rel"]
    assert gap > 0.05 and "exceeds --max-gap" in loose.stderr
    assert run("saliency", "--format", "json", "--max-gap", "0.05").exit_code == 0
    text = run("saliency", "--steps", "2", "--quadrature", "left", "--max-gap", "0.05")
    assert text.exit_code == 1 and "LARGE" in text.stdout


def test_text_report_has_every_section_in_plain_ascii_when_piped(run):
    result = run("saliency", "--probe", "clean")
    assert result.exit_code == 0
    out = result.stdout
    assert "\x1b[" not in out  # not a terminal: no colour codes
    for part in (
        "blobs8x8", "clean (seed 0)", "true label", "predicted", "logit", "input, channel 0",
        "input, channel 1", "vanilla |grad|", "SmoothGrad", "Integrated Gradients", "attribution mass",
        "top 8 pixels", "IG completeness", "OK", "weights unchanged",
    ):  # fmt: skip
        assert part in out, part
    assert out.index("input, channel 0") < out.index("vanilla |grad|")
    assert "@@" in out and set(ASCII_RAMP[1:]) & set(out)


def _has_colour(text: str) -> bool:
    """Whether any ANSI SGR sequence sets a foreground or background colour (bold/dim do not count)."""
    for params in re.findall(r"\x1b\[([0-9;]*)m", text):
        codes = [int(p) for p in params.split(";") if p]
        if any(30 <= c <= 49 or 90 <= c <= 107 for c in codes):
            return True
    return False


def test_no_color_and_no_color_env_keep_ascii_on_a_terminal(run, monkeypatch):
    from rich.console import Console

    monkeypatch.setattr(Console, "is_terminal", property(lambda self: True))
    coloured = run("saliency", "--methods", "vanilla")
    assert _has_colour(coloured.stdout) and "@@" not in coloured.stdout  # colour cells on a (pretend) terminal
    for result in (run("saliency", "--methods", "vanilla", "--no-color"), run("saliency", env={"NO_COLOR": "1"})):
        assert result.exit_code == 0
        assert not _has_colour(result.stdout) and "@@" in result.stdout


def test_methods_subset_in_text(run):
    result = run("saliency", "--methods", "smoothgrad")
    assert result.exit_code == 0
    assert "SmoothGrad" in result.stdout and "IG completeness" not in result.stdout and "top 8" not in result.stdout


def _bad_cases(tmp_path):
    wrong_shape = tmp_path / "shape.npy"
    wrong_shape.write_bytes(_npy(np.zeros((1, 8, 8))))
    nan = tmp_path / "nan.npy"
    nan.write_bytes(_npy(np.full((2, 8, 8), np.nan)))
    text = tmp_path / "text.npy"
    text.write_text("not an array")
    return {
        "wrong shape": (["--input", wrong_shape], None, "does not match"),
        "NaN": (["--input", nan], None, "NaN"),
        "not .npy": (["--input", text], None, "not a .npy"),
        "missing file": (["--input", tmp_path / "none.npy"], None, "no such file"),
        "empty stdin": (["--input", "-"], b"", "empty"),
        "target out of range": (["--target", "2"], None, "out of range"),
        "negative sigma": (["--sigma", "-0.1"], None, "--sigma"),
        "negative noise": (["--noise-frac", "-1"], None, "--noise-frac"),
        "zero steps": (["--steps", "0"], None, "--steps"),
        "zero samples": (["--samples", "0"], None, "--samples"),
        "bad quadrature": (["--quadrature", "simpson"], None, "--quadrature"),
        "bad method": (["--methods", "vanilla,lime"], None, "--methods"),
        "bad baseline file": (["--baseline", tmp_path / "nope.npy"], None, "no such file"),
        "baseline wrong shape": (["--baseline", wrong_shape], None, "--baseline"),
        "sigma and noise-frac": (["--sigma", "0.1", "--noise-frac", "0.2"], None, "not both"),
        "max-gap without ig": (["--methods", "vanilla", "--max-gap", "0.1"], None, "ig"),
        "both from stdin": (["--input", "-", "--baseline", "-"], _npy(np.zeros((2, 8, 8))), "standard input"),
    }


@pytest.mark.parametrize(
    "case",
    [
        "wrong shape", "NaN", "not .npy", "missing file", "empty stdin", "target out of range", "negative sigma",
        "negative noise", "zero steps", "zero samples", "bad quadrature", "bad method", "bad baseline file",
        "baseline wrong shape", "sigma and noise-frac", "max-gap without ig", "both from stdin",
    ],
)  # fmt: skip
@pytest.mark.parametrize("fmt", ["text", "json"])
def test_bad_input_is_one_clear_line_and_exit_2(case, fmt, run, tmp_path):
    args, stdin, words = _bad_cases(tmp_path)[case]
    result = run("saliency", "--format", fmt, *args, input=stdin)
    assert result.exit_code == 2, result.stdout
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error")]
    assert len(errors) == 1 and words in errors[0], result.stderr


def test_weights_file_is_untouched(run):
    with open("models/blobs8x8.npz", "rb") as fh:
        before = fh.read()
    doc = _doc(run)
    with open("models/blobs8x8.npz", "rb") as fh:
        assert fh.read() == before
    import hashlib

    assert doc["model"]["sha256"] == hashlib.sha256(before).hexdigest() and doc["weights_unchanged"] is True
