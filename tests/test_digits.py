"""The digits data set and task: the shipped file, the stratified split, probes, training and sampling."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest

from saliency_cli.datasets import DIGITS_FILE, DataError, load_digits, stratified_split
from saliency_cli.errors import UserError
from saliency_cli.nn.modelfile import load_model, model_bytes
from saliency_cli.nn.train import TrainConfig
from saliency_cli.tasks import TASKS
from saliency_cli.training import train_task


def test_the_shipped_file_loads_as_1797_images_of_0_to_16_with_their_digits():
    x, y = load_digits()
    assert x.shape == (1797, 8, 8) and x.dtype == np.uint8 and y.shape == (1797,)
    assert x.min() == 0 and x.max() == 16
    assert np.bincount(y).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    # the first row of the file, read independently of the loader
    first = gzip.decompress(open(DIGITS_FILE, "rb").read()).split(b"\n")[0].split(b",")
    assert x[0].ravel().tolist() == [int(v) for v in first[:64]] and y[0] == int(first[64])


def test_a_changed_data_file_is_refused(tmp_path):
    raw = bytearray(open(DIGITS_FILE, "rb").read())
    raw[-20] ^= 1
    bad = tmp_path / "digits.csv.gz"
    bad.write_bytes(bytes(raw))
    with pytest.raises(DataError, match="SHA-256"):
        load_digits(str(bad))
    with pytest.raises(DataError, match="cannot be read"):
        load_digits(str(tmp_path / "missing.csv.gz"))


def test_the_stratified_split_holds_out_a_fifth_of_every_class_disjointly_and_repeatably():
    _, y = load_digits()
    train, held = stratified_split(y, 0.2, 0)
    assert len(train) == 1438 and len(held) == 359
    assert np.intersect1d(train, held).size == 0 and np.union1d(train, held).tolist() == list(range(1797))
    per_class = np.bincount(y[held], minlength=10)
    np.testing.assert_array_equal(per_class, np.round(0.2 * np.bincount(y)))
    again = stratified_split(y, 0.2, 0)
    assert np.array_equal(again[1], held) and not np.array_equal(stratified_split(y, 0.2, 1)[1], held)


def test_a_small_class_keeps_one_training_example_and_gives_one_held_out():
    y = np.array([0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1])
    train, held = stratified_split(y, 0.2, 0)
    assert np.bincount(y[held]).tolist() == [1, 2] and np.bincount(y[train]).tolist() == [1, 8]


def test_digits_probes_are_held_out_images_with_labels_and_no_masks():
    task = TASKS["digits"]
    x_held, y_held = task.held_out()
    assert x_held.shape == (359, 1, 8, 8) and x_held.min() == 0.0 and x_held.max() == 1.0
    x, label, mask = task.probe("held-out:7")
    np.testing.assert_array_equal(x, x_held[7])
    assert label == y_held[7] and mask is None and task.mask(label) is None
    np.testing.assert_array_equal(task.probe("held-out")[0], x_held[0])
    for name, message in [("held-out:359", "0..358"), ("clean", "no generated probes"), ("held-out:x", "number")]:
        with pytest.raises(UserError, match=message):
            task.probe(name)
    with pytest.raises(UserError, match="probe-seed"):
        task.probe("held-out:1", seed=3)


def test_train_digits_reaches_095_held_out_and_gives_the_same_bytes_for_a_seed(run, tmp_path):
    out = tmp_path / "digits.npz"
    result = run("train", "--task", "digits", "--out", out, "--format", "json")
    assert result.exit_code == 0, result.stderr
    record = json.loads(result.stdout)["training"]
    assert record["held_out_accuracy"] >= 0.95 and record["epochs"] == 20
    assert record["samples"] == 1438 and record["held_out_samples"] == 359
    data = record["data"]
    assert data["files"][0]["sha256"] == "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22"
    assert data["shape"] == [1797, 1, 8, 8] and data["classes"] == 10 and data["holdout"] == 0.2
    net = load_model(out)
    assert net.task == "digits" and net.input_shape == (1, 8, 8) and net.num_classes == 10
    # the same training in this process: the same bytes
    again, _ = train_task(TASKS["digits"], TrainConfig(epochs=20, seed=0))
    assert model_bytes(again) == out.read_bytes()


def test_train_digits_refuses_examples(run, tmp_path):
    result = run("train", "--task", "digits", "--examples", "100", "--out", tmp_path / "m.npz")
    assert result.exit_code == 2 and "split of task digits is fixed" in result.stderr
    assert not (tmp_path / "m.npz").exists()


def test_sample_digits_writes_held_out_images_and_labels_and_refuses_masks(run, tmp_path):
    x_path, y_path = tmp_path / "x.npy", tmp_path / "y.npy"
    result = run("sample", "--task", "digits", "--count", "12", "--out", x_path, "--labels-out", y_path)
    assert result.exit_code == 0, result.stderr
    x_held, y_held = TASKS["digits"].held_out()
    np.testing.assert_array_equal(np.load(x_path), x_held[:12])
    np.testing.assert_array_equal(np.load(y_path), y_held[:12])
    sevens = tmp_path / "sevens.npy"
    assert run("sample", "--task", "digits", "--label", "7", "--count", "3", "--out", sevens).exit_code == 0
    np.testing.assert_array_equal(np.load(sevens), x_held[y_held == 7][:3])
    for args, message in [
        (["--masks-out", tmp_path / "m.npy"], "no ground-truth masks"),
        (["--noise", "0.3"], "images of task digits are fixed"),
        (["--count", "360"], "359 held-out images"),
    ]:
        result = run("sample", "--task", "digits", "--out", tmp_path / "z.npy", *args)
        assert result.exit_code == 2 and message in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("command", ["saliency", "lrp", "cam", "features"])
def test_every_command_explains_held_out_image_0_by_default_and_held_out_n_on_request(command, run):
    args = ["--methods", "gradcam"] if command == "cam" else []
    result = run(command, "--task", "digits", *args, "--format", "json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert "held-out:0" in json.dumps(doc)
    result = run(command, "--task", "digits", *args, "--probe", "held-out:5", "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert "held-out:5" in result.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["--task", "digits", "--probe", "noisy"], "no generated probes"),
        (["--task", "digits", "--probe", "held-out:999"], "0..358"),
        (["--task", "digits", "--probe-seed", "2"], "probe-seed"),
        (["--task", "blobs8x8", "--probe", "held-out:1"], "clean and noisy"),
        (["--probe", "held-out:-1"], "held-out:N"),
        (["--task", "digits", "--probe", "held-out:\u0663"], "must be an image number"),  # an Arabic-Indic 3
        (["--task", "digits", "--probe", "held-out:\u00b3"], "must be an image number"),  # a superscript 3
    ],
)
def test_probes_a_task_does_not_have_are_refused_in_one_line(args, message, run):
    result = run("saliency", *args)
    assert result.exit_code == 2 and message in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_explore_steps_through_the_held_out_digits_with_their_labels(shipped):
    pytest.importorskip("textual")
    from saliency_cli.explore.app import ExploreApp
    from saliency_cli.explore.samples import generated_set
    from saliency_cli.explore.state import Selection
    from tests.test_explore_app import drive, screen, settle

    net = shipped("digits")
    samples = generated_set(net, 5, 0)
    _, y_held = TASKS["digits"].held_out()
    assert [p.source for p in samples.probes] == [f"digits held-out:{k}" for k in range(5)]
    assert [p.label for p in samples.probes] == y_held[:5].tolist() and all(p.mask is None for p in samples.probes)
    app = ExploreApp(net, samples, Selection(), seed=0)
    seen = []

    async def script(pilot):
        seen.append(screen(app))
        await pilot.press("right", "right")
        await settle(app, pilot)
        seen.append(screen(app))

        await pilot.press("e")
        await settle(app, pilot)
        seen.append(screen(app))

    drive(app, script)
    assert "evaluate: 5 probes" in seen[2] and "insertion" in seen[2] and "pointing" not in seen[2], seen[2]
    assert app.evaluation.evaluation.probes.masks is None and "auc" not in app.evaluation.metrics
    assert "digits held-out:0" in seen[0] and f"true class {y_held[0]}" in seen[0]
    assert "digits held-out:2" in seen[1] and f"true class {y_held[2]}" in seen[1]
    assert "IG exact" in seen[1] and "LRP epsilon" in seen[1]


def test_evaluate_digits_scores_faithfulness_and_sanity_on_held_out_images_and_says_why_not_localisation(run, shipped):
    args = ["evaluate", "--task", "digits", "--probes", "12", "--methods", "ig,lrp:epsilon", "--resamples", "50"]
    result = run(*args, "--format", "json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["probes"] == 12 and doc["settings"]["ground_truth_masks"] is False
    assert "held-out" in doc["settings"]["source"] and doc["settings"]["noise"] is None
    assert list(doc["metrics"]) == ["deletion", "insertion", "abpc", "mprt", "random-logit", "mprt-signed",
                                    "random-logit-signed", "conservation"]  # fmt: skip
    x_held, y_held = TASKS["digits"].held_out()
    wrong = int((shipped("digits").predict_logits(x_held[:12]).argmax(axis=1) != y_held[:12]).sum())
    assert doc["wrong"] == wrong
    ig = doc["methods"]["ig"]
    assert ig["conservation"]["mean"] < 1e-9  # exact IG: completeness to round-off
    assert ig["insertion"]["mean"] > doc["methods"]["random"]["insertion"]["mean"]
    text = run(*args, "--no-color")
    assert text.exit_code == 0 and "no localisation metrics (pointing-game" in text.stdout
    assert text.stdout.count("pointing") == 1 and "deletion" in text.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["--metrics", "auc,deletion"], "--metrics auc needs ground-truth masks"),
        (["--include-wrong"], "--include-wrong"),
        (["--noise", "0.1"], "--noise sets a blob task's generator"),
        (["--probes", "360"], "359 held-out images"),
    ],
)
def test_evaluate_digits_refuses_what_needs_masks_or_a_generator(args, message, run):
    result = run("evaluate", "--task", "digits", "--methods", "ig", *args)
    assert result.exit_code == 2 and message in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
