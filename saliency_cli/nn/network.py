"""A sequential network: an ordered list of named layers that keeps its last forward pass."""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from .layers import Layer, ShapeError

# Short stable prefixes for automatic names: conv1, pool1, dense2, relu3 ...
_INDEX = re.compile(r"-?[0-9]+")
_PREFIX = {"conv2d": "conv", "maxpool2d": "pool", "global_avg_pool": "gap", "leaky_relu": "lrelu"}

#: `params_hash` keeps the bytes of parameters up to this size, to serve its digest again while they are unchanged.
HASH_KEEP_BYTES = 16 << 20


class Network:
    """Layers applied in order to a batch (N, *input_shape).

    After `forward`, `inputs[i]` and `outputs[i]` hold layer i's input and output activations
    (so the pre-activation of a relu is its input, the output of the layer before it).
    """

    def __init__(
        self,
        layers: list[Layer],
        input_shape: tuple[int, ...],
        task: str | None = None,
        classes: list[str] | None = None,
        training: dict | None = None,
    ):
        if not layers:
            raise ShapeError("a network needs at least one layer")
        self.layers = list(layers)
        self.input_shape = tuple(int(s) for s in input_shape)
        self.task = task
        self.training = dict(training or {})
        counts: Counter[str] = Counter()
        for layer in self.layers:
            if layer.name == layer.type or not layer.name:
                prefix = _PREFIX.get(layer.type, layer.type)
                counts[prefix] += 1
                layer.name = f"{prefix}{counts[prefix]}"
        names = [layer.name for layer in self.layers]
        if len(set(names)) != len(names):
            raise ShapeError(f"layer names are not unique: {names}")
        self.shapes = self._chain_shapes()
        n_out = self.shapes[-1]
        if len(n_out) != 1:
            raise ShapeError(f"the last layer must give a vector of class scores, got shape {n_out}")
        self.classes = list(classes) if classes is not None else [str(i) for i in range(n_out[0])]
        if len(self.classes) != n_out[0]:
            raise ShapeError(f"{len(self.classes)} class names for {n_out[0]} outputs")
        self.inputs: list[np.ndarray] = []
        self.outputs: list[np.ndarray] = []
        self.output_grads: dict[int, np.ndarray] = {}
        self._stop: int | None = None
        self._start = 0
        self._lean = False

    # -- structure -------------------------------------------------------------------------

    def _chain_shapes(self) -> list[tuple[int, ...]]:
        shapes, shape = [], self.input_shape
        for i, layer in enumerate(self.layers):
            try:
                shape = layer.output_shape(shape)
            except ShapeError as exc:
                raise ShapeError(f"layer {i} ({layer.name}): {exc}") from None
            shapes.append(tuple(int(s) for s in shape))
        return shapes

    @property
    def num_classes(self) -> int:
        return self.shapes[-1][0]

    @property
    def logit_index(self) -> int:
        """Index of the layer whose output is the logits (the input of a trailing softmax)."""
        last = len(self.layers) - 1
        return last - 1 if self.layers[last].type == "softmax" and last > 0 else last

    def index(self, layer: str | int) -> int:
        """Resolve a layer name or (possibly negative) index to an index."""
        # NOTE: only ASCII digits make an index: str.isdigit() also accepts '²' or '①', which int() refuses.
        if isinstance(layer, str) and not _INDEX.fullmatch(layer):
            for i, candidate in enumerate(self.layers):
                if candidate.name == layer:
                    return i
            raise KeyError(f"no layer named {layer!r}; layers: {', '.join(self.names)}")
        i = int(layer)
        if not -len(self.layers) <= i < len(self.layers):
            raise KeyError(f"layer index {i} out of range for {len(self.layers)} layers")
        return i % len(self.layers)

    @property
    def names(self) -> list[str]:
        return [layer.name for layer in self.layers]

    def parameters(self) -> dict[str, np.ndarray]:
        """All parameters under their model-file keys, `"<i>.weight"` and `"<i>.bias"`."""
        return {f"{i}.{k}": v for i, layer in enumerate(self.layers) for k, v in layer.params.items()}

    def num_parameters(self) -> int:
        return int(sum(p.size for p in self.parameters().values()))

    def params_hash(self) -> str:
        """SHA-256 over every parameter's key, shape and float64 bytes (order-stable).

        The last digest is kept with the bytes it was computed from, and served again only when the
        parameters' keys, shapes and bytes are all the same now: a parameter changed in place (training
        does that) is always seen, as comparing the bytes costs a fraction of hashing them.
        """
        params = self.parameters()
        layout = [(key, value.shape) for key, value in params.items()]
        flat = (
            np.concatenate([v.ravel() for v in params.values()], dtype=np.float64, casting="unsafe")
            if params
            else np.zeros(0)
        )
        data = flat.tobytes()
        kept = self.__dict__.get("_hash_kept")
        if kept is not None and kept[0] == layout and kept[1] == data:
            return kept[2]
        digest = hashlib.sha256()
        view, at = memoryview(data), 0
        for key, shape in layout:
            size = 8 * math.prod(shape)
            digest.update(key.encode())
            digest.update(str(shape).encode())
            digest.update(view[at : at + size])
            at += size
        hexdigest = digest.hexdigest()
        # NOTE: a copy of the parameters' bytes is kept only for models up to HASH_KEEP_BYTES
        self._hash_kept = (layout, data, hexdigest) if len(data) <= HASH_KEEP_BYTES else None
        return hexdigest

    def summary(self) -> list[dict]:
        """One row per layer: index, name, type, its inputs (a graph's nodes only), output shape and parameters."""
        rows = []
        for i, (layer, shape) in enumerate(zip(self.layers, self.shapes, strict=True)):
            row = {"index": i, "name": layer.name, "type": getattr(layer, "label", layer.type)}
            if (inputs := self._inputs_of(layer)) is not None:
                row["inputs"] = inputs
            row["output_shape"] = list(shape)
            row["parameters"] = int(sum(p.size for p in layer.params.values()))
            rows.append(row)
        return rows

    def __repr__(self) -> str:
        lines = []
        for layer in self.layers:
            inputs = self._inputs_of(layer)
            lines.append(f"  ({layer.name}): {layer!r}" + ("" if inputs is None else f" <- {', '.join(inputs)}"))
        body = "\n".join(lines)
        return f"{type(self).__name__}(input_shape={self.input_shape},\n{body}\n)"

    def _inputs_of(self, layer) -> list[str] | None:
        """The names a layer reads, where the model names them (a graph's nodes); None in a chain of layers."""
        return None

    # -- computation -----------------------------------------------------------------------

    def forward(self, x: np.ndarray, stop: int | str | None = None, start: int = 0, lean: bool = False) -> np.ndarray:
        """Run layers 0..stop (inclusive; default all) on a batch (N, *input_shape); with `start`, layers
        start..stop on a batch at the input of layer `start` (a backward pass then stops there too).

        `lean`: for a pass whose only use is the result and a fused `backward` (no `keep`, no `param_grads`): the
        activations that backward does not read may be left out (None in `inputs` and `outputs`). A convolution,
        its leaky_relu and a global average pool after them run as one pass that never writes the activation
        (`Conv2d.forward_act_mean`): the pool's values are the same to round-off (the order of the sums).
        """
        stop = len(self.layers) - 1 if stop is None else self.index(stop)
        x = np.asarray(x, dtype=self.dtype)
        shape = self.shapes[start - 1] if start else self.input_shape
        if x.shape[1:] != shape:
            where = f"layer {start}'s input shape" if start else "the model's"
            raise ShapeError(f"input shape {x.shape[1:]} does not match {where} {shape}")
        # (the layers before `start` did not run: no inputs or outputs of theirs)
        self.inputs, self.outputs, self.output_grads = [None] * start, [None] * start, {}
        layers, i, padded = self.layers, start, None
        while i <= stop:
            layer = layers[i]
            self.inputs.append(x)
            if lean and i + 2 <= stop and self.fused(i) and layers[i + 2].type == "global_avg_pool":
                x = layer.forward_act_mean(x, layers[i + 1], padded)
                self.inputs += [None, None]
                self.outputs += [None, None, x]
                i += 3
                continue
            if i < stop and self.fused(i):
                # NOTE: a convolution and its leaky_relu in one pass; inputs/outputs are as if run one by one
                # (bit for bit with one block per convolution, else to round-off: `ops.conv2d_leaky_relu`).
                # When the next pair is fused too, the activation is written as its padded input.
                to = layers[i + 2] if i + 3 <= stop and self.fused(i + 2) else None
                z, x, padded = layer.forward_act(x, layers[i + 1], padded, to)
                self.outputs.append(z)
                self.inputs.append(z)
                i += 1
            else:
                x = layer.forward(x)
            self.outputs.append(x)
            i += 1
        self._stop, self._start, self._lean = stop, start, lean
        return x

    def backward(self, dy: np.ndarray, param_grads: bool = False, keep: bool = False, stop: int = 0) -> np.ndarray:
        """Back-propagate `dy` (the gradient at the output of the last forward) to the input, or with `stop` to the
        input of layer `stop` only.

        With `param_grads`, each layer's `grads` are filled; with `keep`, `output_grads[i]` holds
        the gradient at layer i's output for every layer passed.
        """
        if self._stop is None:
            raise RuntimeError("backward called before forward")
        if stop < self._start:
            raise RuntimeError(f"backward to layer {stop}, but the forward pass started at layer {self._start}")
        if (keep or param_grads) and self._lean:
            raise RuntimeError("backward with keep or param_grads needs a forward pass that is not lean")
        dy = np.asarray(dy, dtype=self.dtype)
        layers, i, padded = self.layers, self._stop, None
        fused = not (keep or param_grads)  # NOTE: fused steps skip the gradient between the two layers
        while i >= stop:
            layer = layers[i]
            if keep:
                self.output_grads[i] = dy
            if fused and i > stop and self.fused(i - 1):
                to = (layers[i - 2], layers[i - 3]) if i >= stop + 3 and self.fused(i - 3) else None
                dy, padded = layers[i - 1].backward_act(dy, layer, padded, to)
                if padded is not None:  # handed off: dy stands for its shape only (the next step reads padded)
                    dy = layers[i - 3].output_shape(layers[i - 3]._x.shape[1:])
                    dy = np.broadcast_to(np.zeros((), self.dtype), (len(layers[i - 3]._x), *dy))
                i -= 2
                continue
            if fused and layer.type == "global_avg_pool" and i > stop + 1 and self.fused(i - 2):
                # the same values as GlobalAvgPool.backward, as a read-only broadcast view (never written: the
                # fused step below only reads it) or, times the leaky_relu's factor, handed straight to the
                # convolution's input gradient as its padded input
                shape = (len(dy), *self.shapes[i - 1])  # (a lean forward keeps no input here)
                dy = dy / (shape[2] * shape[3])
                padded = layers[i - 2].gap_handoff(dy, layers[i - 1])
                dy = np.broadcast_to(dy[:, :, None, None], shape)
                i -= 1
                continue
            dy = layer.backward(dy, param_grads=param_grads)
            i -= 1
        return dy

    @property
    def linear_prefix(self) -> int:
        """How many of the first layers are linear (`Layer.linear`): the input gradient through them is one linear
        map, the same for every input (`input_grad`)."""
        count = 0
        while count < len(self.layers) and self.layers[count].linear:
            count += 1
        return count

    def input_grad(self, dy: np.ndarray, start: int) -> np.ndarray:
        """The gradient at the input for `dy`, the gradient at the input of layer `start` (of any number of rows),
        through the linear layers before it (`start <= linear_prefix`); no forward pass needed."""
        if start > self.linear_prefix:
            raise ValueError(f"layers before {start} are not all linear")
        for i in range(start - 1, -1, -1):
            dy = self.layers[i].input_grad(dy, self.shapes[i - 1] if i else self.input_shape)
        return dy

    def fused(self, i: int) -> bool:
        """Whether layers i and i + 1 are a convolution and a leaky_relu that run as one fused pass."""
        layers = self.layers
        return i + 1 < len(layers) and layers[i].type == "conv2d" and layers[i].fuses(layers[i + 1])

    @property
    def dtype(self) -> np.dtype:
        """The compute dtype: float64, or float32 for a copy made by `astype`."""
        return self.__dict__.get("_dtype", np.dtype(np.float64))

    def astype(self, dtype) -> Network:
        """This network computing in `dtype` ("float64" or "float32"): itself for its own dtype, else a copy
        whose parameters are cast (kept on this network, so repeated calls cost nothing)."""
        dtype = np.dtype(dtype)
        if dtype not in (np.float64, np.float32):
            raise ValueError(f"dtype must be float64 or float32, got {dtype}")
        if dtype == self.dtype:
            return self
        copies = self.__dict__.setdefault("_copies", {})
        key = (dtype.str, self.params_hash())
        if key not in copies:
            copies.clear()
            layers = [type(layer).from_config(layer.config()) for layer in self.layers]
            for layer, own in zip(layers, self.layers, strict=True):
                layer.name = own.name
                layer.params = {k: v.astype(dtype) for k, v in own.params.items()}
            net = Network(layers, self.input_shape, self.task, self.classes, self.training)
            net._dtype = dtype
            for attr in ("path", "sha256"):
                if attr in self.__dict__:
                    setattr(net, attr, self.__dict__[attr])
            copies[key] = net
        return copies[key]

    @contextmanager
    def reference_engine(self) -> Iterator[Network]:
        """Within the block, convolutions use the im2col engine (training does, for byte-identical models)."""
        convs = [layer for layer in self.layers if layer.type == "conv2d"]
        before = [layer.__dict__.get("reference") for layer in convs]
        for layer in convs:
            layer.reference = True
        try:
            yield self
        finally:
            for layer, was in zip(convs, before, strict=True):
                if was is None:
                    del layer.reference
                else:
                    layer.reference = was

    def predict_logits(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x, stop=self.logit_index)
