"""The probe set of an evaluation: inputs, ground-truth masks, labels and noise levels.

Either drawn from a task's generator (seeded, class-balanced, spread over noise levels, from a random
stream that training never uses), a data task's held-out images (labelled, without masks), or handed in by
a user as arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import UserError

#: NOTE: training draws its data from default_rng([seed, 1]); probes come from [seed, 2, ...], a
#: different stream for every seed, so a probe set never repeats a training set.
PROBE_STREAM = 2

#: the most probes one evaluation takes (bounded before anything is allocated)
MAX_PROBES = 100_000


#: Why an evaluation without ground-truth masks has no localisation metrics.
NO_MASKS = (
    "no localisation metrics (pointing-game, mass-accuracy, rank-accuracy, auc): the probes have no "
    "ground-truth masks (real images do not say where a class's evidence is)"
)


@dataclass
class ProbeSet:
    """N probes: x (N, C, H, W), boolean masks (N, C, H, W) or None (no ground truth), labels (N,) or None,
    noise (N,) or None."""

    x: np.ndarray
    masks: np.ndarray | None
    labels: np.ndarray | None
    noise: np.ndarray | None
    source: str

    def __len__(self) -> int:
        return len(self.x)

    def take(self, rows: slice) -> ProbeSet:
        pick = lambda a: None if a is None else a[rows]  # noqa: E731
        return ProbeSet(self.x[rows], pick(self.masks), pick(self.labels), pick(self.noise), self.source)


def task_probes(task, count: int, noises, seed: int) -> ProbeSet:
    """`count` probes of `task`: labels cycle through the classes, and each class's probes cycle through
    the noise levels, so classes are balanced and every (class, noise) cell is within one of the others.

    Probe i has label i mod K and noise noises[(i // K) mod L]; each noise level is drawn in one batch
    from the stream (seed, PROBE_STREAM, level index).
    """
    if not 1 <= count <= MAX_PROBES:
        raise UserError(f"--probes must be between 1 and {MAX_PROBES}, got {count}")
    noises = [float(v) for v in noises]
    k = len(task.classes)
    labels = np.arange(count) % k
    level = (np.arange(count) // k) % len(noises)
    x = np.empty((count, *task.input_shape))
    masks = np.empty((count, *task.input_shape), dtype=bool)
    for li, noise in enumerate(noises):
        rows = np.flatnonzero(level == li)
        if len(rows):
            rng = np.random.default_rng([int(seed), PROBE_STREAM, li])
            x[rows], _, masks[rows] = task.sample(len(rows), rng, noise=noise, labels=labels[rows])
    return ProbeSet(x, masks, labels, np.asarray(noises)[level], f"{task.name} generator (seed {seed})")


def held_out_probes(task, count: int | None) -> ProbeSet:
    """A data task's held-out images with their labels and no masks: all of them, or the first `count`."""
    x, y = task.held_out()
    if count is not None and count > len(x):
        raise UserError(f"--probes {count}: task {task.name} has {len(x)} held-out images")
    n = len(x) if count is None else count
    which = f"all {n}" if n == len(x) else f"the first {n} of {len(x)}"
    return ProbeSet(x[:n], None, y[:n], None, f"{task.name} held-out images ({which})")


def check_masks(masks: np.ndarray, shape: tuple[int, ...], name: str = "--masks") -> np.ndarray:
    """Boolean masks (N, C, H, W) from an array of booleans or 0/1 values; one clear error otherwise."""
    m = np.asarray(masks)
    if m.ndim == len(shape):
        m = m[None]
    if m.shape[1:] != tuple(shape):
        raise UserError(f"{name}: shape {m.shape} does not match the inputs' (N, *{tuple(shape)})")
    if m.dtype != bool:
        if m.dtype.kind not in "biuf" or not np.isin(m, (0, 1)).all():
            raise UserError(f"{name}: masks must be boolean or 0/1")
        m = m.astype(bool)
    empty = ~m.reshape(len(m), -1).any(axis=1)
    if empty.any():
        raise UserError(f"{name}: probe {int(np.argmax(empty))} has an empty mask (nothing to localise)")
    return m


def user_probes(x: np.ndarray, masks: np.ndarray | None, labels, input_shape, source: str) -> ProbeSet:
    """A user's batch: x (N, C, H, W) or (C, H, W), masks of the same shape or None, labels (N,) or None."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == len(input_shape):
        x = x[None]
    if x.shape[1:] != tuple(input_shape):
        raise UserError(f"--input: shape {x.shape} does not match the model's input (N, *{tuple(input_shape)})")
    if not 1 <= len(x) <= MAX_PROBES:
        raise UserError(f"--input: between 1 and {MAX_PROBES} probes are evaluated, got {len(x)}")
    m = None if masks is None else check_masks(masks, input_shape)
    if m is not None and len(m) != len(x):
        raise UserError(f"--masks: {len(m)} masks for {len(x)} inputs")
    if labels is not None:
        labels = np.asarray(labels, dtype=np.int64).reshape(-1)
        if len(labels) != len(x):
            raise UserError(f"--labels: {len(labels)} labels for {len(x)} inputs")
    return ProbeSet(x, m, labels, None, source)


def model_task_probes(net, count: int | None, noises, seed: int, noise_given: bool) -> ProbeSet:
    """The probes of `net`'s task: `count` (None: 200) drawn from a blob task's generator over the levels
    `noises`, or the first `count` (None: all) held-out images of a data task, which refuses --noise
    (`noise_given`). A model whose task has no probes is refused, saying to give --input."""
    from ..tasks import no_task_for, task_of

    known = task_of(net)  # NOTE: the file's task name counts only with the task's input shape and classes
    if known is None:
        raise UserError(f"{no_task_for(net, 'probe generator')}; pass --input (with --masks and --labels)")
    if not known.generated:
        if noise_given:
            raise UserError(
                f"--noise sets a blob task's generator; task {known.name} is evaluated on its held-out images"
            )
        return held_out_probes(known, count)
    return task_probes(known, 200 if count is None else count, noises, seed)
