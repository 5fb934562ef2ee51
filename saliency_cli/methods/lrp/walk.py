"""Layer-wise Relevance Propagation with a conservation ledger.

One forward pass; the explained class's logit is the relevance at the output; the walk goes from
the last layer to the first, asking a `Composite` for each layer's rule. Every boundary gets a
ledger entry recording sum R_out, sum R_in and where the difference went (bias, stabiliser,
dropped terms), so that what is left unexplained is pure round-off — or a flag that it is not.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ...nn.graph.network import Graph
from ..batching import as_batch, check_targets, unbatch
from .canonical import canonicalise
from .composites import Composite, build_rule, kind_of, make_composite
from .rules import Rule, Shares, make_rule, per_sample_sum

#: ledger status of a layer
RULE, SKIPPED, STOPPED, NOT_REACHED = "rule", "skipped", "stopped", "not reached"


@dataclass
class LedgerEntry:
    """One layer boundary. Relevance sums and shares are (N,) arrays, None where not reached."""

    index: int
    name: str
    type: str
    status: str
    rule: Rule | None = None
    relevance_out: np.ndarray | None = None
    relevance_in: np.ndarray | None = None
    shares: Shares | None = None
    #: the type the composite matched it by (conv2d for an imported Conv; `type` is the op's own name)
    kind: str = ""

    @property
    def residual(self) -> np.ndarray | None:
        """|sum R_in - sum R_out| per sample."""
        if self.relevance_in is None:
            return None
        return np.abs(self.relevance_in - self.relevance_out)

    @property
    def unexplained(self) -> np.ndarray | None:
        """sum R_out - (sum R_in + bias + stabiliser + dropped) per sample: round-off when the ledger closes."""
        if self.relevance_in is None:
            return None
        s = self.shares
        return self.relevance_out - (self.relevance_in + s.bias + s.stabiliser + s.dropped)

    def row(self, sample: int = 0) -> dict:
        """This entry for one sample, with plain floats (None where not reached)."""

        def pick(values):
            return None if values is None else float(values[sample])

        s = self.shares
        return {
            "index": self.index,
            "name": self.name,
            "type": self.type,
            "rule": None if self.rule is None else self.rule.name,
            "rule_params": None if self.rule is None else self.rule.params(),
            "skipped": self.status != RULE,
            "status": self.status,
            "relevance_out": pick(self.relevance_out),
            "relevance_in": pick(self.relevance_in),
            "residual": pick(self.residual),
            "bias": pick(None if s is None else s.bias),
            "stabiliser": pick(None if s is None else s.stabiliser),
            "dropped": pick(None if s is None else s.dropped),
            "unexplained": pick(self.unexplained),
        }


@dataclass
class LRPLedger:
    """The result of `lrp` beyond the relevance map.

    `entries` run from the output layer to the input layer. When a layer without a rule changes
    the shape of the relevance, the walk stops there: `stopped` is that entry, `reason` says why,
    and no input relevance exists.
    """

    entries: list[LedgerEntry]
    target: np.ndarray  # (N,) explained class per sample
    logits: np.ndarray  # (N, classes)
    probabilities: np.ndarray  # (N, classes) the network's output
    composite: Composite
    stopped: LedgerEntry | None = None
    reason: str | None = None
    hash_before: str = ""
    hash_after: str = ""
    #: an imported graph's: the relevance reaching its input from every node that reads it (N,)
    input_relevance: np.ndarray | None = None
    #: an imported graph's canonicalisation: (BatchNormalization or Add, the node it was merged into)
    merged: tuple[tuple[str, str], ...] = ()

    @property
    def weights_unchanged(self) -> bool:
        """The model's parameter hash is the same after the pass as before it."""
        return self.hash_before == self.hash_after

    @property
    def complete(self) -> bool:
        return self.stopped is None

    @property
    def unexplained(self) -> np.ndarray:
        """Largest |unexplained| over the layers reached, per sample (N,)."""
        values = [np.abs(e.unexplained) for e in self.entries if e.unexplained is not None]
        return np.max(values, axis=0) if values else np.zeros(len(self.target))

    @property
    def max_unexplained(self) -> float:
        """Largest |unexplained| over every layer reached and every sample."""
        return float(self.unexplained.max())

    def totals(self, sample: int = 0) -> dict:
        """The whole walk in one line: logit = input + bias + stabiliser + dropped + unexplained."""
        reached = [e for e in self.entries if e.relevance_in is not None]
        out = {
            "logit": float(self.logits[sample, self.target[sample]]),
            "input": self._input(sample) if self.complete and reached else None,
        }
        for key in ("bias", "stabiliser", "dropped"):
            out[key] = float(sum(getattr(e.shares, key)[sample] for e in reached))
        out["unexplained"] = float(sum(e.unexplained[sample] for e in reached))
        return out

    def _input(self, sample: int) -> float:
        if self.input_relevance is not None:
            return float(self.input_relevance[sample])
        return float([e for e in self.entries if e.relevance_in is not None][-1].relevance_in[sample])

    def rows(self, sample: int = 0) -> list[dict]:
        return [e.row(sample) for e in self.entries]

    def select(self, rows: slice) -> LRPLedger:
        """This ledger for some samples only (e.g. `slice(i, i + 1)`): every per-sample array sliced."""

        def cut(values):
            return None if values is None else values[rows]

        entries = [
            replace(
                e,
                relevance_out=cut(e.relevance_out),
                relevance_in=cut(e.relevance_in),
                shares=None if e.shares is None else Shares(*(cut(v) for v in vars(e.shares).values())),
            )
            for e in self.entries
        ]
        stopped = None if self.stopped is None else entries[[e is self.stopped for e in self.entries].index(True)]
        return replace(
            self,
            entries=entries,
            target=self.target[rows],
            input_relevance=cut(self.input_relevance),
            logits=self.logits[rows],
            probabilities=self.probabilities[rows],
            stopped=stopped,
        )


def lrp(
    model,
    inputs,
    target=None,
    rule: str | Rule = "epsilon",
    eps: float = 1e-2,
    gamma: float = 0.25,
    alpha: float = 2.0,
    bias: bool = True,
    composite: Composite | str | None = None,
    pool: str = "winner",
    first: str | Rule | None = None,
    last: str | Rule | None = None,
    low: float | None = None,
    high: float | None = None,
) -> tuple[np.ndarray | None, LRPLedger]:
    """Layer-wise Relevance Propagation of the target logit back to the input.

    Parameters
    ----------
    model : Network
    inputs : (C, H, W) or a batch (N, C, H, W)
    target : int, (N,) ints or None
        Class explained per sample; None explains the predicted class.
    rule : a name in `RULES` ("epsilon", "gamma", "alpha-beta", "zplus") or a `Rule`, applied to every
        dense and conv2d layer
    eps, gamma, alpha : the rules' settings (beta = alpha - 1)
    bias : False lets no bias take part in the relevance pass (z computed without b)
    composite : overrides `rule`: a `Composite` or a preset name in `COMPOSITES` (built from the
        options here); which rule each layer type gets, first match wins
    pool : max pooling rule for `rule` and presets: "winner" (winner-take-all) or "proportional"
    first : a first-layer rule ("flat", "wsquare", "zbox" or a `Rule`) for the first conv2d or
        dense layer(s), replacing the composite's own (positions: `position`)
    last : a rule in `RULES` (or a `Rule`) for the last conv2d or dense layer(s): those whose output
        reaches the logits through no other such layer
    low, high : the zbox bounds (None: each sample's smallest / largest input value)

    Returns
    -------
    relevance : shaped like `inputs`, or None when the walk stopped at a layer it could not cross
    ledger : `LRPLedger`, one entry per layer from the output to the input

    The model's weights are not modified (checked by hashing them before and after).
    """
    options = {"eps": eps, "gamma": gamma, "alpha": alpha, "bias": bias, "low": low, "high": high}
    if composite is None:
        if not isinstance(rule, Rule):
            rule = make_rule(rule, **options)
        composite = Composite.single(rule, pool=pool)
    elif isinstance(composite, str):
        composite = make_composite(composite, pool=pool, **options)
    if first is not None:
        composite = composite.with_first(first if isinstance(first, Rule) else build_rule(first, **options))
    if last is not None:
        composite = composite.with_last(last if isinstance(last, Rule) else make_rule(last, **options))
    before = model.params_hash()
    x, single = as_batch(model, inputs)
    if isinstance(model, Graph):
        r, ledger = _walk_graph(model, x, target, composite)
        ledger.hash_before, ledger.hash_after = before, model.params_hash()
        return (None if r is None else unbatch(r, single)), ledger
    probabilities = model.forward(x)
    logits = model.outputs[model.logit_index]
    t = logits.argmax(axis=1) if target is None else check_targets(model, target, len(x))
    rows = np.arange(len(x))

    # The relevance at the output: the target's logit, zero elsewhere (the softmax passes it through).
    r = np.zeros_like(probabilities)
    r[rows, t] = logits[rows, t]
    entries: list[LedgerEntry] = []
    stopped, reason = None, None
    layer_rules = composite.rules(model)
    for i in range(len(model.layers) - 1, -1, -1):
        layer = model.layers[i]
        entry = LedgerEntry(i, layer.name, layer.type, RULE, kind=kind_of(layer))
        entries.append(entry)
        if stopped is not None:
            entry.status = NOT_REACHED
            continue
        a = model.inputs[i]
        layer_rule = layer_rules[i]
        entry.relevance_out = per_sample_sum(r)
        if layer_rule is not None:
            entry.rule = layer_rule
            r, entry.shares = layer_rule.propagate(layer, a, r)
        elif a.shape == r.shape:
            # No rule, but the relevance fits the layer's input: carried over unchanged, and said so.
            entry.status = SKIPPED
            entry.shares = Shares.none(len(x))
        else:
            entry.status = STOPPED
            stopped = entry
            reason = (
                f"no LRP rule for {layer.type} layer {layer.name} (index {i}), and its output "
                f"{tuple(r.shape[1:])} differs from its input {tuple(a.shape[1:])}: relevance cannot be carried "
                "to the input"
            )
            continue
        entry.relevance_in = per_sample_sum(r)

    ledger = LRPLedger(
        entries=entries,
        target=t,
        logits=logits.copy(),
        probabilities=probabilities.copy(),
        composite=composite,
        stopped=stopped,
        reason=reason,
        hash_before=before,
        hash_after=model.params_hash(),
    )
    if stopped is not None:
        return None, ledger
    return unbatch(r, single), ledger


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _walk_graph(model: Graph, x: np.ndarray, target, composite: Composite):
    """LRP on an imported graph: its canonical form (`canonical`) walked node by node in reverse topological order.

    The relevance of a tensor is the sum of what every node reading it hands back; a node's ledger entry books
    its output's relevance, the sum of what its inputs receive and its shares, so the ledger closes per node.
    """
    graph, merged = canonicalise(model)
    labels = {node.name: getattr(node, "label", node.type) for node in model.layers}
    # a node something was merged into is named by both ops in the ledger: "Conv+BatchNormalization"
    for gone, into in merged:
        labels[into] = f"{labels[into]}+{labels[gone]}"
    logits = graph.forward(x)
    t = logits.argmax(axis=1) if target is None else check_targets(graph, target, len(x))
    rows = np.arange(len(x))
    values = {graph.input_name: x}
    plan = graph.plan(graph.logit_index)
    for i in plan:
        node = graph.layers[i]
        values[node.output] = graph.outputs[i]
    last = graph.layers[-1]
    relevance = {last.output: np.zeros_like(logits)}
    relevance[last.output][rows, t] = logits[rows, t]
    entries: list[LedgerEntry] = []
    stopped, reason = None, None
    node_rules = composite.rules(graph)
    for i in reversed(plan):  # NOTE: a node the logits do not need has no relevance and no entry
        node = graph.layers[i]
        entry = LedgerEntry(i, node.name, labels.get(node.name, node.type), RULE, kind=kind_of(node))
        entries.append(entry)
        if stopped is not None:
            entry.status = NOT_REACHED
            continue
        xs = [values[name] for name in node.inputs]
        r = relevance.pop(node.output, None)
        if r is None:
            r = np.zeros_like(values[node.output])
        entry.relevance_out = per_sample_sum(r)
        node_rule = node_rules[i]
        if node_rule is not None:
            entry.rule = node_rule
            r_in, entry.shares = node_rule.propagate_node(node, xs, r)
        elif len(xs) == 1 and xs[0].shape == r.shape:
            entry.status = SKIPPED
            r_in, entry.shares = [r], Shares.none(len(x))
        else:
            entry.status, stopped = STOPPED, entry
            reason = (
                f"no LRP rule for {entry.type} node {node.name} (index {i}) of the canonical graph, and relevance "
                "cannot be carried over it unchanged"
            )
            continue
        entry.relevance_in = sum(per_sample_sum(part) for part in r_in)
        for name, part in zip(node.inputs, r_in, strict=True):
            relevance[name] = part if name not in relevance else relevance[name] + part
    r = relevance.get(graph.input_name, np.zeros_like(x)) if stopped is None else None
    ledger = LRPLedger(
        entries=entries,
        target=t,
        logits=logits.copy(),
        probabilities=_softmax(logits),
        composite=composite,
        stopped=stopped,
        reason=reason,
        input_relevance=None if r is None else per_sample_sum(r),
        merged=tuple(merged),
    )
    return r, ledger
