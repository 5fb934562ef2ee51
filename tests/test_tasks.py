"""The blob tasks: pixel model, masks, coordinates and determinism."""

from __future__ import annotations

import numpy as np
import pytest

from saliency_cli.tasks import TASKS


def test_blobs8x8_class_masks_are_3x3_at_the_documented_corners():
    task = TASKS["blobs8x8"]
    m0, m1 = task.mask(0), task.mask(1)
    assert m0.shape == (2, 8, 8) and m0.sum() == 9 and m1.sum() == 9
    # class 0: centred at x=1, y=1 on channel 0 -> rows and columns 0..2
    assert m0[0, 0:3, 0:3].all() and not m0[1].any()
    # class 1: centred at x=6, y=6 on channel 1 -> rows and columns 5..7
    assert m1[1, 5:8, 5:8].all() and not m1[0].any()


def test_blobs6x6_masks_are_2x2_corners():
    task = TASKS["blobs6x6"]
    assert task.mask(0)[0, 0:2, 0:2].all() and task.mask(0).sum() == 4
    assert task.mask(1)[0, 4:6, 4:6].all() and task.mask(1).sum() == 4


@pytest.mark.parametrize("name", sorted(name for name, task in TASKS.items() if task.generated))
def test_pixel_model(name):
    task = TASKS[name]
    x, y, masks = task.sample(500, np.random.default_rng(1), noise=0.1)
    assert x.shape == (500, *task.input_shape) and set(np.unique(y)) == {0, 1}
    blob, background = x[masks], x[~masks]
    assert blob.min() >= 1.0 and blob.max() < 1.2
    assert background.min() >= 0.0 and background.max() < 0.1
    for i in range(5):
        np.testing.assert_array_equal(masks[i], task.mask(int(y[i])))


def test_sampling_is_deterministic_and_labels_can_be_forced():
    task = TASKS["blobs8x8"]
    a = task.sample(10, np.random.default_rng(7), labels=1)
    b = task.sample(10, np.random.default_rng(7), labels=1)
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(u, v)
    assert (a[1] == 1).all()
    x, label, mask = task.probe("noisy")
    assert label == 1 and x[~mask].max() < 0.45 and x[~mask].max() > 0.1
    np.testing.assert_array_equal(task.probe("clean", seed=3)[0], task.probe("clean", seed=3)[0])
    assert not np.array_equal(task.probe("clean", seed=3)[0], task.probe("clean", seed=4)[0])
