"""`--export FILE`: the text report saved as .svg/.html/.txt, deterministic, safe about what it replaces."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from saliency_cli.render.export import export_kind
from saliency_cli.render.tables import num

SVG = "{http://www.w3.org/2000/svg}"


def _svg_text(path) -> str:
    """All text of an SVG picture, spaces restored (Rich writes them as non-breaking spaces)."""
    root = ET.parse(path).getroot()
    assert root.tag == f"{SVG}svg"
    return "".join(t.text or "" for t in root.iter(f"{SVG}text")).replace("\xa0", " ")


@pytest.mark.parametrize(
    ("name", "kind"),
    [("a.svg", "svg"), ("a.SVG", "svg"), ("x/y.html", "html"), ("a.htm", "html"), ("a.txt", "txt"), ("a.png", None),
     ("svg", None), (".svg", None), ("a.svg/b", None)],
)  # fmt: skip
def test_export_kind_by_extension(name, kind):
    assert export_kind(name) == kind


def test_lrp_export_svg_html_txt_hold_the_ledger_numbers_and_repeat_byte_for_byte(run, tmp_path):
    doc = json.loads(run("lrp", "--rule", "gamma", "--format", "json").stdout)
    logit = num(doc["totals"]["logit"])  # the one number format of every report
    into = num(doc["totals"]["input"])
    top = num(doc["top_k"][0]["value"])
    for ext in ("svg", "html", "txt"):
        first, second = tmp_path / f"a.{ext}", tmp_path / f"b.{ext}"
        result = run("lrp", "--rule", "gamma", "--export", first)
        assert result.exit_code == 0
        assert f"logit {logit} = input {into}" in result.stdout  # stdout still gets the report
        assert run("lrp", "--rule", "gamma", "--export", second, env={"COLUMNS": "53", "NO_COLOR": "1"}).exit_code == 0
        assert first.read_bytes() == second.read_bytes()  # same input, same bytes, whatever the environment
        text = _svg_text(first) if ext == "svg" else first.read_text()
        assert f"logit {logit} = input {into}" in text and top in text and "conservation ledger (gamma)" in text
    html = (tmp_path / "a.html").read_text()
    assert html.lstrip().lower().startswith("<!doctype html>") and "color: #" in html  # coloured
    assert _svg_text(tmp_path / "a.svg").startswith("saliency-cli lrp")  # the fixed title, then the report
    assert not any(line.endswith(" ") for line in (tmp_path / "a.txt").read_text().splitlines())


def test_export_is_in_colour_when_stdout_is_not_a_terminal_but_txt_is_ascii(run, tmp_path):
    out = tmp_path / "s.svg"
    result = run("saliency", "--export", out)  # the runner's stdout is not a terminal
    assert result.exit_code == 0 and "\x1b[" not in result.stdout
    svg = out.read_text()
    assert 'fill="#440154"' in svg  # viridis' lowest colour fills the input's background cells
    txt = tmp_path / "s.txt"
    assert run("saliency", "--export", txt).exit_code == 0
    assert "scale: 0 ' .:-=+*#%@' max" in txt.read_text()  # ASCII heatmaps, as when piped


@pytest.mark.parametrize(
    "args",
    [
        ["saliency", "--methods", "ig"],
        ["cam", "--method", "gradcam++"],
        ["features", "--layer", "conv2"],
        ["models", "models/blobs6x6.npz"],
        ["cost", "--repeats", "1", "--steps", "4", "--samples", "2"],
        ["evaluate", "--probes", "4", "--resamples", "20", "--methods", "vanilla,random"],
    ],
)
def test_every_report_command_exports(args, run, tmp_path):
    out = tmp_path / "r.svg"
    result = run(*args, "--export", out)
    assert result.exit_code == 0, result.stderr
    text = _svg_text(out)
    assert result.stdout.strip().splitlines()[0].split()[0] in text
    assert text.startswith(f"saliency-cli {args[0]}")


def test_export_with_json_output_writes_both(run, tmp_path):
    out = tmp_path / "c.txt"
    result = run("cam", "--format", "json", "--export", out)
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    peak = doc["peak"]["layer"]
    text = out.read_text()
    assert f"x={peak['x']}, y={peak['y']}" in text, text


@pytest.mark.parametrize("name", ["r.png", "r", "r.svg.gz"])
def test_unknown_extensions_are_refused_before_any_work(name, run, tmp_path):
    result = run("saliency", "--export", tmp_path / name)
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and ".svg, .html or .txt" in result.stderr
    assert not (tmp_path / name).exists()


def test_a_directory_or_device_is_never_replaced(run, tmp_path):
    folder = tmp_path / "d.svg"
    folder.mkdir()
    result = run("lrp", "--export", folder)
    assert result.exit_code == 2 and "refusing to replace" in result.stderr and result.stdout == ""
    assert folder.is_dir()
    (tmp_path / "file.txt").write_text("keep")
    result = run("lrp", "--export", tmp_path / "file.txt" / "below.txt")
    assert result.exit_code == 2 and "not a directory" in result.stderr


def test_a_different_file_is_kept_as_a_backup_and_the_same_bytes_are_not(run, tmp_path):
    out = tmp_path / "r.txt"
    out.write_text("my notes\n")
    assert run("lrp", "--export", out).exit_code == 0
    assert (tmp_path / "r.txt.bak").read_text() == "my notes\n"
    report = out.read_bytes()
    assert run("lrp", "--export", out).exit_code == 0  # the same report again: nothing to back up
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.txt", "r.txt.bak"]
    result = run("lrp", "--probe", "noisy", "--export", out)
    assert result.exit_code == 0 and "r.txt.bak.1" in result.stderr
    assert (tmp_path / "r.txt.bak.1").read_bytes() == report and (tmp_path / "r.txt.bak").read_text() == "my notes\n"


def test_quiet_leaves_an_exported_text_report_only_in_the_file(run, tmp_path):
    out = tmp_path / "r.txt"
    result = run("lrp", "--export", out, "--quiet")
    assert result.exit_code == 0 and result.stdout == "" and result.stderr == ""
    assert "conservation ledger (epsilon)" in out.read_text()
    assert "conservation ledger" in run("lrp", "--quiet").stdout  # nothing exported: the report is printed
    assert json.loads(run("lrp", "--export", out, "--quiet", "--format", "json").stdout)["command"] == "lrp"
