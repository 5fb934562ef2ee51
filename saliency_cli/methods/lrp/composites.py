"""Composites: which LRP rule each layer gets, as data, and the named presets of the literature.

A `Composite` is an ordered list of (layer type, rule), first match wins, plus optional first-layer
and last-layer lists consulted for the layers in the first and the last position among the types each
names (`position`: on a sequential network the first and the last such layer, as Zennit's
SpecialFirstLayerMapComposite takes the first; on a graph every node in that position). A layer no
entry matches has no rule: the walk carries relevance over it unchanged when the shapes agree, and
stops honestly when they do not.

Presets (Zennit; Kohlbrenner et al. 2020, "Towards best practice in explaining neural network
decisions with LRP"), each with relu/leaky_relu/flatten/softmax passing relevance through, max
pooling by `--pool-rule` and global average pooling proportional:

    epsilon-plus            conv2d: zplus                dense: epsilon
    epsilon-plus-flat       conv2d: zplus                dense: epsilon   first layer: flat
    epsilon-gamma-box       conv2d: gamma                dense: epsilon   first layer: zbox
    epsilon-alpha2-beta1    conv2d: alpha-beta (2, 1)    dense: epsilon
    epsilon-alpha2-beta1-flat  as above                                   first layer: flat

No preset has a last-layer list (`--last-rule` adds one).

NOTE: "first layer" is the first conv2d or dense layer in every preset (Zennit's EpsilonGammaBox
looks only at convolutions), so the dense-only blobs6x6 model gets its z-box too.
"""

from __future__ import annotations

from dataclasses import dataclass

from .first import FIRST_RULES
from .nodes import graph_mapping
from .pool import POOL_RULES, ProportionalAverage
from .position import positions
from .rules import PASS, RULES, Rule

#: the layer types a first-layer rule can apply to
LINEAR_TYPES = ("conv2d", "dense")

#: an imported graph's node type -> the layer type composites name it by (its weight rules are theirs). NOTE: the
#: canonical form turns a MatMul of vectors into a Gemm; a MatMul of higher rank has no rule (the walk stops there).
NODE_KINDS = {"Conv": "conv2d", "Gemm": "dense"}


def kind_of(layer) -> str:
    """The type composites match `layer` by: its own, or the layer type an imported node stands for."""
    return NODE_KINDS.get(layer.type, layer.type)


def build_rule(name: str, **options) -> Rule:
    """A linear-layer or first-layer rule by name, built from the options it uses."""
    registry = {**RULES, **FIRST_RULES}
    if name not in registry:
        raise ValueError(f"unknown LRP rule {name!r}; choose from {', '.join(sorted(registry))}")
    return registry[name].from_options(**options)


class Composite:
    """An ordered list of (layer type, rule); the first entry matching a layer's type wins.

    `first` and `last` are two more such lists, for the layers in the first and the last position among the
    types each names (`position`); a layer in both takes the first-layer list's rule. Every other layer (inner)
    takes `mapping`'s.
    """

    def __init__(self, mapping, first=(), name: str | None = None, last=()):
        self.mapping = tuple((str(kind), rule) for kind, rule in mapping)
        self.first = tuple((str(kind), rule) for kind, rule in first)
        self.last = tuple((str(kind), rule) for kind, rule in last)
        self.name = name

    @staticmethod
    def _match(mapping, kind: str) -> Rule | None:
        return next((rule for candidate, rule in mapping if candidate == kind), None)

    @staticmethod
    def _named(mapping):
        kinds = {kind for kind, _ in mapping}
        return lambda layer: kind_of(layer) in kinds

    def rules(self, net) -> list[Rule | None]:
        """The rule for each layer of `net` (None: no rule), positions worked out once."""
        first = positions(net, self._named(self.first))[0] if self.first else frozenset()
        last = positions(net, self._named(self.last))[1] if self.last else frozenset()
        out = []
        for i, layer in enumerate(net.layers):
            kind = kind_of(layer)
            mapping = self.first if i in first else self.last if i in last else self.mapping
            out.append(self._match(mapping, kind))
        return out

    def with_first(self, rule: Rule) -> Composite:
        """This composite with `rule` on the first linear layer(s) (replacing any first-layer list)."""
        return Composite(self.mapping, [(kind, rule) for kind in LINEAR_TYPES], self.name, self.last)

    def with_last(self, rule: Rule) -> Composite:
        """This composite with `rule` on the last linear layer(s) (replacing any last-layer list)."""
        return Composite(self.mapping, self.first, self.name, [(kind, rule) for kind in LINEAR_TYPES])

    @classmethod
    def single(cls, rule: Rule, pool: str = "winner") -> Composite:
        """`rule` on every dense and conv2d layer; pooling by `pool`; the rest passes relevance through."""
        return cls([("dense", rule), ("conv2d", rule), *base_mapping(pool)])

    def __repr__(self) -> str:
        parts = [f"first {k}: {r!r}" for k, r in self.first] + [f"last {k}: {r!r}" for k, r in self.last]
        parts += [f"{k}: {r!r}" for k, r in self.mapping]
        return "Composite(" + ", ".join(parts) + ")"


def base_mapping(pool: str = "winner") -> list[tuple[str, Rule]]:
    """Every composite's entries for layers without weights."""
    if pool not in POOL_RULES:
        raise ValueError(f"unknown pool rule {pool!r}; choose from {', '.join(sorted(POOL_RULES))}")
    return [
        ("maxpool2d", POOL_RULES[pool]()),
        ("global_avg_pool", ProportionalAverage()),
        ("relu", PASS),
        ("leaky_relu", PASS),
        ("flatten", PASS),
        ("softmax", PASS),
        *graph_mapping(pool),
    ]


@dataclass(frozen=True)
class Preset:
    """A named composite as data: (layer type, rule name, fixed settings) entries, first match wins."""

    name: str
    summary: str
    layers: tuple[tuple[str, str, dict], ...]
    first: str | None = None  # a first-layer rule name, applied to the first conv2d or dense layer

    def build(self, pool: str = "winner", **options) -> Composite:
        """The composite with each rule built from `options` (eps, gamma, bias, low, high...),
        overridden by the preset's fixed settings (alpha 2 in epsilon-alpha2-beta1)."""
        mapping = [(kind, build_rule(rule, **{**options, **fixed})) for kind, rule, fixed in self.layers]
        first = []
        if self.first is not None:
            first = [(kind, build_rule(self.first, **options)) for kind in LINEAR_TYPES]
        return Composite([*mapping, *base_mapping(pool)], first, name=self.name)


_PLUS = (("conv2d", "zplus", {}), ("dense", "epsilon", {}))
_A2B1 = (("conv2d", "alpha-beta", {"alpha": 2.0}), ("dense", "epsilon", {}))

#: preset name -> Preset (`--composite` choices)
COMPOSITES: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset("epsilon-plus", "zplus on conv2d, epsilon on dense", _PLUS),
        Preset("epsilon-plus-flat", "as epsilon-plus, flat on the first layer", _PLUS, first="flat"),
        Preset(
            "epsilon-gamma-box",
            "gamma on conv2d, epsilon on dense, zbox on the first layer",
            (("conv2d", "gamma", {}), ("dense", "epsilon", {})),
            first="zbox",
        ),
        Preset("epsilon-alpha2-beta1", "alpha-beta (alpha 2, beta 1) on conv2d, epsilon on dense", _A2B1),
        Preset("epsilon-alpha2-beta1-flat", "as epsilon-alpha2-beta1, flat on the first layer", _A2B1, first="flat"),
    )
}


def make_composite(name: str, pool: str = "winner", **options) -> Composite:
    """The preset `name` built from the command's options."""
    if name not in COMPOSITES:
        raise ValueError(f"unknown LRP composite {name!r}; choose from {', '.join(sorted(COMPOSITES))}")
    return COMPOSITES[name].build(pool=pool, **options)
