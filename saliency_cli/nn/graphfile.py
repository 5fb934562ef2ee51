"""The graph form of the model file (format version 2): an imported graph written in the tool's own `.npz`.

Format (version 2), beside version 1's keys (`format`, `version`, `task`, `input_shape`, `classes`, `training`):
- `graph`: {"input": the input tensor's name, "nodes": [node, ...] in topological order, "notes": [...]};
  each node {"type", "name", "inputs": [tensor names], "output": tensor name, "params": {key: shape}, and the
  type's settings (see `nn.graph`)};
- keys `"<i>.<key>"` for node i's parameters, of the declared shapes.
Reading it needs no onnx package; it is validated as strictly as version 1 and bounded before anything is
allocated.
"""

from __future__ import annotations

import math

import numpy as np

from ..npy import FLOATS
from .graph import NODE_TYPES, Graph
from .layers import ShapeError
from .limits import MAX_LAYERS, MAX_PARAMETERS, MAX_VALUES_PER_SAMPLE

GRAPH_VERSION = 2
_NODE_KEYS = {"type", "name", "inputs", "output", "params"}


def graph_meta(graph: Graph) -> dict:
    nodes = []
    for node in graph.layers:
        cfg = node.config()
        cfg["params"] = {key: list(value.shape) for key, value in node.params.items()}
        nodes.append(cfg)
    return {
        "format": "saliency-cli-model",
        "version": GRAPH_VERSION,
        "task": graph.task,
        "input_shape": list(graph.input_shape),
        "classes": list(graph.classes),
        "graph": {"input": graph.input_name, "nodes": nodes, "notes": list(graph.notes)},
        "training": graph.training,
    }


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _is_name(value) -> bool:
    return isinstance(value, str) and 0 < len(value) <= 1000 and value.isprintable()


def _tuples(value):
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


def _node_spec(i: int, cfg) -> tuple[type, dict, dict[str, tuple[int, ...]]]:
    if not isinstance(cfg, dict) or cfg.get("type") not in NODE_TYPES:
        raise ValueError(f"node {i}: unknown node type {_short(cfg.get('type') if isinstance(cfg, dict) else cfg)}")
    cls = NODE_TYPES[cfg["type"]]
    keys = set(cfg) - _NODE_KEYS
    if keys != set(cls.settings) or not _NODE_KEYS <= set(cfg):
        raise ValueError(f"node {i} ({cls.type}): settings {sorted(keys)[:8]}, expected {sorted(cls.settings)}"[:200])
    if not (
        _is_name(cfg["name"])
        and _is_name(cfg["output"])
        and isinstance(cfg["inputs"], list)
        and all(_is_name(n) for n in cfg["inputs"])
        and 1 <= len(cfg["inputs"]) <= MAX_LAYERS
    ):
        raise ValueError(f"node {i}: 'name', 'inputs' and 'output' must be printable tensor names")
    params = cfg["params"]
    if not isinstance(params, dict) or len(params) > 8:
        raise ValueError(f"node {i}: 'params' must map a few keys to shapes")
    shapes = {}
    for key, shape in params.items():
        if not (
            _is_name(key)
            and isinstance(shape, list)
            and len(shape) <= 8
            and all(isinstance(s, int) and not isinstance(s, bool) and 0 < s <= 2**31 for s in shape)
        ):
            raise ValueError(f"node {i}: parameter {_short(key)} has no valid shape")
        shapes[key] = tuple(shape)
    for key in cls.settings:
        value = cfg[key]
        ok = isinstance(value, int | float | str) or (
            isinstance(value, list)
            and len(value) <= 8
            and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
        )
        if not ok or (isinstance(value, float) and not math.isfinite(value)):
            raise ValueError(f"node {i} ({cls.type}): setting '{key}' is not valid: {_short(value)}")
    return cls, cfg, shapes


def build_graph(archive, meta: dict) -> Graph:
    """The Graph of a version 2 model file whose common meta keys are already checked."""
    spec = meta.get("graph")
    if not isinstance(spec, dict) or set(spec) != {"input", "nodes", "notes"} or not _is_name(spec["input"]):
        raise ValueError("'graph' must be an object with 'input', 'nodes' and 'notes'")
    nodes_cfg = spec["nodes"]
    if not isinstance(nodes_cfg, list) or not 1 <= len(nodes_cfg) <= MAX_LAYERS:
        raise ValueError(f"'graph.nodes' must be a list of 1 to {MAX_LAYERS} nodes")
    if not (isinstance(spec["notes"], list) and all(isinstance(n, str) for n in spec["notes"])):
        raise ValueError("'graph.notes' must be a list of strings")
    specs = [_node_spec(i, cfg) for i, cfg in enumerate(nodes_cfg)]
    total = sum(math.prod(shape) for _, _, shapes in specs for shape in shapes.values())
    if total > MAX_PARAMETERS:
        raise ValueError(f"the nodes have {total:,} parameters; a model may have at most {MAX_PARAMETERS:,}")
    expected = {f"{i}.{k}": shape for i, (_, _, shapes) in enumerate(specs) for k, shape in shapes.items()}
    keys = set(archive.members) - {"meta"}
    if missing := sorted(set(expected) - keys):
        raise ValueError(f"missing weights: {', '.join(missing)}"[:200])
    if extra := sorted(keys - set(expected)):
        raise ValueError(f"unexpected keys: {', '.join(extra)}"[:200])
    nodes, known = [], {spec["input"]: tuple(meta["input_shape"])}
    for i, (cls, cfg, shapes) in enumerate(specs):
        params = {}
        for key, shape in shapes.items():
            value = archive.read(f"{i}.{key}", math.prod(shape) * 8, FLOATS, "float16, float32 or float64", shape=shape)
            params[key] = value.astype(np.float64)
            if not np.isfinite(params[key]).all():
                raise ValueError(f"'{i}.{key}' contains NaN or Inf")
        try:
            node = cls(cfg["name"], cfg["inputs"], cfg["output"], params, **{k: _tuples(cfg[k]) for k in cls.settings})
            ins = [known[name] for name in node.inputs]
            known[node.output] = tuple(node.output_shape(*ins))
            values, what = node.values_per_sample(*ins)
        except KeyError as exc:
            raise ValueError(f"node {i} reads {_short(exc.args[0])}, which no earlier node writes") from None
        except (ShapeError, TypeError, ValueError, OverflowError) as exc:
            raise ValueError(f"node {i} ({cls.type}): {str(exc)[:150]}") from None
        if values > MAX_VALUES_PER_SAMPLE:
            raise ValueError(
                f"node {i} ({cls.type}) would need {values:,} values per sample for {what}; "
                f"this tool handles at most {MAX_VALUES_PER_SAMPLE:,}"
            )
        nodes.append(node)
    try:
        return Graph(
            nodes,
            spec["input"],
            tuple(meta["input_shape"]),
            meta.get("task"),
            meta.get("classes"),
            meta.get("training"),
            spec["notes"],
        )
    except ShapeError as exc:
        raise ValueError(f"nodes do not chain: {exc}") from None
