"""Strings from model files and paths reach the terminal as inert text: no control character acts."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from saliency_cli.nn.modelfile import model_bytes
from saliency_cli.render.inert import inert
from saliency_cli.tasks import TASKS

from .test_guard import random_net

#: Anything a terminal would act on (newline aside, which the renderers emit themselves).
CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")

HOSTILE_TASK = "blobs8x8\x1b[2J\x1b]0;title\x07"


def test_inert_escapes_every_control_and_keeps_text():
    assert inert("a\x1b[2Jb") == "a\\x1b[2Jb"
    assert inert("\x9b31m\x07\r\n\t\x7f") == "\\x9b31m\\x07\\x0d\\x0a\\x09\\x7f"
    assert inert("abc\u202eevil") == "abc\\u202eevil"
    assert inert("blobs ünïcode ✓ 日本") == "blobs ünïcode ✓ 日本"
    assert inert(3) == "3"
    everything = "".join(map(chr, range(0x2100)))
    assert not CONTROL.search(inert(everything))


@pytest.fixture
def hostile(tmp_path):
    """A blobs8x8-shaped model with escape sequences in its task, classes and training record, stored
    under a file name with escapes, and a probe file with escapes in its name."""
    net = random_net(
        [dict(c) for c in TASKS["blobs8x8"].layers],
        (2, 8, 8),
        HOSTILE_TASK,
        classes=["\x1b[31mred", "b\x9b2Jc"],
        training={"k\x1b[2J": "v\x1b[1m", "n": ["\x07"]},
    )
    model = tmp_path / "m\x1b[2J.npz"
    model.write_bytes(model_bytes(net))
    probe = tmp_path / "p\x1b]0;x\x07.npy"
    np.save(probe, TASKS["blobs8x8"].probe("clean")[0])
    return model, probe


@pytest.mark.parametrize(
    "args",
    [
        ["models"],
        ["lrp"],
        ["lrp", "--compare"],
        ["saliency"],
        ["saliency", "--layer", "dense1", "--unit", "0"],
        ["features", "--layer", "conv1"],
        ["cam"],
        ["cost", "--size", "8"],
    ],
)
def test_text_output_never_carries_a_control_character(args, hostile, run):
    model, probe = hostile
    extra = [] if args[0] in ("models", "cost") else ["--input", probe]
    where = [model] if args[0] == "models" else ["--model", model]
    result = run(*args, *where, *extra)
    assert result.exit_code == 0, result.stderr
    assert "\\x1b[2J" in result.stdout  # shown, escaped
    assert not CONTROL.search(result.stdout), repr(CONTROL.search(result.stdout))
    assert not CONTROL.search(result.stderr)


def test_json_output_escapes_controls(hostile, run):
    model, probe = hostile
    for args in (["models", model], ["lrp", "--model", model, "--input", probe]):
        result = run(*args, "--format", "json")
        assert result.exit_code == 0
        assert not CONTROL.search(result.stdout) and result.stdout.isascii()
        doc = json.loads(result.stdout)
        assert (doc.get("task") or doc["model"]["task"]) == HOSTILE_TASK  # the data itself is kept exactly


def test_error_lines_and_notes_are_inert(hostile, run, tmp_path):
    model, _ = hostile
    result = run("lrp", "--model", tmp_path / "missing\x1b[2J\x9b.npz")
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert "missing\\x1b[2J\\x9b.npz" in result.stderr and not CONTROL.search(result.stderr)
    result = run("lrp", "--model", model)  # no built-in probe for this task: the task name is in the message
    assert result.exit_code == 2 and not CONTROL.search(result.stderr)
