"""Fuzz cases: how they are generated from a seed, run (in-process or as a real subprocess under a memory
limit) and judged; failing cases are kept as small regression files that the normal test run replays.

The contract checked for every case: exit code 0, 1 or 2 only; no traceback and no exception; exactly one
line on stderr on failure (no warnings, no "internal error", no "out of memory"); time under a bound; on
success, valid JSON without a non-finite number (NaN/Infinity tokens, or nulls where numbers belong).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import random
import re
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from . import mutate

ROOT = Path(__file__).resolve().parents[2]
REGRESSIONS = Path(__file__).resolve().parent / "regressions"
#: Seconds a case may take (generous: the machine running the tests may be busy).
TIME_LIMIT = 30.0
#: Address-space limit of a subprocess case (resource.setrlimit RLIMIT_AS).
MEMORY_LIMIT = 2 * 2**30

FAMILIES = ["bytes", "zip-fields", "zip-members", "npy-header", "meta", "architecture", "probe-file", "probe-stdin"]
try:  # the onnx family needs the optional onnx package (in the test extra)
    import onnx  # noqa: F401

    FAMILIES.append("onnx")
except ImportError:  # pragma: no cover
    pass


@dataclass
class Case:
    """A command line with `{model}` and `{probe}` placeholders, and the bytes that fill them."""

    family: str
    args: list[str]
    model: bytes | None = None
    probe: bytes | None = None
    stdin: bool = False
    #: The exit code a regression case must give (when known: a hostile file is refused with 2).
    expect: int | None = None

    def to_json(self) -> dict:
        enc = lambda b: None if b is None else base64.b64encode(b).decode()  # noqa: E731
        return {"family": self.family, "args": self.args, "model": enc(self.model), "probe": enc(self.probe),
                "stdin": self.stdin, "expect": self.expect}  # fmt: skip

    @classmethod
    def from_json(cls, doc: dict) -> Case:
        dec = lambda s: None if s is None else base64.b64decode(s)  # noqa: E731
        return cls(doc["family"], doc["args"], dec(doc["model"]), dec(doc["probe"]), doc["stdin"], doc.get("expect"))


@dataclass
class Outcome:
    code: int | None
    stdout: str
    stderr: str
    seconds: float
    problems: list[str] = field(default_factory=list)


# -- generation -----------------------------------------------------------------------------------

_BASES: dict[str, bytes] = {}


def _base(task: str) -> bytes:
    if task not in _BASES:
        _BASES[task] = (ROOT / "models" / f"{task}.npz").read_bytes()
    return _BASES[task]


def _shipped_model_command(rng: random.Random) -> list[str]:
    return rng.choice(
        [
            ["models", "{model}", "--format", "json"],
            ["models", "{model}"],
            ["lrp", "--model", "{model}", "--format", "json"],
            ["saliency", "--model", "{model}", "--methods", "vanilla,ig", "--quadrature", "right", "--steps", "8",
             "--format", "json"],
            ["features", "--model", "{model}", "--layer", "0", "--format", "json"],
        ]
    )  # fmt: skip


def _probe_command(rng: random.Random, target: str) -> list[str]:
    return rng.choice(
        [
            ["saliency", "--input", target, "--methods", "vanilla,smoothgrad,ig", "--samples", "4", "--steps", "8",
             "--quadrature", "right", "--format", "json"],
            ["saliency", "--input", target, "--methods", "ig", "--format", "json"],
            ["saliency", "--methods", "ig", "--baseline", target, "--quadrature", "right", "--steps", "8",
             "--format", "json"],
            ["lrp", "--input", target, "--rule", rng.choice(["epsilon", "gamma", "alpha-beta", "zplus"]),
             "--format", "json"],
            ["features", "--input", target, "--layer", "conv1", "--format", "json"],
            ["lrp", "--input", target],
            ["lrp", "--input", target, "--max-residual", "0", "--format", "json"],
            ["lrp", "--input", target, "--target", "1", "--format", "jsonl"],
            ["saliency", "--input", target, "--methods", "vanilla", "--target", "0", "--format", "jsonl"],
            ["cam", "--task", "blobs8x8-gap", "--input", target, "--format", "json"],
        ]
    )  # fmt: skip


def _architecture_command(rng: random.Random) -> list[str]:
    model = ["--model", "{model}", "--input", "{probe}"]
    return rng.choice(
        [
            ["models", "{model}", "--format", "json"],
            ["saliency", *model, "--methods", "vanilla,smoothgrad,ig", "--samples", "4", "--steps", "8",
             "--quadrature", "right", "--format", "json"],
            ["saliency", *model, "--methods", "ig", "--format", "json"],
            ["saliency", *model, "--methods", "ig", "--score", "probability", "--steps", "8", "--format", "json"],
            ["lrp", *model, "--rule", rng.choice(["epsilon", "gamma", "alpha-beta", "zplus"]), "--format", "json"],
            ["lrp", *model, "--composite", "epsilon-plus", "--format", "json"],
            ["lrp", *model, "--max-residual", rng.choice(["0", "1e-12"]), "--format", "json"],
            ["saliency", *model, "--methods", "ig", "--max-gap", rng.choice(["0", "0.05"]), "--format", "json"],
            ["cam", *model, "--format", "json"],
            ["features", *model, "--layer", "0", "--format", "json"],
            ["lrp", *model],
        ]
    )  # fmt: skip


def generate(seed: int, family: str | None = None) -> Case:
    """The case of `seed` (deterministic): a family, then a mutation of a shipped model, a random valid
    architecture with a probe, or a hostile probe for a shipped model."""
    rng = random.Random(seed)
    family = family or rng.choice(FAMILIES)
    if family == "onnx":
        return _onnx_case(rng)
    if rng.random() < 0.25:  # mutate a random valid architecture's file as often as a shipped model's
        base = mutate.model_file(rng, mutate.random_architecture(rng)[0])
    else:
        base = _base(rng.choice(["blobs8x8", "blobs6x6", "blobs8x8-gap"]))
    match family:
        case "bytes":
            return Case(family, _shipped_model_command(rng), model=mutate.mutate_bytes(rng, base))
        case "zip-fields":
            return Case(family, _shipped_model_command(rng), model=mutate.mutate_zip_fields(rng, base))
        case "zip-members":
            return Case(family, _shipped_model_command(rng), model=mutate.mutate_zip_members(rng, base))
        case "npy-header":
            return Case(family, _shipped_model_command(rng), model=mutate.mutate_model_member_header(rng, base))
        case "meta":
            return Case(family, _shipped_model_command(rng), model=mutate.mutate_meta(rng, base))
        case "architecture":
            meta, shape = mutate.random_architecture(rng)
            return Case(
                family,
                _architecture_command(rng),
                model=mutate.model_file(rng, meta),
                probe=mutate.random_probe(rng, shape),
            )
        case "probe-file" | "probe-stdin":
            stdin = family == "probe-stdin"
            shape = (2, 8, 8)
            probe = mutate.random_probe(rng, shape)
            probe = mutate.mutate_probe(rng, probe, shape) if rng.random() < 0.7 else probe
            return Case(family, _probe_command(rng, "-" if stdin else "{probe}"), probe=probe, stdin=stdin)
    raise ValueError(f"unknown family {family}")


def _onnx_case(rng: random.Random) -> Case:
    from .mutate_onnx import FIXTURES, mutate_onnx

    name = rng.choice(sorted(FIXTURES))
    base = (ROOT / "tests" / "fixtures" / "onnx" / f"{name}.onnx").read_bytes()
    model = ["--model", "{model}", "--input", "{probe}"]
    args = rng.choice(
        [
            ["models", "{model}", "--format", "json"],
            ["saliency", *model, "--methods", "vanilla,ig", "--quadrature", "right", "--steps", "4", "--format",
             "json"],
            ["cost", "--model", "{model}", "--methods", "vanilla", "--repeats", "1", "--format", "json"],
            ["lrp", *model, "--format", "json"],
        ]
    )  # fmt: skip
    return Case("onnx", args, model=mutate_onnx(rng, base), probe=mutate.random_probe(rng, FIXTURES[name]))


# -- running --------------------------------------------------------------------------------------


def _materialise(case: Case, workdir: Path) -> list[str]:
    model = str(ROOT / "models" / "blobs8x8.npz")
    if case.model is not None:
        model = str(workdir / ("m.onnx" if case.family == "onnx" else "m.npz"))
        Path(model).write_bytes(case.model)
    probe = str(workdir / "p.npy")
    if case.probe is not None and not case.stdin:
        Path(probe).write_bytes(case.probe)
    return [a.replace("{model}", model).replace("{probe}", probe) for a in case.args]


def run_in_process(case: Case, workdir: Path) -> Outcome:
    """Run through click's test runner: fast, and warnings and exceptions are caught precisely."""
    from click.testing import CliRunner

    from saliency_cli.cli import cli

    args = _materialise(case, workdir)
    runner = CliRunner()
    start = time.perf_counter()
    # NOTE: the filters stay as they are (only reset for this case): a warning the CLI itself silences
    # never reaches a user, and one it lets through is recorded here instead of printed.
    with warnings.catch_warnings(record=True) as caught:
        result = runner.invoke(cli, args, input=case.probe if case.stdin else None, catch_exceptions=True)
    seconds = time.perf_counter() - start
    code = result.exit_code
    outcome = Outcome(code, result.stdout, result.stderr, seconds)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        outcome.problems.append(f"exception {type(result.exception).__name__}: {str(result.exception)[:200]}")
    for warning in caught:
        outcome.problems.append(f"warning {warning.category.__name__}: {str(warning.message)[:200]}")
    judge(case, outcome)
    return outcome


def _limit_memory():  # pragma: no cover - runs in the child
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def run_subprocess(case: Case, workdir: Path) -> Outcome:
    """Run `python -m saliency_cli` for real, under RLIMIT_AS = MEMORY_LIMIT and a timeout."""
    args = _materialise(case, workdir)
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    env.pop("NO_COLOR", None)
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "saliency_cli", *args],
            input=case.probe if case.stdin else b"",
            capture_output=True,
            timeout=TIME_LIMIT,
            cwd=workdir,
            env=env,
            preexec_fn=_limit_memory,
        )
    except subprocess.TimeoutExpired:
        outcome = Outcome(None, "", "", time.perf_counter() - start)
        outcome.problems.append(f"timed out after {TIME_LIMIT:g} s")
        return outcome
    outcome = Outcome(
        proc.returncode, proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace"),
        time.perf_counter() - start,
    )  # fmt: skip
    if proc.returncode < 0:
        outcome.problems.append(f"killed by signal {-proc.returncode}")
    if "Warning" in outcome.stderr:
        outcome.problems.append("a warning reached stderr")
    judge(case, outcome)
    return outcome


# -- judging --------------------------------------------------------------------------------------


def _reject_constant(token: str):
    raise ValueError(f"non-finite number {token} in the JSON output")


def _nulls(value, path: str = "") -> list[str]:
    """Where the JSON holds null in place of a number: inside any list, or as a ledger's remainder."""
    found = []
    if isinstance(value, dict):
        for key, item in value.items():
            if item is None and key in ("max_unexplained", "unexplained", "residual"):
                found.append(f"{path}.{key}")
            found += _nulls(item, f"{path}.{key}")
    elif isinstance(value, list):
        if any(item is None for item in value):
            found.append(f"{path}[]")
        for item in value:
            if isinstance(item, dict | list):
                found += _nulls(item, f"{path}[]")
    return found[:3]


def judge(case: Case, outcome: Outcome) -> None:
    """Add to `outcome.problems` every way in which it breaks the contract."""
    problems, err = outcome.problems, outcome.stderr
    if case.expect is not None and outcome.code != case.expect:
        problems.append(f"exit code {outcome.code}, expected {case.expect}")
    if outcome.code not in (0, 1, 2):
        problems.append(f"exit code {outcome.code}")
    if "Traceback" in err:
        problems.append("a traceback on stderr")
    for marker in ("internal error", "out of memory"):
        if marker in err:
            problems.append(f"{marker!r} on stderr")
    lines = err.strip().splitlines()
    # NOTE: exit 1 is a failed check (--max-gap, --max-residual): the report is still printed, the check's
    # verdict and the notes go to stderr; every other failure is one "Error: " line.
    if outcome.code not in (0, 1, None) and (len(lines) != 1 or not lines[0].startswith("Error: ")):
        problems.append(f"{len(lines)} stderr lines on failure: {err[:300]!r}")
    if outcome.seconds > TIME_LIMIT:
        problems.append(f"took {outcome.seconds:.1f} s (bound {TIME_LIMIT:g} s)")
    if outcome.code in (0, 1) and ("json" in case.args or "jsonl" in case.args):
        try:
            for line in outcome.stdout.splitlines() or [""]:
                if nulls := _nulls(json.loads(line, parse_constant=_reject_constant)):
                    problems.append(f"null where a number belongs at {', '.join(nulls)}")
        except ValueError as exc:
            problems.append(f"stdout is not finite JSON ({str(exc)[:120]})")


def signature(case: Case, problems: list[str]) -> str:
    """What kind of failure this is: the family, the command and the problems without their numbers."""
    text = "; ".join(sorted(set(problems)))
    return f"{case.family} {case.args[0]}: " + re.sub(r"[0-9][0-9,.]*", "N", text)[:200]


def save_regression(case: Case, outcome: Outcome) -> Path | None:
    """Keep a failing case, unless one of the same signature is kept already (the folder stays small)."""
    REGRESSIONS.mkdir(exist_ok=True)
    sig = signature(case, outcome.problems)
    for path in REGRESSIONS.glob("*.json"):
        if json.loads(path.read_text()).get("signature") == sig:
            return None
    doc = case.to_json()
    name = hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:16]
    path = REGRESSIONS / f"{case.family}-{name}.json"
    doc["found"], doc["signature"] = outcome.problems[:3], sig
    path.write_text(json.dumps(doc, indent=1) + "\n")
    return path


def load_regressions() -> list[tuple[str, Case]]:
    return [(p.name, Case.from_json(json.loads(p.read_text()))) for p in sorted(REGRESSIONS.glob("*.json"))]
