"""What is explained: scores as small objects that read one layer's output.

A score knows the layer whose output it reads (`stop(model)`, an index for `Network.forward(stop=)`)
and, for a batch of that layer's outputs, returns its value per row and the seed d score / d output
that `Network.backward` takes. So every gradient method keeps one primitive (forward to the stop
layer, backward the seed) whatever is explained: a class logit, a probability, a difference of two
logits (a custom operator g(f, x, y) in Xplique's terms) or one unit of an inner layer.

A score that is linear in its layer's output (`linear = True`) has a constant seed; exact Integrated
Gradients applies to it whenever the layers up to its stop layer are piecewise linear.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import UserError
from ..nn import ops


def _onehot(shape: tuple[int, ...], rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    out = np.zeros(shape)
    out[np.arange(len(rows)), cols] = 1.0
    return out


class Score:
    """Base class: a scalar function of layer `stop(model)`'s output, per row."""

    name: str = ""
    linear: bool = True  # linear in the layer output: a constant seed (exact IG can apply)
    uses_target: bool = True  # False when the class targets play no part (a unit of a layer)

    def stop(self, model) -> int:
        """Index of the layer whose output the score reads (default: the logits)."""
        return model.logit_index

    def __call__(self, out: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Values (N,) and seeds d value / d out (N, *out.shape[1:]) for outputs `out` and targets (N,)."""
        raise NotImplementedError

    def check(self, model, targets: np.ndarray | None = None) -> None:
        """Raise UserError when the score does not fit `model` or the targets (N,) it is asked for."""

    def describe(self, model) -> dict:
        """What is explained, for reports: at least {"score": name}."""
        return {"score": self.name}


@dataclass(frozen=True)
class ClassLogit(Score):
    """score = z_c, the pre-softmax logit of the target class; seed one-hot(c)."""

    name = "logit"

    def __call__(self, out, targets):
        rows = np.arange(len(targets))
        return out[rows, targets], _onehot(out.shape, rows, targets)


@dataclass(frozen=True)
class ClassProbability(Score):
    """score = softmax(z)_c; seed p_c (one-hot(c) - p).

    NOTE: the probability is computed from the logits rather than read from the network's last
    layer, so it means the same thing whether or not a model ends in a softmax.
    """

    name = "probability"
    linear = False

    def __call__(self, out, targets):
        rows = np.arange(len(targets))
        p = ops.softmax(out)
        pc = p[rows, targets]
        return pc, pc[:, None] * (_onehot(out.shape, rows, targets) - p)


@dataclass(frozen=True)
class LogitDifference(Score):
    """score = z_c - z_against: how much the target class beats another; seed one-hot(c) - one-hot(against)."""

    against: int = 0
    name = "logit-diff"

    def __call__(self, out, targets):
        rows = np.arange(len(targets))
        seed = _onehot(out.shape, rows, targets)
        seed[rows, self.against] -= 1.0
        return out[rows, targets] - out[rows, self.against], seed

    def check(self, model, targets=None):
        if not 0 <= self.against < model.num_classes:
            raise UserError(
                f"--against {self.against} is out of range: the model has classes 0..{model.num_classes - 1}"
            )
        if targets is not None and np.any(np.asarray(targets) == self.against):
            i = int(np.flatnonzero(np.asarray(targets) == self.against)[0])
            where = "" if len(targets) == 1 else f" (probe {i})"
            raise UserError(
                f"the explained class{where} is {self.against}, the same as --against: the difference is 0; "
                "choose another --against or pass --target"
            )

    def describe(self, model):
        return {"score": self.name, "against": self.against}


@dataclass(frozen=True)
class LayerUnit(Score):
    """score = one unit of any layer's output: a flat index into it, or a (c, y, x)-style tuple.

    The class targets play no part. The seed is one-hot at the unit, so the gradient is d unit / d x.
    """

    layer: str | int = -1
    unit: int | tuple[int, ...] = 0
    name = "unit"
    uses_target = False

    def stop(self, model) -> int:
        try:
            return model.index(self.layer)
        except KeyError as exc:
            raise UserError(f"--layer {self.layer}: {exc.args[0]}") from None

    def flat_unit(self, model) -> int:
        """The unit as a flat index into the layer's output (per example)."""
        shape = model.shapes[self.stop(model)]
        size = int(np.prod(shape))
        name = model.layers[self.stop(model)].name
        if isinstance(self.unit, tuple):
            if len(self.unit) != len(shape) or any(not 0 <= u < s for u, s in zip(self.unit, shape, strict=False)):
                raise UserError(
                    f"--unit {','.join(map(str, self.unit))} does not index layer {name}'s output of shape "
                    f"{'x'.join(map(str, shape))}"
                )
            return int(np.ravel_multi_index(self.unit, shape))
        if not 0 <= self.unit < size:
            raise UserError(f"--unit {self.unit} is out of range: layer {name} has units 0..{size - 1}")
        return int(self.unit)

    def check(self, model, targets=None):
        self.flat_unit(model)

    def __call__(self, out, targets):
        # NOTE: `flat_unit` needs the model; the call only sees outputs, so the tuple form is
        # resolved against the output's own shape here (the same shape `check` validated).
        k = int(np.ravel_multi_index(self.unit, out.shape[1:])) if isinstance(self.unit, tuple) else int(self.unit)
        flat = out.reshape(len(out), -1)
        seed = np.zeros_like(flat)
        seed[:, k] = 1.0
        return flat[:, k].copy(), seed.reshape(out.shape)

    def describe(self, model):
        """What is explained; `unit_index` of a (C, H, W) output is (channel, x, y), x = column, y = row."""
        i = self.stop(model)
        shape = model.shapes[i]
        k = self.flat_unit(model)
        index = [int(u) for u in np.unravel_index(k, shape)]
        out = {"score": self.name, "layer": model.layers[i].name, "layer_index": i, "unit": k}
        if len(shape) == 3:
            c, y, x = index
            out.update(unit_index=[c, x, y], unit_at={"channel": c, "x": x, "y": y})
        else:
            out["unit_index"] = index
        return {**out, "layer_shape": list(shape)}


#: score name -> Score class. Scores with parameters (logit-diff's `against`, a unit's layer and
#: index) are built with them; the names are what `--score` offers.
SCORES: dict[str, type[Score]] = {
    "logit": ClassLogit,
    "probability": ClassProbability,
    "logit-diff": LogitDifference,
    "unit": LayerUnit,
}


def as_score(score: str | Score) -> Score:
    """A Score object from a Score or the name of a score that needs no parameters."""
    if isinstance(score, Score):
        return score
    cls = SCORES.get(score) if isinstance(score, str) else None
    if cls is None:
        raise ValueError(f"unknown score {score!r}; choose from {', '.join(SCORES)}")
    if cls in (LogitDifference, LayerUnit):
        raise ValueError(f"the {score} score needs parameters: pass {cls.__name__}(...) instead of its name")
    return cls()


def parse_unit(text: str) -> int | tuple[int, ...]:
    """`--unit`: a flat index 'K' or a comma-separated index such as 'c,x,y' (raises ValueError)."""
    parts = [p.strip() for p in str(text).split(",")]
    # NOTE: ASCII digits only: str.isdigit() also accepts '²', which int() refuses.
    if not parts or any(not (p.isascii() and p.isdigit()) for p in parts):
        raise ValueError(f"{text!r}: give a flat index K or a comma-separated index such as 3,2,1")
    values = tuple(int(p) for p in parts)
    return values[0] if len(values) == 1 else values
