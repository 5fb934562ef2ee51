"""Shared fixtures: a CLI runner with separate stdout/stderr, seeded randomness, the shipped models."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from saliency_cli.cli import cli
from saliency_cli.locate import find_default_model
from saliency_cli.nn.modelfile import load_model


@pytest.fixture
def run():
    """run(*args, input=None) -> click Result with .exit_code, .stdout, .stderr."""

    def _run(*args, input=None, env=None):
        runner = CliRunner(env=env)
        return runner.invoke(cli, [str(a) for a in args], input=input, catch_exceptions=False)

    return _run


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture(scope="session")
def shipped():
    """shipped(task) -> the default model of `task` as shipped in models/."""

    def _load(task: str):
        path, _ = find_default_model(task)
        assert path is not None, f"no shipped model for {task}"
        return load_model(path)

    return _load
