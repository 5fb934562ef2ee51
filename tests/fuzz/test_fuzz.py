"""The fuzz suite's small budget (part of `make test`) and the replay of every case that ever failed.

`make fuzz` runs the large budget (python -m tests.fuzz); both keep failing cases under regressions/.
"""

from __future__ import annotations

import pytest

from .harness import (
    FAMILIES,
    Case,
    Outcome,
    generate,
    judge,
    load_regressions,
    run_in_process,
    run_subprocess,
    save_regression,
)

#: Fixed seeds, so that `make test` is deterministic; `make fuzz` picks fresh ones.
SEED = 20261123
PER_FAMILY = 60  # 9 families (onnx with the onnx package): 540 in-process cases


def _report(failures: list[tuple[Case, Outcome]]) -> str:
    lines = [f"{len(failures)} failing fuzz case(s), kept under tests/fuzz/regressions/:"]
    for case, outcome in failures[:10]:
        lines.append(f"  {case.family} {case.args}: {'; '.join(outcome.problems)[:300]}")
    return "\n".join(lines)


@pytest.mark.parametrize("family", FAMILIES)
def test_small_budget_in_process(family, tmp_path):
    failures = []
    for i in range(PER_FAMILY):
        case = generate(SEED + i, family)
        outcome = run_in_process(case, tmp_path)
        if outcome.problems:
            save_regression(case, outcome)
            failures.append((case, outcome))
    assert not failures, _report(failures)


def test_small_budget_in_subprocesses_under_a_memory_limit(tmp_path):
    failures = []
    for i, family in enumerate(FAMILIES):
        case = generate(SEED + 10_000 + i, family)
        outcome = run_subprocess(case, tmp_path)
        if outcome.problems:
            save_regression(case, outcome)
            failures.append((case, outcome))
    assert not failures, _report(failures)


REGRESSIONS = load_regressions()


@pytest.mark.parametrize("case", [case for _, case in REGRESSIONS], ids=[name for name, _ in REGRESSIONS])
def test_every_case_that_ever_failed(case, tmp_path):
    outcome = run_in_process(case, tmp_path)
    assert not outcome.problems, outcome.problems


def test_regression_files_stay_small():
    from .harness import REGRESSIONS as FOLDER

    sizes = {path.name: path.stat().st_size for path in FOLDER.glob("*.json")}
    assert sizes and max(sizes.values()) < 64 * 1024, sorted(sizes.items(), key=lambda kv: -kv[1])[:3]


# -- the judge itself: each rule of the contract catches what it should ------------------------------


@pytest.mark.parametrize(
    ("code", "stderr", "stdout", "problem"),
    [
        (70, "Error: internal error: x; please report this\n", "", "exit code 70"),
        (1, "Traceback (most recent call last):\n  ...\nValueError\n", "", "a traceback on stderr"),
        (1, "IG completeness gap 3% exceeds --max-gap 1%\n", '{"gap": NaN}', "non-finite number NaN"),
        (2, "Error: a\nError: b\n", "", "2 stderr lines on failure"),
        (2, "Error: out of memory; lower --batch-size\n", "", "'out of memory' on stderr"),
        (0, "", '{"x": NaN}', "non-finite number NaN"),
        (0, "", '{"relevance": [[0.5, null]]}', "null where a number belongs at .relevance[][]"),
        (0, "", '{"ledger": {"max_unexplained": null}}', "null where a number belongs at .ledger.max_unexplained"),
        (0, "", "not json", "stdout is not finite JSON"),
    ],
)
def test_the_judge_catches_each_breach(code, stderr, stdout, problem):
    outcome = Outcome(code, stdout, stderr, 0.1)
    judge(Case("bytes", ["models", "{model}", "--format", "json"]), outcome)
    assert any(problem in p for p in outcome.problems), outcome.problems


def test_the_judge_accepts_a_clean_refusal_and_a_clean_success():
    for outcome in (
        Outcome(2, "", "Error: m.npz: empty file\n", 0.1),
        Outcome(0, '{"a": [1, 2], "b": null}', "", 0.1),
        Outcome(1, '{"gap": 0.03}', "IG completeness gap 3% exceeds --max-gap 1%\nnote: using right\n", 0.1),
    ):
        judge(Case("bytes", ["models", "{model}", "--format", "json"]), outcome)
        assert outcome.problems == []


def test_generation_is_deterministic():
    for family in FAMILIES:
        a, b = generate(7, family), generate(7, family)
        assert (a.args, a.model, a.probe) == (b.args, b.model, b.probe)
