"""The option bundles (cli/options.py, cli/method_options.py): packed options reach a command as one object and
keep their names; evaluate's method options default to the engine's MethodOptions."""

from __future__ import annotations

from dataclasses import dataclass

import click
from click.testing import CliRunner

from saliency_cli.cli import cli
from saliency_cli.cli.method_options import EVALUATION_METHOD_OPTIONS, _method_options
from saliency_cli.cli.options import given, packed
from saliency_cli.evaluation.methods import MethodOptions


@dataclass(frozen=True)
class _Pair:
    low: int
    high: int
    seed: int


def _command(seen: list):
    @click.command()
    @click.option("--seed", type=int, default=7)
    @packed("pair", _Pair, click.option("--low", type=int, default=1), click.option("--high", type=int, default=2),
            reads=("seed",))  # fmt: skip
    @click.pass_context
    def command(ctx, seed, pair):
        seen.append((seed, pair, given(ctx, "low"), given(ctx, "high")))

    return command


def test_packed_options_reach_the_command_as_one_object_and_keep_their_names():
    seen = []
    result = CliRunner().invoke(_command(seen), ["--high", "5", "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert seen == [(3, _Pair(low=1, high=5, seed=3), False, True)]
    [low, high] = [p for p in _command([]).params if p.name in ("low", "high")]
    assert (low.opts, high.opts) == (["--low"], ["--high"])


def test_a_packed_option_is_checked_by_click_as_before():
    result = CliRunner().invoke(_command([]), ["--low", "x"])
    assert result.exit_code == 2 and "Invalid value for '--low'" in result.output


def test_evaluate_method_option_defaults_are_the_engines():
    params = {p.name: p for p in cli.get_command(None, "evaluate").params}
    defaults = {name: params[name].default for name in EVALUATION_METHOD_OPTIONS}
    assert _method_options(**defaults, seed=0, batch_size=None) == MethodOptions()
