"""Default models are found from any directory: ./models first, then the packaged or checkout copy."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from saliency_cli.locate import find_default_model
from saliency_cli.nn.modelfile import load_model


def test_models_dir_in_the_working_directory_wins(tmp_path, monkeypatch):
    (tmp_path / "models").mkdir()
    src, _ = find_default_model("blobs6x6")
    (tmp_path / "models" / "blobs6x6.npz").write_bytes(Path(src).read_bytes())
    monkeypatch.chdir(tmp_path)
    path, obvious = find_default_model("blobs6x6")
    assert obvious and Path(path).resolve() == (tmp_path / "models" / "blobs6x6.npz").resolve()


def test_elsewhere_the_shipped_copy_is_used_and_said(tmp_path, monkeypatch, run):
    monkeypatch.chdir(tmp_path)
    path, obvious = find_default_model("blobs8x8")
    assert path is not None and not obvious and load_model(path).task == "blobs8x8"
    result = run("models", "--format", "json")
    assert result.exit_code == 0 and "using the packaged blobs8x8 model" in result.stderr


def test_python_dash_m_runs_the_cli():
    result = subprocess.run([sys.executable, "-m", "saliency_cli", "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and "saliency-cli, version" in result.stdout
