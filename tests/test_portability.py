"""What keeps the suite true on every machine: the round-off bound (tests/roundoff.py), the choice of OpenBLAS core
types for the second pass and how it runs them (tests/kernels.py), and that the kernel is left to the user's
environment."""

from __future__ import annotations

import math
import os
import re
import sys
from pathlib import Path

import numpy as np
import pytest

from .kernels import core_types, run_side_by_side
from .roundoff import bound, gamma, roundoff_close

ROOT = Path(__file__).resolve().parent.parent


def _orders(terms: np.ndarray) -> list[float]:
    """The sum of `terms` in several orders a BLAS kernel might use (blocked, strided, fused or not)."""
    k = len(terms)
    out = [float(np.sum(terms)), sum(terms.tolist()), sum(terms[::-1].tolist())]
    out.append(sum(float(np.sum(terms[i::4])) for i in range(4)))  # four accumulators, as SIMD lanes
    cut = k // 3
    out.append(float(np.sum(terms[:cut])) + float(np.sum(terms[cut:])))  # two blocks of K
    out.append(sum(sorted(terms.tolist(), key=abs)))
    return out


@pytest.mark.parametrize("k", [2, 9, 145, 1000])
def test_the_bound_holds_for_any_order_and_catches_a_dropped_term(k):
    rng = np.random.default_rng(k)
    for _ in range(50):
        a, b = rng.normal(size=k), rng.normal(size=k)
        terms = a * b  # each product rounded once: within the bound's K roundings
        exact = math.fsum(terms.tolist())
        magnitude = float(np.abs(a) @ np.abs(b))
        for value in _orders(terms):
            assert abs(value - exact) <= gamma(k) * magnitude
            assert roundoff_close(value, float(a @ b), magnitude, k)
        # a bug's size: one term of typical size left out, far beyond the bound
        typical = float(np.median(np.abs(terms)))
        assert not roundoff_close(float(a @ b) - typical, float(a @ b), magnitude, k)


def test_the_bound_in_float32_and_nan_handling():
    assert bound(1.0, 10, np.float32) == pytest.approx(10 * np.finfo(np.float32).eps, rel=1e-6)
    assert roundoff_close([np.nan, np.inf, 1.0], [np.nan, np.inf, 1.0], [0.0, 0.0, 0.0], 3)
    assert not roundoff_close([np.nan, 1.0], [0.0, 1.0], [1.0, 1.0], 3)
    assert not roundoff_close([np.inf], [-np.inf], [1.0], 3)


@pytest.mark.parametrize(
    ("machine", "flags", "first", "want"),
    [
        ("x86_64", {"sse4_2", "avx", "avx2", "fma", "avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"},
         "SkylakeX", ["Prescott", "Haswell"]),
        ("x86_64", {"sse4_2", "avx", "avx2", "fma", "avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"},
         "Cooperlake", ["Prescott", "Haswell"]),
        ("x86_64", {"sse4_2", "avx", "avx2", "fma"}, "Zen", ["Prescott", "Sandybridge"]),
        ("x86_64", {"sse4_2", "avx", "avx2", "fma"}, "Haswell", ["Prescott", "Sandybridge"]),
        ("x86_64", {"sse4_2", "avx", "avx2", "fma"}, "Katmai", ["Haswell", "Sandybridge"]),  # (Prescott)
        ("x86_64", {"sse4_2"}, "Nehalem", ["Prescott"]),
        ("aarch64", {"fp", "asimd"}, "neoversen1", ["ARMV8", "CORTEXA57"]),
        ("aarch64", {"fp", "asimd"}, "armv8", ["CORTEXA57", "ARMV8"]),
    ],
)  # fmt: skip
def test_the_second_pass_runs_other_core_types_the_cpu_has(machine, flags, first, want):
    assert core_types(machine, flags, first) == want


def test_neither_the_tool_nor_the_tests_set_openblas_coretype():
    """The BLAS kernel is the user's machine's business: only tests/kernels.py names one, for its child processes
    (the second pass of `.ci/run`), and the benchmark may report it."""
    setter = re.compile(
        r"""(environ\[\s*['"]OPENBLAS_CORETYPE['"]\s*\]\s*=(?!=)|(setenv|setdefault|putenv)\(\s*['"]OPENBLAS_CORETYPE"""
        r"""|['"]OPENBLAS_CORETYPE['"]\s*:)"""
    )
    sources = [*ROOT.joinpath("saliency_cli").rglob("*.py"), *ROOT.joinpath("tests").rglob("*.py")]
    mine = {"kernels.py", Path(__file__).name}
    found = [str(p.relative_to(ROOT)) for p in sources if p.name not in mine and setter.search(p.read_text())]
    assert found == []
    assert setter.search('child = {**env, "OPENBLAS_CORETYPE": core}')  # the pattern sees the one place that does


def test_the_passes_run_side_by_side_and_a_failing_pass_shows_its_output(capsys):
    """The pass started first but ending last is reported last: they ran together, not one after the other."""
    code = "import os, sys, time; time.sleep(float(os.environ['WAIT'])); print('pass', os.environ['WAIT']); "
    code += "sys.exit(int(os.environ['CODE']))"
    passes = {"slow": {**os.environ, "WAIT": "2", "CODE": "0"}, "fails": {**os.environ, "WAIT": "0", "CODE": "3"}}
    assert run_side_by_side(passes, [sys.executable, "-c", code]) == {"slow": 0, "fails": 3}
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "pass 0" and out[1].startswith("test-kernels: fails: exit 3 in ")
    assert out[1].endswith("s of CPU): pass 0") and out[2].startswith("test-kernels: slow: exit 0 in ")
    assert out[2].endswith("s of CPU): pass 2") and len(out) == 3  # (a pass that succeeds: its last line only)
