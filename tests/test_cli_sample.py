"""`saliency-cli sample --count N`: a batch with its labels and masks, as the task generator makes them."""

from __future__ import annotations

import io

import numpy as np
import pytest

from saliency_cli.tasks import TASKS


@pytest.mark.parametrize(("task", "count"), [("blobs8x8", 7), ("blobs6x6", 10), ("blobs8x8-gap", 1)])
def test_count_writes_a_balanced_batch_with_labels_and_masks(task, count, run, tmp_path):
    out, labels, masks = tmp_path / "x.npy", tmp_path / "y.npy", tmp_path / "m.npy"
    args = ["sample", "--task", task, "--count", count, "--noise", "0.3", "--seed", "11"]
    result = run(*args, "--out", out, "--labels-out", labels, "--masks-out", masks)
    assert result.exit_code == 0, result.stderr
    x, y, m = (np.load(p, allow_pickle=False) for p in (out, labels, masks))
    spec = TASKS[task]
    assert x.shape == (count, *spec.input_shape) and x.dtype == np.float64
    assert y.shape == (count,) and y.dtype == np.int64
    assert m.shape == x.shape and m.dtype == np.bool_
    counts = np.bincount(y, minlength=len(spec.classes))
    assert counts.max() - counts.min() <= 1 and counts.sum() == count
    # the same arrays as the generator for that seed: labels balanced, then shuffled by the same rng
    rng = np.random.default_rng(11)
    want_y = rng.permutation(np.arange(count) % len(spec.classes))
    want_x, _, want_m = spec.sample(count, rng, noise=0.3, labels=want_y)
    np.testing.assert_array_equal(y, want_y)
    np.testing.assert_array_equal(x, want_x)
    np.testing.assert_array_equal(m, want_m)
    # every mask is its label's blob, and the blob pixels are the bright ones
    for xi, yi, mi in zip(x, y, m, strict=True):
        np.testing.assert_array_equal(mi, spec.mask(int(yi)))
        assert xi[mi].min() >= 1.0 and xi[~mi].max() < 0.3


def test_count_to_stdout_feeds_a_batch_command_and_label_fixes_the_class(run):
    result = run("sample", "--count", "4", "--label", "1", "--seed", "2")
    assert result.exit_code == 0
    x = np.load(io.BytesIO(result.stdout_bytes), allow_pickle=False)
    assert x.shape == (4, 2, 8, 8) and x[:, 1, 5:8, 5:8].min() >= 1.0
    assert run("sample", "--count", "4", "--seed", "2").stdout_bytes != result.stdout_bytes


def test_a_single_sample_is_unchanged_and_can_write_its_label_and_mask(run, tmp_path):
    result = run(
        "sample", "--label", "1", "--seed", "5", "--labels-out", tmp_path / "y.npy", "--masks-out", tmp_path / "m.npy"
    )
    assert result.exit_code == 0, result.stderr
    x = np.load(io.BytesIO(result.stdout_bytes))
    want, _, mask = TASKS["blobs8x8"].sample(1, np.random.default_rng(5), noise=0.1, labels=1)
    np.testing.assert_array_equal(x, want[0])
    assert np.load(tmp_path / "y.npy").shape == () and int(np.load(tmp_path / "y.npy")) == 1
    np.testing.assert_array_equal(np.load(tmp_path / "m.npy"), mask[0])


@pytest.mark.parametrize("option", ["--out", "--labels-out", "--masks-out"])
def test_existing_files_are_refused_without_force_and_nothing_is_written(option, run, tmp_path):
    paths = {"--out": tmp_path / "x.npy", "--labels-out": tmp_path / "y.npy", "--masks-out": tmp_path / "m.npy"}
    paths[option].write_bytes(b"precious")
    args = ["sample", "--count", "3"] + [str(a) for pair in paths.items() for a in pair]
    result = run(*args)
    assert result.exit_code == 2 and "refusing to overwrite" in result.stderr and "--force" in result.stderr
    assert result.stderr.count("\n") == 1
    assert paths[option].read_bytes() == b"precious"
    assert [p for p in paths.values() if p.exists()] == [paths[option]]  # nothing else written either
    assert run(*args, "--force").exit_code == 0
    assert np.load(paths["--labels-out"]).shape == (3,)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--count", "0"], "--count"),
        (["--count", "3", "--label", "2"], "out of range"),
        (["--count", "3", "--labels-out", "-"], "give a file name"),
        (["--count", "3", "--out", "{d}/a.npy", "--masks-out", "{d}/a.npy"], "the same file as --out"),
        (["--count", "3", "--labels-out", "{d}"], "is a directory"),
        (
            ["--count", "3", "--labels-out", "{d}/labels.txt"],
            "--labels-out {d}/labels.txt: give a file name ending in .npy",
        ),
        (["--count", "3", "--masks-out", "{d}/masks"], "--masks-out {d}/masks: give a file name ending in .npy"),
        (["--out", "{d}/probe.npz"], "--out {d}/probe.npz: give a file name ending in .npy"),
    ],
)
def test_bad_sample_options_are_one_line_and_exit_2(args, words, run, tmp_path):
    result = run("sample", *[a.format(d=tmp_path) for a in args])
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and words.format(d=tmp_path) in result.stderr, result.stderr
    assert list(tmp_path.iterdir()) == []  # nothing written when one name is refused


def test_a_npy_name_in_capitals_is_written(run, tmp_path):
    result = run("sample", "--count", "2", "--out", tmp_path / "X.NPY", "--labels-out", tmp_path / "Y.Npy")
    assert result.exit_code == 0, result.stderr
    assert np.load(tmp_path / "X.NPY").shape == (2, 2, 8, 8) and np.load(tmp_path / "Y.Npy").dtype == np.int64
