"""Every JSON document and JSON Lines line the tool prints starts with "version" (the tool's) and "schema"
(its command's number in render/schema.py); the registry covers exactly the commands that speak JSON, as
read from the Click group; docs/json.md and CHANGELOG.md agree with both."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import click
import numpy as np
import pytest

from saliency_cli import __version__
from saliency_cli.cli import cli
from saliency_cli.render.schema import SCHEMAS, STAMP_KEYS, stamped
from saliency_cli.tasks import TASKS

from .cli_io import json_lines, npy_bytes

REPO = Path(__file__).resolve().parent.parent

#: command -> fast arguments for one run with --format json ("{tmp}" is the test's tmp_path).
RUNS = {
    "train": ["--task", "blobs6x6", "--epochs", "1", "--examples", "10", "--out", "{tmp}/m.npz"],
    "models": [],
    "saliency": ["--methods", "vanilla,ig"],
    "lrp": [],
    "cam": [],
    "features": [],
    "cost": ["--methods", "vanilla", "--repeats", "1"],
    "evaluate": ["--probes", "4", "--resamples", "20", "--methods", "vanilla,random", "--per-probe"],
    "convert": [str(REPO / "tests" / "fixtures" / "onnx" / "lenet.onnx"), "-o", "{tmp}/lenet.npz"],
}
#: command -> the task whose default model it explains (for batches of the right shape).
TASK_OF = {"saliency": "blobs8x8", "lrp": "blobs6x6", "cam": "blobs8x8-gap", "features": "blobs8x8-gap"}


def _json_formats(command: click.Command) -> set[str]:
    """The JSON formats (json, jsonl) a command's --format offers."""
    formats = set()
    for param in command.params:
        if "--format" in getattr(param, "opts", ()) and isinstance(param.type, click.Choice):
            formats |= {str(c) for c in param.type.choices} & {"json", "jsonl"}
    return formats


def _commands() -> dict[str, set[str]]:
    """command name -> its JSON formats, for every command of the group."""
    ctx = click.Context(cli)
    return {name: _json_formats(cli.get_command(ctx, name)) for name in cli.list_commands(ctx)}


def _check(doc: dict, command: str) -> None:
    assert list(doc)[:2] == list(STAMP_KEYS), list(doc)[:4]
    assert doc["version"] == __version__ and doc["schema"] == SCHEMAS[command]
    assert isinstance(doc["schema"], int) and not isinstance(doc["schema"], bool)


def _batch(tmp_path, command: str, n: int = 3) -> Path:
    x, _, _ = TASKS[TASK_OF[command]].sample(n, np.random.default_rng(5), noise=0.2)
    path = tmp_path / f"{command}.npy"
    path.write_bytes(npy_bytes(x))
    return path


def test_the_registry_covers_exactly_the_commands_that_speak_json():
    speaking = {name for name, formats in _commands().items() if formats}
    assert speaking == set(SCHEMAS), "a command that prints JSON needs a schema number in render/schema.py"
    assert set(RUNS) == set(SCHEMAS) and set(TASK_OF) == {n for n, f in _commands().items() if "jsonl" in f}
    assert all(type(n) is int and n >= 1 for n in SCHEMAS.values())


def test_stamped_puts_version_and_schema_first_and_keeps_the_rest_in_order():
    doc = stamped("cost", {"command": "cost", "b": [1, 2], "schema": 99, "a": None})
    assert list(doc) == ["version", "schema", "command", "b", "a"]
    assert doc == {"version": __version__, "schema": SCHEMAS["cost"], "command": "cost", "b": [1, 2], "a": None}
    with pytest.raises(LookupError, match="no JSON schema registered for the command 'nope'"):
        stamped("nope", {})
    with pytest.raises(LookupError, match="a 'lrp' document stamped as 'cam'"):
        stamped("cam", {"command": "lrp"})


@pytest.mark.parametrize("command", sorted(RUNS))
def test_every_json_document_starts_with_the_version_and_its_schema(command, run, tmp_path):
    result = run(command, "--format", "json", *[a.replace("{tmp}", str(tmp_path)) for a in RUNS[command]])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.count("\n") == 1
    doc = json.loads(result.stdout)
    _check(doc, command)
    assert doc["command"] == command
    if command == "evaluate":
        assert "per_probe" in doc and len(doc["probes_detail"]) == 4


@pytest.mark.parametrize("command", sorted(TASK_OF))
def test_every_json_lines_line_and_every_probe_of_a_batch_carry_them(command, run, tmp_path):
    path = _batch(tmp_path, command)
    extra = RUNS[command]
    lines = json_lines(run(command, "--input", path, "--format", "jsonl", *extra))
    assert len(lines) == 3
    for line in lines:
        _check(line, command)
    whole = json.loads(run(command, "--input", path, "--format", "json", *extra).stdout)
    _check(whole, command)
    assert whole["probes"] == lines  # a batch's probes are its JSON Lines
    small = json_lines(run(command, "--input", path, "--format", "jsonl", "--compact", "--fields", "source", *extra))
    assert [list(d) for d in small] == [["version", "schema", "source", "index"]] * 3


def test_cam_with_several_methods_stamps_the_line_not_each_method(run, tmp_path):
    lines = json_lines(
        run("cam", "--input", _batch(tmp_path, "cam", 2), "--methods", "cam,gradcam", "--format", "jsonl")
    )
    for line in lines:
        _check(line, "cam")
        assert all(not set(STAMP_KEYS) & set(part) for part in line["methods"])


def test_json_reaches_stdout_only_through_the_stamping_emitters():
    """No command module but cli/common.py (the emitters) turns a document into JSON text: the commands call
    emit_json/emit_jsonl, and only they import the encoder's `dumps`. (json.dumps elsewhere formats values
    inside text, such as a table cell, or a model file's metadata: not a command's document.)"""
    for path in sorted((REPO / "saliency_cli").rglob("*.py")):
        rel = path.relative_to(REPO).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").endswith("jsonout"):
                names = {a.name for a in node.names}
                assert "dumps" not in names or rel == "saliency_cli/cli/common.py", rel
            if (
                rel.startswith("saliency_cli/cli/")
                and isinstance(node, ast.Attribute)
                and node.attr in ("dump", "dumps")
            ):
                assert not (isinstance(node.value, ast.Name) and node.value.id == "json"), f"{rel}: use emit_json"


def test_docs_json_md_gives_every_command_its_schema_number():
    text = (REPO / "docs" / "json.md").read_text(encoding="utf-8")
    found = {m[0]: int(m[1]) for m in re.findall(r"^## `(\w+)` \(schema (\d+)\)$", text, flags=re.M)}
    assert found == SCHEMAS


def test_docs_json_md_examples_are_documents_of_their_section_s_schema():
    """Every ```json example parses (a whole document, or JSON Lines) and starts with version and schema; in a
    command's section, the schema is that command's (an example is redone when the schema is raised)."""
    text = (REPO / "docs" / "json.md").read_text(encoding="utf-8")
    parts = re.split(r"^## `(\w+)` \(schema \d+\)$", text, flags=re.M)
    sections = [(None, parts[0]), *zip(parts[1::2], parts[2::2], strict=True)]
    seen = 0
    for command, body in sections:
        for fence in re.findall(r"^```json\n(.*?)^```$", body, flags=re.M | re.S):
            try:
                docs = [json.loads(fence)]
            except json.JSONDecodeError:
                docs = [json.loads(line) for line in fence.splitlines()]
            for doc in docs:
                assert list(doc)[:2] == list(STAMP_KEYS), (command, list(doc)[:3])
                assert doc["schema"] == (SCHEMAS[command] if command else doc["schema"]), command
                seen += 1
    assert seen >= len(SCHEMAS)


def test_the_changelog_heads_with_the_tool_version():
    text = (REPO / "CHANGELOG.md").read_text(encoding="utf-8")
    versions = re.findall(r"^## (\d+\.\d+\.\d+)\b", text, flags=re.M)
    assert versions and versions[0] == __version__
    as_tuples = [tuple(map(int, v.split("."))) for v in versions]
    assert as_tuples == sorted(set(as_tuples), reverse=True), versions
