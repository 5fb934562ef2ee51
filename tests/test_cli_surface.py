"""One command surface: every command's --help, --model, --no-color, --format json, --quiet; the refused
ignored options; shape hints; train's --out; the bare command; help width and sections; shell completion."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import click
import numpy as np
import pytest
from click.testing import CliRunner

from saliency_cli.cli import COMMANDS, SHORT_HELP, cli
from saliency_cli.reports.probe import MODEL_KEYS

REPO = Path(__file__).resolve().parent.parent
MODELS = REPO / "models"

#: command -> fast arguments for a run that prints (train writes into the test's tmp_path: "{tmp}").
FAST = {
    "train": ["--task", "blobs6x6", "--epochs", "1", "--examples", "10", "--out", "{tmp}/m.npz"],
    "models": [],
    "saliency": ["--methods", "vanilla"],
    "lrp": [],
    "cam": [],
    "features": [],
    "cost": ["--methods", "vanilla", "--repeats", "1"],
    "evaluate": ["--probes", "4", "--resamples", "20", "--methods", "vanilla,random"],
}
#: command -> the task whose model it explains in these tests.
TASK_OF = {"models": "blobs8x8", "saliency": "blobs8x8", "lrp": "blobs6x6", "cam": "blobs8x8-gap"}
TASK_OF |= {"features": "blobs8x8-gap", "cost": "blobs8x8-gap", "evaluate": "blobs8x8"}


def _args(name, tmp_path):
    return [a.replace("{tmp}", str(tmp_path)) for a in FAST[name]]


def _one_line_error(result, *fragments):
    assert result.exit_code == 2, result.output
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("Error: "), result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, (fragment, result.stderr)


def test_every_printing_command_is_in_the_tables():
    # explore: tests/test_cli_explore.py; convert (of an .onnx file): tests/test_cli_convert.py
    assert set(FAST) | {"sample", "explore", "convert"} == set(COMMANDS) == set(SHORT_HELP)


@pytest.mark.parametrize("name", ["saliency", "lrp", "cam"])
def test_a_huge_logit_is_written_in_scientific_notation_not_in_300_digits(name, run, tmp_path):
    np.save(tmp_path / "x.npy", np.full((2, 8, 8), 1e300))  # finite all through: the logit is about 1e300
    result = run(name, "--task", "blobs8x8-gap" if name == "cam" else "blobs8x8", "--input", tmp_path / "x.npy")
    assert result.exit_code == 0, result.stderr
    longest = max(len(number) for number in re.findall(r"\d[\d.]*(?:e[-+]\d+)?", result.stdout))
    assert longest < 40, longest
    assert "e+300" in result.stdout or "e+299" in result.stdout or "e+301" in result.stdout


def _examples(run, name) -> list[str]:
    shown = run(name, "--help").stdout.rstrip().split("Example:")[-1]
    return [line.strip() for line in shown.splitlines() if line.strip()]


def test_the_help_examples_run_as_written_one_after_another_in_an_empty_directory(run, tmp_path, monkeypatch):
    """sample's examples make the files the later commands' examples read (batch.npy, labels.npy): each runs as a
    user would type it, in order, in an empty directory (no ./models). A pipe's first half is run alone."""
    import shlex

    monkeypatch.chdir(tmp_path)
    for name in ("sample", "train", "models", "lrp", "features", "cam"):
        for line in _examples(run, name):
            if "--data mine.npz" in line:
                continue  # a placeholder: your own data
            args = shlex.split(line.split("|")[0], comments=True)
            assert args[0] == "saliency-cli"
            result = run(*args[1:])
            assert result.exit_code == 0, (line, result.stderr)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_has_help_whose_docstring_ends_with_an_example(name, run):
    result = run(name, "--help")
    assert result.exit_code == 0 and result.stdout.startswith(f"Usage: cli {name}")
    command = cli.get_command(None, name)
    last = command.help.strip().split("\n\n")[-1]
    assert last.lstrip("\b\n ").startswith("Example:") and "saliency-cli " + name in last
    # the help as shown ends with it too: after the options
    shown = result.stdout.rstrip().split("\n\n")[-1]
    assert shown.lstrip().startswith("Example:") and "saliency-cli " + name in shown, shown
    assert result.stdout.index("--help") < result.stdout.index("Example:")
    for opt in ("--quiet", "-q"):
        assert opt in result.stdout, f"{name} has no {opt}"


@pytest.mark.parametrize("name", sorted(TASK_OF))
def test_model_path_is_taken_by_every_command_that_explains_a_model(name, run, tmp_path):
    path = MODELS / f"{TASK_OF[name]}.npz"
    result = run(name, "--model", path, "--format", "json", *_args(name, tmp_path))
    assert result.exit_code == 0, result.stderr
    model = json.loads(result.stdout)["model"]
    assert model["path"] == str(path) and model["task"] == TASK_OF[name]


@pytest.mark.parametrize("name", sorted(FAST))
def test_format_json_gives_one_document_with_the_same_model_object(name, run, tmp_path):
    result = run(name, "--format", "json", *_args(name, tmp_path))
    assert result.exit_code == 0, result.stderr
    assert result.stdout.count("\n") == 1
    doc = json.loads(result.stdout)
    assert doc["command"] == name
    assert tuple(doc["model"]) == MODEL_KEYS
    assert len(doc["model"]["sha256"]) == 64 and doc["model"]["task"] in ("blobs6x6", "blobs8x8", "blobs8x8-gap")


def test_a_batch_document_has_the_model_object_too(run, tmp_path):
    path = tmp_path / "batch.npy"
    np.save(path, np.zeros((3, 2, 8, 8)))
    doc = json.loads(run("saliency", "--input", path, "--methods", "vanilla", "--format", "json").stdout)
    assert tuple(doc["model"]) == MODEL_KEYS and all(p["model"] == doc["model"] for p in doc["probes"])


def test_train_json_names_the_file_it_wrote(run, tmp_path):
    doc = json.loads(run("train", "--format", "json", *_args("train", tmp_path)).stdout)
    import hashlib

    path = Path(doc["model"]["path"])
    assert path == tmp_path / "m.npz" and doc["model"]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("name", sorted(FAST))
def test_no_color_is_accepted_by_every_command_that_prints(name, run, tmp_path):
    result = run(name, "--no-color", *_args(name, tmp_path))
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() and "\x1b[" not in result.stdout


@pytest.mark.parametrize("name", sorted(TASK_OF))
def test_quiet_silences_the_packaged_model_note(name, run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no ./models here: the packaged copy is used, with a note on stderr
    loud = run(name, *_args(name, tmp_path))
    assert loud.exit_code == 0 and "using the packaged" in loud.stderr
    quiet = run(name, "-q", *_args(name, tmp_path))
    assert quiet.exit_code == 0 and quiet.stderr == "" and quiet.stdout.splitlines()[0] == loud.stdout.splitlines()[0]


def test_quiet_silences_the_backup_note_of_train(run, tmp_path):
    assert run("train", *_args("train", tmp_path)).exit_code == 0
    again = run("train", "--seed", "1", *_args("train", tmp_path))
    assert "kept the previous model" in again.stderr
    quiet = run("train", "--seed", "2", "--quiet", *_args("train", tmp_path))
    assert quiet.exit_code == 0 and quiet.stderr == "" and (tmp_path / "m.npz.bak.1").exists()


# -- the same option means the same thing ---------------------------------------------------------


def test_train_examples_with_samples_as_a_hidden_alias(run, tmp_path):
    help_text = run("train", "--help").stdout
    assert "--examples" in help_text and "--samples" not in help_text
    out = tmp_path / "a.npz"
    doc = json.loads(
        run("train", "--task", "blobs6x6", "--epochs", "1", "--samples", "12", "-o", out, "--format", "json").stdout
    )
    assert doc["training"]["samples"] == 12 and out.exists()


def test_cam_methods_is_a_list_and_method_its_alias(run):
    one = json.loads(run("cam", "--method", "gradcam++", "--format", "json").stdout)
    assert one["method"] == "gradcam++"
    both = json.loads(run("cam", "--methods", "gradcam++,cam", "--format", "json").stdout)
    assert both["command"] == "cam" and [d["method"] for d in both["methods"]] == ["cam", "gradcam++"]
    assert both["methods"][1]["map"] == one["map"] and tuple(both["model"]) == MODEL_KEYS
    text = run("cam", "--methods", "cam,gradcam")
    assert text.exit_code == 0 and "CAM maps" in text.stdout and "Grad-CAM maps" in text.stdout
    # the probe's header and input once, then each method's own rows and maps
    out = text.stdout
    assert out.count("sha256") == 1 + out.count("parameter sha256") and out.count("input (scale") == 1
    assert out.count("explained ") == 1 and out.count("method ") == 2
    help_text = run("cam", "--help").stdout
    assert "--methods TEXT" in help_text and "--method," not in help_text and "--method TEXT" not in help_text


def test_errors_name_the_spelling_typed(run, tmp_path):
    """An option's errors name the option the user gave: a hidden alias as typed, --labels not --targets."""
    for typed, other in (("--method", "--methods"), ("--methods", "--method")):
        result = run("cam", typed, "nope")
        _one_line_error(result, f"Invalid value for '{typed}'")
        assert f"'{other}'" not in result.stderr
    _one_line_error(run("train", "--samples", "3", "-o", tmp_path / "m.npz"), "Invalid value for '--samples'")
    _one_line_error(run("cam", "--method", "cam", "--methods", "cam"), "--methods and --method are the same option")
    np.save(tmp_path / "x.npy", np.zeros((5, 2, 8, 8)))
    np.save(tmp_path / "masks.npy", np.ones((5, 2, 8, 8), dtype=bool))
    np.save(tmp_path / "labels.npy", np.zeros(7, dtype=np.int64))
    x, masks, labels = (str(tmp_path / n) for n in ("x.npy", "masks.npy", "labels.npy"))
    _one_line_error(
        run("evaluate", "--input", x, "--masks", masks, "--labels", labels), f"--labels {labels}: 7 labels for 5 probes"
    )
    _one_line_error(run("saliency", "--input", x, "--targets", labels), f"--targets {labels}: 7 targets for 5 probes")
    missing = str(tmp_path / "labels.txt")
    shot = tmp_path / "s.svg"
    result = run("explore", "--input", x, "--labels", missing, "--screenshot", shot)
    _one_line_error(result, f"--labels {missing}: no such file")
    assert "--targets" not in result.stderr and not shot.exists()


def test_cam_smooth_zero_is_off(run):
    off = json.loads(run("cam", "--smooth", "0", "--format", "json").stdout)
    plain = json.loads(run("cam", "--format", "json").stdout)
    assert off["smooth"] is None and off["map"] == plain["map"]


def test_models_takes_model_as_well_as_path(run):
    path = MODELS / "blobs6x6.npz"
    by_option = json.loads(run("models", "--model", path, "--format", "json").stdout)
    by_argument = json.loads(run("models", path, "--format", "json").stdout)
    assert by_option == by_argument and by_option["model"]["task"] == "blobs6x6"
    _one_line_error(run("models", path, "--model", path), "not both")


def test_noise_and_noise_frac_help_tell_them_apart(run):
    assert "not SmoothGrad's --noise-frac" in " ".join(run("sample", "--help").stdout.split())
    for name in ("saliency", "cam"):
        assert "not a task's --noise" in " ".join(run(name, "--help").stdout.split())


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["lrp", "--rule", "epsilon", "--gamma", "0.5"], "--gamma is not used by --rule epsilon"),
        (["lrp", "--rule", "gamma", "--alpha", "3"], "--alpha is not used by --rule gamma"),
        (["lrp", "--rule", "alpha-beta", "--eps", "0.1"], "--eps is not used by --rule alpha-beta"),
        (["lrp", "--rule", "zplus", "--eps", "0.1"], "--eps is not used"),
        (["lrp", "--compare", "--low", "0"], "--low/--high bound the zbox rule"),
        (["lrp", "--task", "blobs8x8", "--composite", "epsilon-alpha2-beta1", "--alpha", "3"], "free alpha"),
        (["lrp", "--task", "blobs8x8", "--composite", "epsilon-gamma-box", "--gamma", "0.3"], "--gamma is not used"),
        (["lrp", "--pool-rule", "proportional"], "no max-pooling layer"),
        (["lrp", "--task", "blobs8x8-gap", "--pool-rule", "proportional"], "no max-pooling layer"),
        (["saliency", "--methods", "vanilla,ig", "--samples", "4"], "--samples sets SmoothGrad"),
        (["saliency", "--methods", "ig", "--noise-frac", "0.2"], "--noise-frac sets SmoothGrad"),
        (["saliency", "--methods", "vanilla", "--steps", "8"], "--steps sets Integrated Gradients"),
        (["saliency", "--methods", "smoothgrad", "--baseline", "mean"], "--baseline sets Integrated Gradients"),
        (
            ["saliency", "--quadrature", "exact", "--steps", "8"],
            "exact IG has no steps (drop --steps, or give a K-step",
        ),
        (["cam", "--seed", "3"], "--seed only applies with --smooth"),
        (["cam", "--smooth", "0", "--sigma", "0.1"], "--sigma only applies with --smooth"),
        (["cost", "--methods", "vanilla", "--steps", "8"], "--steps sets Integrated Gradients"),
        (["cost", "--methods", "ig", "--samples", "8"], "--samples sets SmoothGrad"),
        (["cost", "--seed", "1"], "--seed seeds --size"),
        (["lrp", "--task", "blobs8x8", "--model", MODELS / "blobs6x6.npz"], "does not match the --model file's task"),
        (["models", "--task", "blobs8x8", MODELS / "blobs6x6.npz"], "give --task or a model file"),
    ],
)
def test_options_the_choice_ignores_are_refused(args, fragment, run):
    _one_line_error(run(*args), fragment)


@pytest.mark.parametrize("command", ["saliency", "lrp", "cam", "features"])
@pytest.mark.parametrize("option", [["--probe", "noisy"], ["--probe-seed", "3"]])
def test_a_builtin_probe_choice_with_input_is_refused(command, option, run, tmp_path):
    path = tmp_path / "x.npy"
    np.save(path, np.zeros((1, 6, 6) if command == "lrp" else (2, 8, 8)))
    _one_line_error(run(command, "--input", path, *option), f"{option[0]} picks a built-in probe")
    assert run(command, "--input", path, "--format", "json").exit_code == 0


def test_options_the_choice_reads_still_work(run):
    for args in (
        ["lrp", "--rule", "gamma", "--gamma", "0.5", "--eps", "0.1"],
        ["lrp", "--compare", "--alpha", "3", "--gamma", "0.1"],
        ["lrp", "--task", "blobs8x8", "--pool-rule", "proportional", "--first-rule", "zbox", "--low", "0"],
        ["saliency", "--methods", "ig", "--quadrature", "right", "--steps", "8"],
        ["saliency", "--methods", "ig", "--smooth", "2", "--noise-frac", "0.1"],
        ["saliency", "--score", "probability", "--methods", "ig", "--steps", "8"],  # falls back to right
        ["lrp", "--task", "blobs6x6", "--model", MODELS / "blobs6x6.npz"],  # --task agrees with the file
    ):
        assert run(*args, "--format", "json").exit_code == 0, args


# -- hints ------------------------------------------------------------------------------------------


def _npy(array) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


@pytest.mark.parametrize(
    "command, shape, tasks",
    [
        ("lrp", (2, 8, 8), ["--task blobs8x8 or --task blobs8x8-gap"]),
        ("saliency", (1, 6, 6), ["--task blobs6x6"]),
        ("saliency", (3, 1, 6, 6), ["--task blobs6x6"]),
        ("cam", (1, 6, 6), ["--task blobs6x6"]),
        ("features", (1, 6, 6), ["--task blobs6x6"]),
        ("lrp", (3, 5, 5), ["no built-in task takes that shape"]),
    ],
)
def test_a_shape_mismatch_names_the_tasks_that_fit(command, shape, tasks, run):
    _one_line_error(run(command, "--input", "-", input=_npy(np.zeros(shape))), "does not match", *tasks)


def test_sample_piped_into_lrp_names_the_fitting_task(run):
    sample = run("sample")
    _one_line_error(run("lrp", "--input", "-", input=sample.stdout_bytes), "--task blobs8x8")


def test_features_on_a_dense_model_does_not_blame_an_unasked_layer(run):
    result = run("features", "--task", "blobs6x6")
    _one_line_error(result, "no layer with feature maps", "--task blobs8x8")
    assert "--layer" not in result.stderr
    _one_line_error(run("features", "--task", "blobs6x6", "--layer", "dense1"), "--layer dense1")


# -- files ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["train", "--task", "blobs6x6", "--epochs", "1", "-o", "{}/m.npz"],
        ["sample", "-o", "{}/x.npy"],
        ["sample", "--count", "4", "-o", "x.npy", "--labels-out", "{}/y.npy"],
        ["saliency", "--export", "{}/r.svg"],
        ["models", "--export", "{}/m.txt"],
    ],
)
def test_no_writer_creates_a_missing_directory(args, run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    missing = tmp_path / "missing" / "dir"
    result = run(*[a.format(missing) for a in args])
    _one_line_error(result, f"directory {missing} does not exist; create it first")
    assert not (tmp_path / "missing").exists() and not (tmp_path / "x.npy").exists()


# -- help -------------------------------------------------------------------------------------------


def test_bare_command_shows_the_whole_help(run):
    result = run()
    assert result.exit_code == 0 and result.stderr == ""
    assert result.stdout == run("--help").stdout
    for name, text in SHORT_HELP.items():
        assert f"{name}  " in result.stdout and text in result.stdout  # not truncated


def _help_in_a_terminal(columns: int, *args: str) -> list[str]:
    """The help as the installed command prints it with COLUMNS set (CliRunner forces 80 columns)."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": str(columns)}
    out = subprocess.run(
        [sys.executable, "-m", "saliency_cli", *args, "--help"], capture_output=True, text=True, env=env, check=True
    )
    return out.stdout.splitlines()


def test_main_help_fits_80_columns_untruncated():
    lines = _help_in_a_terminal(80)
    assert max(map(len, lines)) <= 80
    commands = lines[lines.index("Commands:") + 1 :]
    assert len(commands) == len(COMMANDS) and not any(line.endswith("...") for line in commands)


@pytest.mark.parametrize("columns, widest", [(60, 60), (100, 100), (200, 120)])
def test_help_uses_the_terminal_width_up_to_120(columns, widest):
    lines = _help_in_a_terminal(columns, "saliency")
    prose = lines[: lines.index("What is explained:")]  # examples and option names (--quadrature [...]) do not wrap
    assert widest - 12 <= max(map(len, prose)) <= widest


def test_saliency_help_groups_its_options(run):
    text = run("saliency", "--help").stdout
    headings = ["What is explained:", "Methods:", "Integrated Gradients:", "Output:"]
    positions = [text.index(f"\n{h}\n") for h in headings]
    assert positions == sorted(positions)
    methods = text[positions[1] : positions[2]]
    assert "--samples" in methods and "--noise-frac" in methods and "--steps" not in methods
    assert "--steps" in text[positions[2] : positions[3]] and "--format" in text[positions[3] :]


def test_main_help_loads_no_command_module():
    probe = (
        "import sys\n"
        "from saliency_cli.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = ('numpy', 'rich', 'saliency_cli.nn', 'saliency_cli.methods', 'saliency_cli.reports', "
        + ", ".join(repr(f"saliency_cli.cli.{name}") for name in COMMANDS)
        + ")\n"
        "print('LOADED', sorted(m for m in sys.modules if m.startswith(heavy)), file=sys.stderr)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=False)
    assert "Commands:" in out.stdout and "LOADED [" in out.stderr
    assert out.stderr.split("LOADED ", 1)[1].strip() == "[]"


def test_a_piped_json_run_loads_no_rich_and_its_command_runs_with_the_collector_on(tmp_path):
    # From a directory without ./models, so that the packaged-model note is written (plainly: stderr is a pipe).
    probe = (
        "import gc, sys\n"
        "import saliency_cli.cli.common as common\n"
        "load = common.load_network\n"
        "def load_network(*args):\n"
        "    print('COLLECTOR ON', gc.isenabled(), file=sys.stderr)\n"
        "    return load(*args)\n"
        "common.load_network = load_network\n"
        "from saliency_cli.cli import main\n"
        "try:\n    main(['saliency', '--probe', 'clean', '--format', 'json'])\nexcept SystemExit:\n    pass\n"
        "print('LOADED', [m for m in ('rich', 'zipfile', 'pathlib') if m in sys.modules], file=sys.stderr)\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "TTY_COMPATIBLE")}
    env["PYTHONPATH"] = str(REPO)
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert json.loads(out.stdout)["methods"]
    lines = out.stderr.splitlines()
    assert lines[0] == "COLLECTOR ON True" and lines[-1] == "LOADED []"
    assert lines[1].startswith("using the packaged blobs8x8 model: ") and "\x1b" not in out.stderr


@pytest.mark.parametrize("variable", ["FORCE_COLOR", "TTY_COMPATIBLE"])
def test_plain_stderr_leaves_forced_terminals_to_rich(variable, monkeypatch, capsys):
    from saliency_cli.cli.common import plain_stderr

    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("TTY_COMPATIBLE", raising=False)
    assert plain_stderr()  # captured: not a terminal
    monkeypatch.setenv(variable, "1")
    assert not plain_stderr()


# -- completion -------------------------------------------------------------------------------------


def test_shell_completion_of_the_group_name():
    env = {"_SALIENCY_CLI_COMPLETE": "bash_complete", "COMP_WORDS": "saliency-cli sal", "COMP_CWORD": "1"}
    result = CliRunner(env=env).invoke(cli, [], prog_name="saliency-cli")
    assert result.exit_code == 0 and result.stdout.split() == ["plain,saliency"]
    env = {"_SALIENCY_CLI_COMPLETE": "bash_complete", "COMP_WORDS": "saliency-cli lrp --ru", "COMP_CWORD": "2"}
    result = CliRunner(env=env).invoke(cli, [], prog_name="saliency-cli")
    assert result.stdout.split() == ["plain,--rule"]


@pytest.mark.parametrize("shell, marker", [("bash", "complete -o"), ("zsh", "compdef"), ("fish", "complete")])
def test_shell_completion_scripts_come_from_the_installed_command(shell, marker):
    env = {**os.environ, "PYTHONPATH": str(REPO), "_SALIENCY_CLI_COMPLETE": f"{shell}_source"}
    out = subprocess.run(
        [sys.executable, "-m", "saliency_cli"], capture_output=True, text=True, env=env, check=False, timeout=60
    )
    assert out.returncode == 0 and marker in out.stdout and "_SALIENCY_CLI_COMPLETE" in out.stdout


@pytest.mark.parametrize("name", ["saliency", "lrp", "cam"])
def test_grouped_help_puts_every_option_under_a_heading(name, run):
    from saliency_cli.cli.help import GroupedCommand

    command = cli.get_command(None, name)
    assert isinstance(command, GroupedCommand)
    grouped = {n for _, names in command.option_groups for n in names}
    loose = [p.opts[0] for p in command.params if isinstance(p, click.Option) and p.name not in grouped]
    assert loose == [], f"{name}: options outside the help's sections"
    text = run(name, "--help").stdout
    rest = text.split("Other options:", 1)[1].split("Example:")[0]
    assert rest.split() == ["-h,", "--help", "Show", "this", "message", "and", "exit."]
