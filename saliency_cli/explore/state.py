"""What the explorer shows (a frozen `Selection`), the choices each key cycles through, and the result cache."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, replace

from ..methods.lrp.composites import COMPOSITES
from ..methods.lrp.rules import RULES

#: What `l` cycles through: every single rule, then every composite.
LRP_CHOICES: tuple[str, ...] = (*RULES, *sorted(COMPOSITES))

#: IG step counts `+` and `-` move through (with the right-Riemann quadrature).
STEP_CHOICES: tuple[int, ...] = (4, 8, 16, 32, 64, 128, 256, 512)


@dataclass(frozen=True)
class Selection:
    """Everything a screen depends on; results are cached by the parts of it that they depend on."""

    index: int = 0
    target: int | None = None  # None: the predicted class
    lrp: str = "epsilon"
    quadrature: str = "exact"  # "exact" or "right"
    steps: int = 32
    shared_scale: bool = False

    def with_target_cycled(self, num_classes: int) -> Selection:
        """auto -> 0 -> 1 -> ... -> auto."""
        nxt = 0 if self.target is None else self.target + 1
        return replace(self, target=None if nxt >= num_classes else nxt)

    def with_lrp_cycled(self, step: int = 1) -> Selection:
        i = LRP_CHOICES.index(self.lrp) if self.lrp in LRP_CHOICES else -1
        return replace(self, lrp=LRP_CHOICES[(i + step) % len(LRP_CHOICES)])

    def with_steps(self, step: int) -> Selection:
        """The next larger (step > 0) or smaller step count of `STEP_CHOICES`; unchanged at either end."""
        if step > 0:
            larger = [s for s in STEP_CHOICES if s > self.steps]
            return replace(self, steps=larger[0]) if larger else self
        smaller = [s for s in STEP_CHOICES if s < self.steps]
        return replace(self, steps=smaller[-1]) if smaller else self

    def ig_key(self) -> tuple:
        return (self.quadrature,) if self.quadrature == "exact" else (self.quadrature, self.steps)


class ResultCache:
    """A bounded least-recently-used map from a result's key to the result."""

    def __init__(self, capacity: int = 512):
        self.capacity = capacity
        self._items: OrderedDict = OrderedDict()

    def get(self, key):
        if key not in self._items:
            return None
        self._items.move_to_end(key)
        return self._items[key]

    def put(self, key, value) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)

    def __contains__(self, key) -> bool:
        return key in self._items

    def __len__(self) -> int:
        return len(self._items)
