"""The graph engine: a directed acyclic graph of named nodes, run in topological order.

A `Graph` reads one input tensor and ends in the logits node; it offers the interface of the sequential
`Network` (which is the special case without branches and keeps its own fused engine): `forward(x, stop)`,
`backward(dy)`, `shapes`, `logit_index`, `astype`, `params_hash`, so every gradient method runs on either.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from ..layers import ShapeError
from ..network import Network


class Graph(Network):
    """Nodes (see `base.Node`) in topological order; node i's per-sample output shape is `shapes[i]`.

    After `forward`, `outputs[i]` holds node i's output (None for a node the pass did not need) and
    `inputs[i]` its first input.
    """

    def __init__(
        self,
        nodes: list,
        input_name: str,
        input_shape: tuple[int, ...],
        task: str | None = None,
        classes: list[str] | None = None,
        training: dict | None = None,
        notes: list[str] | None = None,
    ):
        if not nodes:
            raise ShapeError("a graph needs at least one node")
        self.layers = list(nodes)
        self.input_name = str(input_name)
        self.input_shape = tuple(int(s) for s in input_shape)
        self.task, self.training, self.notes = task, dict(training or {}), list(notes or [])
        names = [node.name for node in self.layers]
        if len(set(names)) != len(names):
            raise ShapeError("node names are not unique")
        self.shapes = self._chain_shapes()
        if len(self.shapes[-1]) != 1:
            raise ShapeError(f"the last node must give a vector of class scores, got shape {self.shapes[-1]}")
        k = self.shapes[-1][0]
        self.classes = list(classes) if classes is not None else [str(i) for i in range(k)]
        if len(self.classes) != k:
            raise ShapeError(f"{len(self.classes)} class names for {k} outputs")
        self.inputs, self.outputs, self.output_grads = [], [], {}
        self._plans: dict[int, list[int]] = {}
        self._stop = None

    # -- structure -------------------------------------------------------------------------

    def _chain_shapes(self) -> list[tuple[int, ...]]:
        known = {self.input_name: self.input_shape}
        shapes = []
        for node in self.layers:
            missing = [name for name in node.inputs if name not in known]
            if missing or not node.inputs:
                raise ShapeError(
                    f"node {node.name!r} reads {missing[0]!r}, which no earlier node writes"
                    if missing
                    else f"node {node.name!r} reads no tensor"
                )
            if node.output in known:
                raise ShapeError(f"tensor {node.output!r} is written twice (node {node.name!r})")
            try:
                shape = tuple(int(s) for s in node.output_shape(*(known[name] for name in node.inputs)))
            except ShapeError as exc:
                raise ShapeError(f"node {node.name!r} ({node.type}): {exc}") from None
            known[node.output] = shape
            shapes.append(shape)
        return shapes

    @property
    def nodes(self) -> list:
        return self.layers

    @property
    def num_classes(self) -> int:
        return self.shapes[-1][0]

    @property
    def logit_index(self) -> int:
        return len(self.layers) - 1

    def parameters(self) -> dict[str, np.ndarray]:
        # NOTE: keys in sorted order within a node, as the model file lists them: the same digest after a round trip
        return {f"{i}.{k}": node.params[k] for i, node in enumerate(self.layers) for k in sorted(node.params)}

    def consumers(self) -> dict[str, list[int]]:
        """Tensor name -> the indices of the nodes that read it."""
        out: dict[str, list[int]] = {}
        for i, node in enumerate(self.layers):
            for name in node.inputs:
                out.setdefault(name, []).append(i)
        return out

    def values_per_row(self) -> int:
        """Values one input row makes the graph compute: the input plus, per node, the most it builds."""
        known = {self.input_name: self.input_shape}
        total = int(np.prod(self.input_shape))
        for node, shape in zip(self.layers, self.shapes, strict=True):
            total += node.values_per_sample(*(known[name] for name in node.inputs))[0]
            known[node.output] = shape
        return total

    def _inputs_of(self, node) -> list[str]:
        return list(node.inputs)

    def plan(self, stop: int) -> list[int]:
        """The nodes a pass to node `stop` runs: its ancestors and itself, in topological order."""
        if stop not in self._plans:
            self._plans[stop] = self.upstream([stop])
        return self._plans[stop]

    def upstream(self, nodes) -> list[int]:
        """`nodes` (indices) and every node they read from, directly or not, in topological order."""
        writer = {node.output: i for i, node in enumerate(self.layers)}
        need, todo = set(nodes), list(nodes)
        while todo:
            for name in self.layers[todo.pop()].inputs:
                j = writer.get(name)
                if j is not None and j not in need:
                    need.add(j)
                    todo.append(j)
        return sorted(need)

    # -- computation -----------------------------------------------------------------------

    def forward(self, x: np.ndarray, stop: int | str | None = None, start: int = 0, lean: bool = False) -> np.ndarray:
        """Run the nodes node `stop` needs (default: to the logits) on a batch (N, *input_shape)."""
        if start:
            raise ValueError("a graph's passes start at its input")
        stop = self.logit_index if stop is None else self.index(stop)
        x = np.asarray(x, dtype=self.dtype)
        if x.shape[1:] != self.input_shape:
            raise ShapeError(f"input shape {x.shape[1:]} does not match the model's {self.input_shape}")
        values = {self.input_name: x}
        self.inputs, self.outputs, self.output_grads = [None] * len(self.layers), [None] * len(self.layers), {}
        for i in self.plan(stop):
            node = self.layers[i]
            args = [values[name] for name in node.inputs]
            self.inputs[i] = args[0]
            values[node.output] = self.outputs[i] = node.forward(*args)
        self._stop = stop
        return self.outputs[stop]

    def backward(self, dy: np.ndarray, param_grads: bool = False, keep: bool = False, stop: int = 0) -> np.ndarray:
        """Back-propagate `dy` (the gradient at the output of the last forward's stop node) to the input."""
        if self._stop is None:
            raise RuntimeError("backward called before forward")
        if param_grads:
            raise NotImplementedError("an imported graph is not trained: no parameter gradients")
        if stop:
            raise ValueError("a graph's backward pass ends at its input")
        grads = {self.layers[self._stop].output: np.asarray(dy, dtype=self.dtype)}
        for i in reversed(self.plan(self._stop)):
            node = self.layers[i]
            g = grads.pop(node.output, None)
            if g is None:
                continue
            if keep:
                self.output_grads[i] = g
            for name, dx in zip(node.inputs, node.backward(g), strict=True):
                grads[name] = dx if name not in grads else grads[name] + dx
        g = grads.get(self.input_name)
        return np.zeros((len(dy), *self.input_shape), dtype=self.dtype) if g is None else g

    @property
    def linear_prefix(self) -> int:
        return 0

    def fused(self, i: int) -> bool:
        return False

    def input_grad(self, dy: np.ndarray, start: int) -> np.ndarray:
        raise ValueError("a graph's input gradient is taken by backward")

    def astype(self, dtype) -> Graph:
        """This graph computing in `dtype` (float64 or float32), kept as for `Network.astype`."""
        dtype = np.dtype(dtype)
        if dtype not in (np.float64, np.float32):
            raise ValueError(f"dtype must be float64 or float32, got {dtype}")
        if dtype == self.dtype:
            return self
        copies = self.__dict__.setdefault("_copies", {})
        key = (dtype.str, self.params_hash())
        if key not in copies:
            copies.clear()
            nodes = [node.astype(dtype) for node in self.layers]
            graph = Graph(nodes, self.input_name, self.input_shape, self.task, self.classes, self.training, self.notes)
            graph._dtype = dtype
            for attr in ("path", "sha256"):
                if attr in self.__dict__:
                    setattr(graph, attr, self.__dict__[attr])
            copies[key] = graph
        return copies[key]

    @contextmanager
    def reference_engine(self) -> Iterator[Graph]:
        yield self
