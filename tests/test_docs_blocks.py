"""Every shell example in README.md and docs/*.md runs as written, in order, as a newcomer would run it.

The convention, for whoever writes documentation:

- Fenced blocks tagged `sh`, `bash`, `shell` or `console` are run; every other fence (`text`, `python`, none)
  is not. Examples that cannot run in an empty directory without a terminal go in `text` fences: interactive
  ones (`explore` without `--screenshot`), ones that need a clone of the repository (`make ...`,
  `pip install -e ...`), another machine, a cluster, PyTorch or the network, and placeholders.
- Each file's runnable blocks run in the order they appear, each with `bash`, all in one fresh empty temporary
  directory (files one block writes are there for the next; shell variables and `cd` are not carried over),
  with the installed `saliency-cli` first on PATH, stdin from /dev/null and no terminal.
- In a `console` block only the lines that start with `$ ` run (the prompt is stripped; a command continued
  with a trailing backslash continues on lines that start with `> `); the other lines are output, not run.
- A block fails when any of its commands exits with a non-zero code, prints a Python traceback, or the block
  runs past two minutes. Exit code 1 ("a requested check failed") is allowed only on a line whose comment says
  so: `... --max-gap 0.01   # exit 1 if the gap is above 1 %`. Every other code fails, 2 (bad input), 126
  and 127 (no such command) and 70 (an internal error) included; so does a pipeline whose reader leaves early
  (`| head` gives 141 under pipefail), so do not end examples with one.
- Keep the examples quick (small `--count`/`--probes`): all files together take ~75 s of CPU, a third of it
  docs/figures.md's commands that make its committed figures (`evaluate` on 100 digits the largest). Each
  document is one test, and under pytest-xdist a unit of work of its own, so the documents spread over the
  workers (tests/conftest.py).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
RUNNABLE = {"sh", "bash", "shell", "console"}
TIMEOUT = 120.0
TRACEBACK = "Traceback (most recent call last)"
ALLOWS_EXIT_1 = re.compile(r"#.*\bexit 1\b")
FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>[^\n`]*)$")
# The ERR trap reports each failing command's status and line; pipefail makes a pipeline fail when any part does.
HEADER = ["set -o pipefail", 'trap \'echo "$? $LINENO" >> "$DOCS_BLOCK_FAILURES"\' ERR']


@dataclass
class Block:
    """One runnable fenced block: where it starts in its file, and the script lines it runs."""

    path: Path
    line: int  # 1-based line of the opening fence
    lines: list[str]

    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


@dataclass
class Outcome:
    block: Block
    problems: list[str] = field(default_factory=list)
    output: str = ""


def runnable_blocks(path: Path) -> list[Block]:
    """The `sh`/`bash`/`shell`/`console` fenced blocks of a Markdown file, in order."""
    blocks, lines = [], path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        fence, language = match["fence"], (match["info"].strip().split() or [""])[0].lower()
        end = i + 1
        while end < len(lines) and not lines[end].strip().startswith(fence):
            end += 1
        if language in RUNNABLE:
            body = lines[i + 1 : end]
            blocks.append(Block(path, i + 1, console_commands(body) if language == "console" else body))
        i = end + 1
    return blocks


def console_commands(body: list[str]) -> list[str]:
    """The commands of a console transcript: `$ ` lines without the prompt, and their `> ` continuations."""
    commands, continuing = [], False
    for line in body:
        if line.startswith("$ ") or (continuing and line.startswith("> ")):
            commands.append(line[2:])
            continuing = line.rstrip().endswith("\\")
        else:
            commands.append("")  # output: kept as a blank line so that line numbers still match the block
            continuing = False
    return commands


def allowed_exit(block: Block, line: int, code: int) -> bool:
    """Exit 1 on a line (or the command a trailing backslash continued onto it) whose comment allows it."""
    if code != 1 or not 1 <= line <= len(block.lines):
        return False
    first = last = line
    while first > 1 and block.lines[first - 2].rstrip().endswith("\\"):
        first -= 1
    while last < len(block.lines) and block.lines[last - 1].rstrip().endswith("\\"):
        last += 1
    return any(ALLOWS_EXIT_1.search(text) for text in block.lines[first - 1 : last])


def run_block(block: Block, directory: Path, env: dict[str, str]) -> Outcome:
    outcome = Outcome(block)
    failures = directory.parent / f"failures-{block.line}"
    script = directory.parent / f"block-{block.line}.sh"
    script.write_text("\n".join([*HEADER, *block.lines, ""]), encoding="utf-8")
    proc = subprocess.Popen(
        ["bash", str(script)],
        cwd=directory,
        env={**env, "DOCS_BLOCK_FAILURES": str(failures)},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        output, _ = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate()
        outcome.problems.append(f"ran past {TIMEOUT:.0f} s")
    outcome.output = output.decode("utf-8", "replace")
    if TRACEBACK in outcome.output:
        outcome.problems.append("printed a Python traceback")
    if failures.exists():
        for entry in failures.read_text().split("\n"):
            if not entry:
                continue
            code, script_line = (int(part) for part in entry.split())
            line = script_line - len(HEADER)
            if not allowed_exit(block, line, code):
                text = block.lines[line - 1].strip() if 1 <= line <= len(block.lines) else "?"
                outcome.problems.append(f"line {block.line + line} exited {code}: {text}")
    return outcome


def newcomer_environment() -> dict[str, str]:
    """The user's environment with the installed CLI (beside this Python) first on PATH; no debug switches."""
    scripts = Path(sys.executable).parent
    assert (scripts / "saliency-cli").exists(), f"saliency-cli is not installed beside {sys.executable}"
    env = {key: value for key, value in os.environ.items() if not key.startswith("SALIENCY_CLI")}
    env["PATH"] = os.pathsep.join([str(scripts), env.get("PATH", os.defpath)])
    return env


def run_document(path: Path) -> list[Outcome]:
    """Run a file's blocks in order in one fresh directory; stop at the first block that fails."""
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="docs-blocks-") as scratch:
        directory = Path(scratch) / "work"
        directory.mkdir()
        env = newcomer_environment()
        for block in runnable_blocks(path):
            outcomes.append(run_block(block, directory, env))
            if outcomes[-1].problems:
                break
    return outcomes


#: The test that runs a document's blocks: under pytest-xdist each document is a unit of work of its own, handed
#: out before the suite's files (tests/conftest.py), so the documents spread over the workers.
DOCUMENT_TEST = "tests/test_docs_blocks.py::test_every_shell_block_runs_as_written["


@pytest.fixture(scope="module")
def outcomes(request):
    """outcomes(path) -> that document's outcomes. In one pytest process the documents its session selected run
    side by side on the first call (one a core: each is a sequence of processes); under pytest-xdist a worker
    runs just the documents it is handed."""
    done: dict[Path, list[Outcome]] = {}
    selected = []
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        selected = [
            item.callspec.params["path"] for item in request.session.items if item.nodeid.startswith(DOCUMENT_TEST)
        ]

    def get(path: Path) -> list[Outcome]:
        if path not in done:
            todo = [p for p in selected if p not in done] or [path]
            with ThreadPoolExecutor(max_workers=max(1, min(len(todo), os.cpu_count() or 1))) as pool:
                done.update(zip(todo, pool.map(run_document, todo), strict=True))
        return done[path]

    return get


@pytest.mark.parametrize("path", DOCUMENTS, ids=[str(p.relative_to(ROOT)) for p in DOCUMENTS])
def test_every_shell_block_runs_as_written(path, outcomes):
    for outcome in outcomes(path):
        assert not outcome.problems, (
            f"{outcome.block.where()}: {'; '.join(outcome.problems)}\n--- output ---\n{outcome.output[-3000:]}"
        )


def test_the_readme_and_the_command_pages_have_runnable_examples():
    """The documents that teach the commands show them in runnable blocks (not all tucked into text fences)."""
    for name in ["README.md", "docs/commands.md", "docs/saliency.md", "docs/lrp.md", "docs/evaluation.md"]:
        commands = [line for block in runnable_blocks(ROOT / name) for line in block.lines if "saliency-cli" in line]
        assert len(commands) >= 2, name


def test_the_harness_catches_a_refused_option_a_missing_command_and_an_unannounced_exit_1(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(
        "```text\nsaliency-cli explore\n```\n\n"
        "```sh\nsaliency-cli sample --out probe.npy\n```\n\n"
        "```console\n$ saliency-cli lrp --task blobs8x8 --input probe.npy --max-residual 0   # exit 1 if any is left\n"
        "some output\n$ saliency-cli lrp --rule no-such-rule\n$ no-such-command-here\n```\n\n"
        "```bash\nsaliency-cli sample --out probe.npy\n```\n"
    )
    blocks = runnable_blocks(page)
    assert [b.line for b in blocks] == [5, 9, 16]
    assert blocks[1].lines[1] == "" and blocks[1].lines[2] == "saliency-cli lrp --rule no-such-rule"

    outcomes = run_document(page)
    assert [o.problems for o in outcomes[:1]] == [[]]
    problems = outcomes[1].problems
    assert len(problems) == 2, problems
    assert problems[0].startswith("line 12 exited 2: saliency-cli lrp --rule no-such-rule")
    assert problems[1].startswith("line 13 exited 127: no-such-command-here")
    assert len(outcomes) == 2  # the block after a failure is not run

    again = tmp_path / "again.md"
    again.write_text("```sh\nsaliency-cli sample --out p.npy\nsaliency-cli sample --out p.npy\n```\n")
    (outcome,) = run_document(again)
    assert outcome.problems and outcome.problems[0].startswith("line 3 exited 2"), outcome.problems


def test_exit_1_is_allowed_only_where_the_line_says_so():
    block = Block(ROOT / "README.md", 1, ["a \\", "  b   # exit 1 if the check fails", "c", "d  # exits 1? no"])
    assert allowed_exit(block, 2, 1) and allowed_exit(block, 1, 1)
    assert not allowed_exit(block, 2, 2)
    assert not allowed_exit(block, 3, 1)
    assert not allowed_exit(block, 4, 1)
