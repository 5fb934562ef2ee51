"""Shared fixtures: a CLI runner with separate stdout/stderr, seeded randomness, the shipped models."""

from __future__ import annotations

import os

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import settings

from saliency_cli.cli import cli
from saliency_cli.locate import find_default_model
from saliency_cli.nn.modelfile import load_model

# CI runs the property tests on a fixed set of examples (a red CI always means a change broke something);
# a developer's run draws new examples each time and keeps any failure in .hypothesis/ to replay.
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """`--dist loadfile` (`make test`), except that each document of tests/test_docs_blocks.py is a unit of work of
    its own, handed out before the files: together they were the suite's largest unit (~75 s of CPU), which one
    worker ran while the others went on."""
    if config.getoption("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    from .test_docs_blocks import DOCUMENT_TEST

    class DocumentsApart(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return nodeid if nodeid.startswith(DOCUMENT_TEST) else super()._split_scope(nodeid)

        def _assign_work_unit(self, node) -> None:
            for scope in reversed([scope for scope in self.workqueue if scope.startswith(DOCUMENT_TEST)]):
                self.workqueue.move_to_end(scope, last=False)
            super()._assign_work_unit(node)

    return DocumentsApart(config, log)


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
