"""The model file: one `.npz`, read without pickle, validated strictly, written atomically.

Format (version 1):
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
import zipfile
from pathlib import Path

import numpy as np

from ..errors import ModelFileError
from ..files import atomic_write
from ..npy import load_npy_bytes
from .layers import LAYER_SETTINGS, LAYER_TYPES, ShapeError, param_shapes
from .network import Network

FORMAT, VERSION = "saliency-cli-model", 1
#: Largest number of values one layer may produce or unfold per sample (im2col rows included): the
#: engine is for small networks, and a file must not be able to ask for terabytes.
MAX_VALUES_PER_SAMPLE = 2**24
_MAX_SETTING = 2**31 - 1
_MAX_UNPACKED = 2**30
_FIXED_DATE = (1980, 1, 1, 0, 0, 0)  # zip timestamps fixed so that the same model gives the same bytes


def network_meta(net: Network) -> dict:
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
    data = model_bytes(net)
    atomic_write(path, data)
    return hashlib.sha256(data).hexdigest()


# -- loading -------------------------------------------------------------------------------------


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _check_setting(where: str, key: str, value, kind: type):
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{where}: '{key}' must be an integer, got {_short(value)}")
        if not (0 if key == "padding" else 1) <= value <= _MAX_SETTING:
            raise ValueError(f"{where}: '{key}' out of range: {_short(value)}")
    elif isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{where}: '{key}' must be a finite number, got {_short(value)}")


def _layer_from_meta(i: int, cfg) -> object:
    if not isinstance(cfg, dict) or "type" not in cfg:
        raise ValueError(f"layer {i} is not an object with a 'type'")
    kind = cfg["type"]
    if kind not in LAYER_TYPES:
        raise ValueError(f"layer {i}: unknown layer type {kind!r} (known: {', '.join(sorted(LAYER_TYPES))})")
    settings = LAYER_SETTINGS[kind]
    given = set(cfg) - {"type", "name"}
    if missing := sorted(set(settings) - given):
        raise ValueError(f"layer {i} ({kind}): missing {', '.join(missing)}")
    if extra := sorted(given - set(settings)):
        raise ValueError(f"layer {i} ({kind}): unknown setting {', '.join(extra)}")
    for key, kind_of in settings.items():
        _check_setting(f"layer {i} ({kind})", key, cfg[key], kind_of)
    if "name" in cfg:
        name = cfg["name"]
        if not (isinstance(name, str) and name and name.isprintable()) or name.lstrip("-").isdigit():
            raise ValueError(f"layer {i}: 'name' must be printable text that is not a number, got {_short(name)}")
    return cfg


def _parse_meta(raw) -> dict:
    if not isinstance(raw, np.ndarray) or raw.size != 1 or raw.ndim > 1 or raw.dtype.kind not in "US":
        raise ValueError("'meta' is not a JSON string")
    text = raw.reshape(()).item()
    try:
        text = text.decode("utf-8") if isinstance(text, bytes) else text
        meta = json.loads(text)
    except UnicodeDecodeError:
        raise ValueError("'meta' is not valid UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"'meta' is not valid JSON ({exc.msg})") from None
    except RecursionError:
        raise ValueError("'meta' is not valid JSON (nested too deeply)") from None
    if not isinstance(meta, dict):
        raise ValueError("'meta' is not a JSON object")
    if meta.get("format") != FORMAT:
        raise ValueError(f"not a saliency-cli model (format {meta.get('format')!r}, expected {FORMAT!r})")
    if meta.get("version") != VERSION:
        raise ValueError(f"unsupported model format version {meta.get('version')!r} (this tool reads {VERSION})")
    shape = meta.get("input_shape")
    if not (
        isinstance(shape, list)
        and len(shape) == 3
        and all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in shape)
    ):
        raise ValueError(f"'input_shape' must be [C, H, W] of positive integers, got {_short(shape)}")
    if not isinstance(meta.get("layers"), list) or not meta["layers"]:
        raise ValueError("'layers' must be a non-empty list")
    classes = meta.get("classes")
    if classes is not None and not (isinstance(classes, list) and all(isinstance(c, str) for c in classes)):
        raise ValueError("'classes' must be a list of strings")
    if meta.get("task") is not None and not isinstance(meta["task"], str):
        raise ValueError("'task' must be a string")
    if not isinstance(meta.get("training", {}), dict):
        raise ValueError("'training' must be an object")
    return meta


def _check_weights(configs: list[dict], arrays: dict[str, np.ndarray]) -> None:
    """Keys, dtypes, shapes and finiteness of the stored weights, checked before any layer is built."""
    expected = {f"{i}.{k}": shape for i, cfg in enumerate(configs) for k, shape in param_shapes(cfg).items()}
    keys = set(arrays) - {"meta"}
    if missing := sorted(set(expected) - keys):
        raise ValueError(f"missing weights: {', '.join(missing)}")
    if extra := sorted(keys - set(expected)):
        raise ValueError(f"unexpected keys: {', '.join(extra)}"[:200])
    for key, shape in expected.items():
        value = arrays[key]
        if not isinstance(value, np.ndarray) or value.dtype.kind != "f":
            kind = getattr(value, "dtype", type(value).__name__)
            raise ValueError(f"'{key}' has dtype {kind}, expected a floating-point array")
        if value.shape != shape:
            raise ValueError(f"'{key}' has shape {value.shape}, expected {_short(shape)}")
        if not np.all(np.isfinite(value)):
            raise ValueError(f"'{key}' contains NaN or Inf")


def _check_size(net: Network) -> None:
    """Refuse networks whose activations (or conv windows) per sample exceed MAX_VALUES_PER_SAMPLE."""
    shape = net.input_shape
    for layer, out in zip(net.layers, net.shapes, strict=True):
        values = int(np.prod(out, dtype=object))
        if layer.type == "conv2d":
            values = max(values, int(np.prod(out[1:], dtype=object)) * shape[0] * layer.kernel_size**2)
        if values > MAX_VALUES_PER_SAMPLE:
            raise ValueError(
                f"layer {layer.name} ({layer.type}) would produce {values:,} values per sample; "
                f"this tool handles at most {MAX_VALUES_PER_SAMPLE:,}"
            )
        shape = out


def _build(meta: dict, arrays: dict[str, np.ndarray]) -> Network:
    configs = [_layer_from_meta(i, cfg) for i, cfg in enumerate(meta["layers"])]
    _check_weights(configs, arrays)  # bounds every parameter allocation below by the file's own size
    if int(np.prod(meta["input_shape"], dtype=object)) > MAX_VALUES_PER_SAMPLE:
        raise ValueError(f"input_shape {_short(meta['input_shape'])} is too large for this tool")
    layers = [LAYER_TYPES[cfg["type"]].from_config(cfg) for cfg in configs]
    try:
        net = Network(layers, tuple(meta["input_shape"]), meta.get("task"), meta.get("classes"), meta.get("training"))
    except ShapeError as exc:
        raise ValueError(f"layers do not chain: {exc}") from None
    _check_size(net)
    for i, layer in enumerate(net.layers):
        for name in layer.params:
            layer.params[name] = arrays[f"{i}.{name}"].astype(np.float64)
    return net


def _read_members(data: bytes) -> dict[str, np.ndarray | bytes]:
    """Each member of the archive: `name.npy` decoded as an array under `name`, other members as raw bytes."""
    out: dict[str, np.ndarray | bytes] = {}
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        members = zf.infolist()
        if sum(m.file_size for m in members) > _MAX_UNPACKED:
            raise ValueError(f"the archive unpacks to more than {_MAX_UNPACKED:,} bytes")
        for member in members:
            raw = zf.read(member)
            key = member.filename.removesuffix(".npy")
            out[key] = load_npy_bytes(raw) if member.filename.endswith(".npy") else raw
    return out


def load_model(path: str | os.PathLike) -> Network:
    """Load and validate a model file; raises ModelFileError with a one-line reason.

    The returned network carries `path` and `sha256` (of the file's bytes).
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ModelFileError(path, "no such file") from None
    except IsADirectoryError:
        raise ModelFileError(path, "is a directory, not a model file") from None
    except OSError as exc:
        raise ModelFileError(path, f"cannot read ({exc.strerror})") from None
    if not data:
        raise ModelFileError(path, "empty file")
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise ModelFileError(path, "not an .npz model file (not a zip archive; truncated or another format?)")
    try:
        arrays = _read_members(data)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, KeyError) as exc:
        raise ModelFileError(path, f"unreadable .npz ({str(exc).splitlines()[0][:200]})") from None
    if "meta" not in arrays:
        raise ModelFileError(path, "no 'meta' key: not a saliency-cli model file")
    try:
        net = _build(_parse_meta(arrays["meta"]), arrays)
    except ValueError as exc:
        raise ModelFileError(path, str(exc)) from None
    net.path = str(path)
    net.sha256 = hashlib.sha256(data).hexdigest()
    return net
