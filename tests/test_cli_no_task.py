"""A model that names no task (trained on a user's --data, or imported): text output says "no task", never
"task None", and the refusals that need a task say the model names none."""

from __future__ import annotations

import json

import pytest


@pytest.fixture(scope="module")
def untasked(tmp_path_factory):
    """(a model trained with --data, so naming no task; a probe for it), as paths."""
    from click.testing import CliRunner

    from saliency_cli.cli import cli

    folder = tmp_path_factory.mktemp("untasked")
    runner = CliRunner()
    steps = [
        ["sample", "--count", "40", "--noise", "0.2", "--out", folder / "x.npy", "--labels-out", folder / "y.npy"],
        ["sample", "--out", folder / "p.npy"],
        ["train", "--data", folder / "x.npy", "--labels", folder / "y.npy", "--arch", "conv4:3:p1,relu,gap,dense2"],
    ]
    steps[-1] += ["--epochs", "2", "--out", folder / "m.npz"]
    for args in steps:
        result = runner.invoke(cli, [str(a) for a in args], catch_exceptions=False)
        assert result.exit_code == 0, result.stderr
    return folder / "m.npz", folder / "p.npy"


def test_the_model_names_no_task(untasked, run):
    model, _ = untasked
    doc = json.loads(run("models", model, "--format", "json").stdout)
    assert doc["model"]["task"] is None  # JSON keeps its null


@pytest.mark.parametrize(
    ("args", "first"),
    [
        (["models", "{m}"], "{m}  (no task, input 2x8x8)"),
        (["features", "--model", "{m}", "--input", "{p}"], None),
        (["cost", "--model", "{m}", "--size", "8"], "model {m}  (no task), input 2x8x8"),
        (["saliency", "--model", "{m}", "--input", "{p}", "--methods", "vanilla"], None),
        (["lrp", "--model", "{m}", "--input", "{p}"], None),
        (["cam", "--model", "{m}", "--input", "{p}"], None),
    ],
)
def test_text_output_says_no_task_and_never_none(args, first, untasked, run):
    model, probe = untasked
    result = run(*[a.format(m=model, p=probe) for a in args], "--no-color")
    assert result.exit_code == 0, result.stderr
    lines = [line.rstrip() for line in result.stdout.splitlines()]
    assert "None" not in result.stdout
    assert not any(line.split()[:1] == ["task"] for line in lines)  # the header's task row is left out
    text = " ".join(result.stdout.split())  # the lines as read, wherever the table folds them
    if first is not None:
        assert " ".join(first.format(m=model).split()) in text
    if args[0] == "features":
        assert f"model {model} (no task)" in text


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["saliency", "--model", "{m}"], "the model names no task, so it has no built-in probes; pass --input"),
        (["evaluate", "--model", "{m}"], "the model names no task, so it has no probe generator; pass --input"),
        (["cost", "--model", "{m}"], "the model names no task, so it has no built-in probe to time; pass --size"),
        (["explore", "--model", "{m}"], "the model names no task, so it has no probe generator; pass --input"),
    ],
)
def test_refusals_that_need_a_task_say_the_model_names_none(args, words, untasked, run):
    model, _ = untasked
    result = run(*[a.format(m=model) for a in args])
    assert result.exit_code == 2 and result.stderr.count("\n") == 1, result.stderr
    assert words in result.stderr and "None" not in result.stderr


def test_a_figure_heading_says_no_task(untasked, run, tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    from saliency_cli.render.figures import draw, evaluation

    model, probe = untasked
    headings = []
    real_probe, real_evaluation = draw.probe_figure_bytes, evaluation.evaluation_figure

    def probe_figure_bytes(command, reports, heading, *rest):
        headings.append(heading)
        return real_probe(command, reports, heading, *rest)

    def evaluation_figure(summary, heading, *rest):
        headings.append(heading)
        return real_evaluation(summary, heading, *rest)

    monkeypatch.setattr(draw, "probe_figure_bytes", probe_figure_bytes)
    monkeypatch.setattr(evaluation, "evaluation_figure", evaluation_figure)
    assert run("lrp", "--model", model, "--input", probe, "--figure", tmp_path / "f.png").exit_code == 0
    evaluate = ["evaluate", "--model", model, "--input", model.parent / "x.npy", "--labels", model.parent / "y.npy"]
    result = run(*evaluate, "--methods", "vanilla", "--resamples", "100", "--figure", tmp_path / "e.png")
    assert result.exit_code == 0, result.stderr
    assert len(headings) == 2 and all(f"model {model.name} (no task)" in h.splitlines()[1] for h in headings)
