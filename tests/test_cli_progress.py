"""Progress bars: on stderr when it is a terminal, never on stdout or in a pipe; train's loss as it really is."""

from __future__ import annotations

import json
import re
import subprocess
import sys

from .terminal import ROOT, on_a_terminal

_ESCAPES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _plain(*args, **kwargs) -> str:
    """What a person reads on the terminal, without the escape sequences."""
    return _ESCAPES.sub("", on_a_terminal(*args, **kwargs))


def test_train_shows_the_real_final_loss_and_no_nan(tmp_path):
    out = tmp_path / "m.npz"
    shown = _plain("train", "--epochs", "3", "--examples", "200", "--out", out, "--seed", "1")
    assert "nan" not in shown  # the bar starts without a loss (it used to show "0/3 loss nan")
    assert re.search(r"train blobs8x8 .*3/3 loss \d\.\d\de[-+]\d\d  acc \d\.\d{3}", shown)
    info = json.loads(
        subprocess.run(
            [sys.executable, "-m", "saliency_cli", "models", out, "--format", "json"],
            capture_output=True,
            cwd=ROOT,
            timeout=60,
        ).stdout
    )
    loss = info["training"]["final_loss"]
    assert 0 < loss < 1e-2  # small: 0.00000 with five decimals hid it
    assert re.search(rf"final loss\s+{re.escape(f'{loss:.2e}')}", shown)


def test_cost_shows_a_progress_bar_on_a_terminal_only(run):
    shown = _plain("cost", "--repeats", "1", "--steps", "2", "--samples", "2")
    assert re.search(r"cost: method runs .*\d+/\d+", shown)
    piped = run("cost", "--repeats", "1", "--steps", "2", "--samples", "2")
    assert piped.exit_code == 0 and "method runs" not in piped.stderr + piped.stdout
    quiet = _plain("cost", "--repeats", "1", "--steps", "2", "--samples", "2", "--quiet")
    assert "method runs" not in quiet
