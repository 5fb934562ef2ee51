"""`saliency-cli explore` from the command line: checks before the app starts, --screenshot, the extra."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from tests.svgtext import svg_lines


def test_without_textual_it_says_how_to_install_it(run, monkeypatch):
    monkeypatch.setitem(sys.modules, "textual", None)  # `import textual` now raises ImportError
    result = run("explore", "--screenshot", "never.svg")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and "pip install 'saliency-cli[explore]'" in result.stderr


def test_help_does_not_import_textual():
    code = (
        "import sys\nfrom saliency_cli.cli import cli\n"
        "for args in (['--help'], ['explore', '--help']):\n"
        "    try:\n        cli.main(args, prog_name='saliency-cli', standalone_mode=False)\n"
        "    except SystemExit:\n        pass\n"
        "print('textual' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "explore" in out and out.strip().endswith("False")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "no/such.npz"], "no such file"),
        (["--labels", "l.txt"], "give --input too"),
        (["--index", "64"], "--index 64 is out of range"),
        (["--target", "2"], "--target 2 is out of range"),
        (["--rule", "bogus"], "choose a rule or composite"),
        (["--screenshot", "x.png"], "ending in .svg"),
        (["--size", "160x45"], "--size sets the screen of --screenshot"),
        (["--screenshot", "x.svg", "--size", "10x10"], "WIDTHxHEIGHT"),
        (["--input", "-"], "which the app needs for the keys"),
        ([], "explore is interactive"),  # the test runner's stdin and stdout are not terminals
    ],
)
def test_bad_input_fails_before_the_app_starts(args, message, run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run("explore", *args)
    assert result.exit_code == 2 and result.stdout == "", result.stderr
    assert result.stderr.count("\n") == 1 and message in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_wrong_shapes_and_labels_are_refused(run, tmp_path):
    bad = tmp_path / "bad.npy"
    np.save(bad, np.zeros((3, 1, 8, 8)))
    result = run("explore", "--input", bad, "--screenshot", tmp_path / "s.svg")
    assert result.exit_code == 2 and "does not match the model's input (2, 8, 8)" in result.stderr
    good = tmp_path / "good.npy"
    np.save(good, np.zeros((3, 2, 8, 8)))
    labels = tmp_path / "labels.txt"
    labels.write_text("0 1\n")
    result = run("explore", "--input", good, "--labels", labels, "--screenshot", tmp_path / "s.svg")
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert not (tmp_path / "s.svg").exists()


def test_screenshot_draws_the_first_screen_once_computed_and_repeats_byte_for_byte(run, tmp_path):
    args = ["explore", "--task", "blobs6x6", "--probes", "4", "--index", "1", "--rule", "gamma", "--size", "120x40"]
    first, second = tmp_path / "a.svg", tmp_path / "b.svg"
    result = run(*args, "--screenshot", first)
    assert result.exit_code == 0, result.stderr
    assert run(*args, "--screenshot", second).exit_code == 0
    assert first.read_bytes() == second.read_bytes()
    text = "\n".join(svg_lines(first.read_text()))
    assert "sample 1 of 0..3" in text and "LRP gamma" in text and "IG gap" in text and "unexplained" in text


def test_a_screenshot_over_another_file_keeps_it_and_says_so(run, tmp_path):
    target = tmp_path / "mine.svg"
    target.write_text("mine")
    result = run("explore", "--task", "blobs6x6", "--probes", "2", "--size", "80x24", "--screenshot", target)
    assert result.exit_code == 0, result.stderr
    backup = tmp_path / "mine.svg.bak"
    assert backup.read_text() == "mine" and target.read_text().startswith("<svg")
    assert f"the previous file kept as {backup}" in result.stderr


# Arabic-Indic digits, then sizes out of range
@pytest.mark.parametrize("size", ["\u0668\u0660x45", "80x\u0664\u0665", "8x45", "80x450"])
def test_a_screen_size_in_other_digits_or_out_of_range_is_refused(run, tmp_path, size):
    result = run("explore", "--size", size, "--screenshot", tmp_path / "s.svg")
    assert result.exit_code == 2 and "give WIDTHxHEIGHT" in result.stderr and not (tmp_path / "s.svg").exists()


def test_screenshot_of_a_users_batch_with_labels(run, tmp_path):
    x = np.zeros((2, 2, 8, 8))
    x[0, 0, :3, :3] = 1.0
    x[1, 1, 5:, 5:] = 1.0
    np.save(tmp_path / "b.npy", x)
    (tmp_path / "l.txt").write_text("0\n1\n")
    out = tmp_path / "s.svg"
    args = ["--input", tmp_path / "b.npy", "--labels", tmp_path / "l.txt", "--index", "1", "--screenshot", out]
    result = run("explore", *args)
    assert result.exit_code == 0, result.stderr
    text = "\n".join(svg_lines(out.read_text()))
    assert "sample 1 of 0..1" in text and "true class 1 (bottom-right)" in text and "Grad-CAM" in text


def test_screenshot_of_probes_read_from_stdin(run, tmp_path):
    sample = run("sample", "--task", "blobs8x8", "--count", "3", "--seed", "2")
    assert sample.exit_code == 0
    out = tmp_path / "s.svg"
    result = run("explore", "--input", "-", "--index", "2", "--screenshot", out, input=sample.stdout_bytes)
    assert result.exit_code == 0, result.stderr
    text = "\n".join(svg_lines(out.read_text()))
    assert "sample 2 of 0..2 · stdin[2]" in text and "blob mass -" in text  # no labels: no blob to weigh


def test_steps_alone_selects_the_right_riemann_rule_as_in_saliency(run, tmp_path):
    args = ["explore", "--task", "blobs6x6", "--probes", "4", "--size", "120x40"]
    steps, exact = tmp_path / "steps.svg", tmp_path / "exact.svg"
    assert run(*args, "--steps", "16", "--screenshot", steps).exit_code == 0
    text = "\n".join(svg_lines(steps.read_text()))
    assert "IG right, 16 steps" in text and "IG right 16" in text
    assert run(*args, "--steps", "16", "--quadrature", "exact", "--screenshot", exact).exit_code == 0
    assert "IG exact" in "\n".join(svg_lines(exact.read_text()))
