"""The model file: one `.npz`, read without pickle, validated strictly, written atomically.

Format (version 1; version 2, an imported graph, is described in graphfile.py):
- key `meta`: a JSON string {"format": "saliency-cli-model", "version": 1, "task", "input_shape": [C, H, W],
  "classes": [...], "layers": [{"type": ..., settings..., "name"?}, ...], "training": {...}};
- keys `"<i>.weight"` and `"<i>.bias"` for layer i, in PyTorch layouts (conv (out, in, kh, kw), dense (out, in)).
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os

import numpy as np

from ..errors import ModelFileError, one_line
from ..npy import FLOATS
from ..reading import read_problem
from .layers import LAYER_SETTINGS, LAYER_TYPES, ShapeError, param_shapes
from .limits import MAX_FILE_BYTES, MAX_LAYERS, MAX_META_BYTES, check_activations, check_parameters
from .limits import MAX_VALUES_PER_SAMPLE as MAX_VALUES_PER_SAMPLE  # re-exported: the bound lives in limits
from .modelzip import Archive, ArchiveError, read_file
from .network import Network

FORMAT, VERSION = "saliency-cli-model", 1
GRAPH_VERSION = 2  # the graph form (see graphfile.py)
_MAX_SETTING = 2**31 - 1
#: The top-level keys of the meta JSON: the first four are required.
_REQUIRED_KEYS = ("format", "version", "input_shape", "layers")
_OPTIONAL_KEYS = ("task", "classes", "training")
_FIXED_DATE = (1980, 1, 1, 0, 0, 0)  # zip timestamps fixed so that the same model gives the same bytes


def network_meta(net: Network) -> dict:
    if hasattr(net, "plan"):  # a graph: the version 2 form
        from .graphfile import graph_meta

        return graph_meta(net)
    layers = []
    for layer in net.layers:
        cfg = layer.config()
        cfg["name"] = layer.name
        layers.append(cfg)
    return {
        "format": FORMAT,
        "version": VERSION,
        "task": net.task,
        "input_shape": list(net.input_shape),
        "classes": list(net.classes),
        "layers": layers,
        "training": net.training,
    }


def model_bytes(net: Network) -> bytes:
    """The model file's bytes: deterministic for a given network."""
    import zipfile  # NOTE: here, not at import: reading a model uses modelzip's reader (zipfile costs ~6 ms)

    buf = io.BytesIO()
    arrays = {"meta": np.array(json.dumps(network_meta(net), sort_keys=True))}
    arrays.update(net.parameters())
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        for key, value in arrays.items():
            member = io.BytesIO()
            np.lib.format.write_array(member, np.asarray(value, order="C"), allow_pickle=False)
            zf.writestr(zipfile.ZipInfo(f"{key}.npy", date_time=_FIXED_DATE), member.getvalue())
    return buf.getvalue()


def save_model(net: Network, path: str | os.PathLike) -> str:
    """Write `net` to `path` atomically; returns the file's SHA-256."""
    from ..files import atomic_write  # NOTE: here, not at import: reading a model needs no writer (nor pathlib)

    data = model_bytes(net)
    atomic_write(path, data)
    return hashlib.sha256(data).hexdigest()


# -- loading -------------------------------------------------------------------------------------


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _short_json(value) -> str:
    """`value` as it is written in the JSON (true, not True), shortened."""
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _check_setting(where: str, key: str, value, kind: type):
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{where}: '{key}' must be an integer, got {_short(value)}")
        if not (0 if key == "padding" else 1) <= value <= _MAX_SETTING:
            raise ValueError(f"{where}: '{key}' out of range: {_short(value)}")
    elif isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{where}: '{key}' must be a finite number, got {_short(value)}")


def _layer_from_meta(i: int, cfg) -> dict:
    if not isinstance(cfg, dict) or "type" not in cfg:
        raise ValueError(f"layer {i} is not an object with a 'type'")
    kind = cfg["type"]
    if not isinstance(kind, str) or kind not in LAYER_TYPES:
        raise ValueError(f"layer {i}: unknown layer type {_short(kind)} (known: {', '.join(sorted(LAYER_TYPES))})")
    settings = LAYER_SETTINGS[kind]
    given = set(cfg) - {"type", "name"}
    if missing := sorted(set(settings) - given):
        raise ValueError(f"layer {i} ({kind}): missing {', '.join(missing)}")
    if extra := sorted(given - set(settings)):
        raise ValueError(f"layer {i} ({kind}): unknown setting {', '.join(extra)}"[:200])
    for key, kind_of in settings.items():
        _check_setting(f"layer {i} ({kind})", key, cfg[key], kind_of)
    if "name" in cfg:
        name = cfg["name"]
        if not (isinstance(name, str) and name and name.isprintable()) or name.lstrip("-").isdigit():
            raise ValueError(f"layer {i}: 'name' must be printable text that is not a number, got {_short(name)}")
    return cfg


def _no_constants(token: str):
    raise ValueError(f"'meta' is not valid JSON ({token} is not a JSON number)")


def _unique_keys(pairs: list[tuple[str, object]]) -> dict:
    out = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"'meta' is not valid JSON (key {_short(key)} given twice)")
        out[key] = value
    return out


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


#: Deepest nesting of objects and lists in 'meta' (the format itself needs 3): a deeper training record
#: would break every later recursive walk of it (JSON output, rendering) with a RecursionError.
MAX_META_NESTING = 32


def _nesting(value) -> int:
    """How deeply JSON objects and lists nest in `value` (a scalar is 0; counted up to MAX_META_NESTING + 1),
    without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, depth)
        if depth <= MAX_META_NESTING:
            stack.extend((child, depth + 1) for child in children)
    return deepest


def _parse_meta(raw) -> dict:
    if not isinstance(raw, np.ndarray) or raw.size != 1 or raw.ndim > 1 or raw.dtype.kind not in "US":
        raise ValueError("'meta' is not a JSON string")
    text = raw.reshape(()).item()
    try:
        text = text.decode("utf-8") if isinstance(text, bytes) else text
        meta = json.loads(text, parse_constant=_no_constants, object_pairs_hook=_unique_keys)
    except UnicodeDecodeError:
        raise ValueError("'meta' is not valid UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"'meta' is not valid JSON ({exc.msg})") from None
    except RecursionError:
        raise ValueError("'meta' is not valid JSON (nested too deeply)") from None
    if not isinstance(meta, dict):
        raise ValueError("'meta' is not a JSON object")
    if _nesting(meta) > MAX_META_NESTING:
        raise ValueError(f"'meta' nests objects or lists more than {MAX_META_NESTING} levels deep")
    if meta.get("format") != FORMAT:
        raise ValueError(f"not a saliency-cli model (format {_short(meta.get('format'))}, expected {FORMAT!r})")
    version = meta.get("version")
    if not (_is_int(version) and version in (VERSION, GRAPH_VERSION)):
        raise ValueError(
            f"unsupported model format version {_short_json(version)} (the integer {VERSION} or {GRAPH_VERSION} is "
            "expected)"
        )
    if version == GRAPH_VERSION:  # the graph form: 'graph' in place of 'layers'
        return _parse_graph_meta(meta)
    if unknown := sorted(set(meta) - set(_REQUIRED_KEYS) - set(_OPTIONAL_KEYS)):
        raise ValueError(f"unknown meta key {', '.join(map(_short, unknown))}"[:200])
    _check_common(meta)
    layers = meta.get("layers")
    if not isinstance(layers, list) or not layers:
        raise ValueError("'layers' must be a non-empty list")
    if len(layers) > MAX_LAYERS:
        raise ValueError(f"{len(layers):,} layers; a model may have at most {MAX_LAYERS}")
    return meta


def _parse_graph_meta(meta: dict) -> dict:
    keys = ("format", "version", "input_shape", "graph")
    if missing := [key for key in keys if key not in meta]:
        raise ValueError(f"missing meta key {missing[0]!r}")
    if unknown := sorted(set(meta) - set(keys) - set(_OPTIONAL_KEYS)):
        raise ValueError(f"unknown meta key {', '.join(map(_short, unknown))}"[:200])
    _check_common(meta)
    return meta


def _check_common(meta: dict) -> None:
    """The keys both forms share: input_shape, classes, task, training."""
    shape = meta.get("input_shape")
    if not (isinstance(shape, list) and len(shape) == 3 and all(_is_int(s) and 0 < s <= _MAX_SETTING for s in shape)):
        raise ValueError(f"'input_shape' must be [C, H, W] of positive integers, got {_short(shape)}")
    classes = meta.get("classes")
    if classes is not None and not (isinstance(classes, list) and all(isinstance(c, str) for c in classes)):
        raise ValueError("'classes' must be a list of strings")
    if meta.get("task") is not None and not isinstance(meta["task"], str):
        raise ValueError("'task' must be a string")
    if not isinstance(meta.get("training", {}), dict):
        raise ValueError("'training' must be an object")


def _weights(archive: Archive, configs: list[dict]) -> dict[str, np.ndarray]:
    """The stored weights as float64, every member checked (names, declared sizes, dtypes, shapes, finiteness)
    against what the layer settings imply before it is decompressed."""
    expected = {f"{i}.{k}": shape for i, cfg in enumerate(configs) for k, shape in param_shapes(cfg).items()}
    keys = set(archive.members) - {"meta"}
    if missing := sorted(set(expected) - keys):
        raise ValueError(f"missing weights: {', '.join(missing)}"[:200])
    if extra := sorted(keys - set(expected)):
        raise ValueError(f"unexpected keys: {', '.join(extra)}"[:200])
    out = {}
    for key, shape in expected.items():
        value = archive.read(key, math.prod(shape) * 8, FLOATS, "float16, float32 or float64", shape=shape)
        value = value.astype(np.float64)
        if not np.isfinite(value).all():  # NOTE: after the conversion, so that nothing becomes inf on the way
            raise ValueError(f"'{key}' contains NaN or Inf")
        out[key] = value
    return out


def _build(archive: Archive) -> Network:
    if "meta" not in archive.members:
        raise ValueError("no 'meta' key: not a saliency-cli model file")
    meta = _parse_meta(archive.read("meta", MAX_META_BYTES, frozenset(), "a JSON string", text=True))
    if meta["version"] == GRAPH_VERSION:
        from .graphfile import build_graph

        return build_graph(archive, meta)
    configs = [_layer_from_meta(i, cfg) for i, cfg in enumerate(meta["layers"])]
    check_parameters(configs)  # bounds the parameter arrays that the layers below allocate
    layers = [LAYER_TYPES[cfg["type"]].from_config(cfg) for cfg in configs]
    check_activations(layers, tuple(meta["input_shape"]))
    weights = _weights(archive, configs)
    try:
        net = Network(layers, tuple(meta["input_shape"]), meta.get("task"), meta.get("classes"), meta.get("training"))
    except ShapeError as exc:
        raise ValueError(f"layers do not chain: {exc}") from None
    for i, layer in enumerate(net.layers):
        for name in layer.params:
            layer.params[name] = weights[f"{i}.{name}"]
    return net


def model_from_bytes(data: bytes) -> Network:
    """The network of a model file's bytes (as `model_bytes` writes them); a ValueError if they are not one."""
    return _build(Archive(data, max_members=2 * MAX_LAYERS + 1))


def load_model(path: str | os.PathLike, output: str | None = None) -> Network:
    """Load and validate a model file (.npz, or .onnx with the onnx package); raises ModelFileError with a
    one-line reason. `output`: the output of an .onnx graph to explain (see `onnx_import.load_onnx`).

    The returned network carries `path` and `sha256` (of the file's bytes).
    """
    path = os.fspath(path)
    if path.lower().endswith(".onnx"):
        return _load_onnx(path, output)
    if output is not None:  # NOTE: refused, never dropped: a model file has its one set of logits
        raise ModelFileError(path, f"--output picks an output of an .onnx model; {path} is not one: drop --output")
    try:
        data = read_file(path, MAX_FILE_BYTES)
    except ArchiveError as exc:
        raise ModelFileError(path, str(exc)) from None
    except OSError as exc:
        raise ModelFileError(path, read_problem(exc, "a model file")) from None
    try:
        net = model_from_bytes(data)
    except ValueError as exc:  # ArchiveError included
        raise ModelFileError(path, str(exc)) from None
    net.path = str(path)
    net.sha256 = hashlib.sha256(data).hexdigest()
    return net


def _load_onnx(path: str, output: str | None) -> Network:
    from .onnx_import import Refused, load_onnx

    try:
        return load_onnx(path, output)
    except OSError as exc:
        raise ModelFileError(path, read_problem(exc, "a model file")) from None
    except Refused as exc:
        raise ModelFileError(path, one_line(exc)) from None
    except (AttributeError, TypeError, ValueError, KeyError, IndexError, OverflowError, RecursionError) as exc:
        # NOTE: a protobuf that parses but breaks the format's own rules in a way no check above names (text
        # fields that are not UTF-8, wrong field kinds): refused as malformed, never a traceback
        raise ModelFileError(path, f"malformed ONNX graph ({type(exc).__name__})") from None
