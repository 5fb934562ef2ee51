"""The probes an explorer session steps through: a seeded, class-balanced set from the task generator at
several noise levels (a data task: its first held-out images), or a user's own batch with optional labels."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import UserError
from ..inputs import Probe, check_finite_pass
from ..tasks import TASKS, no_task_for

#: Background noise levels of the generated set (training noise is 0.1; the `noisy` probe uses 0.45).
NOISE_LEVELS: tuple[float, ...] = (0.05, 0.15, 0.30, 0.45)


@dataclass
class SampleSet:
    """Probes in order; `noise[i]` is probe i's noise level (None for a user's input)."""

    probes: list[Probe]
    noise: list[float | None]
    origin: str  # how the set was made, for the header

    def __len__(self) -> int:
        return len(self.probes)

    @property
    def levels(self) -> list[float]:
        """The distinct noise levels, in order (empty for a user's input)."""
        return sorted({n for n in self.noise if n is not None})

    def next_level(self, index: int, step: int = 1) -> int:
        """The sample at the same position within the next (or previous) noise level's block."""
        levels = self.levels
        if not levels or self.noise[index] is None:
            return index
        blocks = [[i for i, n in enumerate(self.noise) if n == level] for level in levels]
        here = levels.index(self.noise[index])
        offset = blocks[here].index(index)
        target = blocks[(here + step) % len(blocks)]
        return target[min(offset, len(target) - 1)]


def task_of(net):
    """The model's task when its input shape matches it, else None (a model made for other data)."""
    task = TASKS.get(net.task or "")
    return task if task is not None and tuple(task.input_shape) == tuple(net.input_shape) else None


def generated_set(net, count: int, seed: int, levels=NOISE_LEVELS) -> SampleSet:
    """`count` probes of the model's task, sorted by noise level, labels alternating within each level.

    Sample j has level j * L // count, so the levels get equal shares (+-1); each level draws from its own
    generator seeded by (seed, level index), so a level's probes do not depend on the others.
    """
    task = task_of(net)
    if task is None:
        raise UserError(f"{no_task_for(net, 'probe generator')}; pass --input FILE.npy (N, C, H, W)")
    if not task.generated:
        return held_out_set(net, task, count)
    per_level = np.bincount(np.arange(count) * len(levels) // count, minlength=len(levels))
    probes: list[Probe] = []
    noise: list[float | None] = []
    for li, (level, n) in enumerate(zip(levels, per_level, strict=True)):
        if n == 0:
            continue
        labels = np.arange(n) % len(task.classes)
        x, y, masks = task.sample(int(n), np.random.default_rng([seed, li]), noise=level, labels=labels)
        for k in range(int(n)):
            source = f"{task.name} noise {level:g} #{k} (seed {seed})"
            probes.append(Probe(x=x[k], source=source, label=int(y[k]), mask=masks[k]))
            noise.append(level)
    check_finite_pass(net, np.stack([p.x for p in probes]), "probes")
    return SampleSet(probes, noise, f"{count} generated probes, seed {seed}, noise {', '.join(map(str, levels))}")


def held_out_set(net, task, count: int) -> SampleSet:
    """A data task's first `count` held-out images (all of them when there are fewer), with their labels."""
    from ..tasks import HELD_OUT

    x, y = task.held_out()
    n = min(count, len(x))
    probes = [Probe(x=x[k], source=f"{task.name} {HELD_OUT}:{k}", label=int(y[k]), mask=None) for k in range(n)]
    check_finite_pass(net, x[:n], "probes")
    return SampleSet(probes, [None] * n, f"{task.name}: the first {n} of {len(x)} held-out images")


def user_set(net, x: np.ndarray, name: str, labels: np.ndarray | None = None) -> SampleSet:
    """A user's array (C, H, W) or (N, C, H, W), checked against the model; masks from the task when labelled."""
    shape = tuple(net.input_shape)
    if x.shape == shape:
        x = x[None]
    if x.ndim != 4 or x.shape[1:] != shape or len(x) == 0:
        raise UserError(f"{name}: shape {x.shape} does not match the model's input {shape} (C, H, W) or a batch of it")
    if labels is not None and len(labels) != len(x):
        raise UserError(f"--labels has {len(labels)} labels for {len(x)} inputs")
    check_finite_pass(net, x, name)
    task = task_of(net)
    probes = []
    for i in range(len(x)):
        label = None if labels is None else int(labels[i])
        mask = task.mask(label) if task is not None and label is not None else None
        probes.append(Probe(x=x[i], source=f"{name}[{i}]", label=label, mask=mask))
    return SampleSet(probes, [None] * len(probes), f"{len(probes)} inputs from {name}")
