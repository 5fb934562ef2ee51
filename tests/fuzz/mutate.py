"""Seeded mutators: hostile variants of model files (bytes, zip structure, .npy headers, meta JSON), random valid
architectures, and hostile probes. Every function takes a `random.Random` and returns new bytes."""

from __future__ import annotations

import io
import json
import random
import struct
import warnings
import zipfile

import numpy as np

# -- plain bytes ----------------------------------------------------------------------------------


def mutate_bytes(rng: random.Random, data: bytes) -> bytes:
    """Flip bits, overwrite, insert, delete, duplicate or truncate: 1 to 4 edits."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        if not out:
            out += rng.randbytes(rng.randint(1, 16))
        at = rng.randrange(len(out))
        match rng.randrange(7):
            case 0:
                out[at] ^= 1 << rng.randrange(8)
            case 1:
                out[at : at + 4] = rng.randbytes(min(4, len(out) - at))
            case 2:
                out[at:at] = rng.randbytes(rng.randint(1, 32))
            case 3:
                del out[at : at + rng.randint(1, 64)]
            case 4:
                end = min(len(out), at + rng.randint(1, 256))
                out[at:at] = out[at:end]
            case 5:
                del out[rng.randrange(len(out)) :]
            case _:
                out[at] = rng.choice([0x00, 0xFF, 0x7F, 0x80, ord("("), ord("-"), ord("'")])
    return bytes(out)


# -- zip structure --------------------------------------------------------------------------------

# (offset, size) of mutable fields in a local (PK 3 4) and a central (PK 1 2) header.
_LOCAL = {"flags": (6, 2), "method": (8, 2), "crc": (14, 4), "csize": (18, 4), "usize": (22, 4), "extra": (28, 2)}
_CENTRAL = {"flags": (8, 2), "method": (10, 2), "crc": (16, 4), "csize": (20, 4), "usize": (24, 4), "extra": (30, 2)}
_EOCD = {"entries": (10, 2), "size": (12, 4), "offset": (16, 4)}


def _field_value(rng: random.Random, name: str, size: int) -> int:
    top = (1 << (8 * size)) - 1
    match name:
        case "flags":
            return 1 << rng.randrange(16) if rng.random() < 0.8 else rng.randrange(top + 1)
        case "method":
            return rng.choice([0, 1, 6, 8, 9, 12, 14, 93, 95, 98, 99, top])
        case "extra":
            return rng.choice([0, 1, 4, 65535, rng.randrange(top + 1)])
    return rng.choice([0, 1, top, top - 1, rng.randrange(top + 1)])


def _headers(data: bytes, signature: bytes) -> list[int]:
    out, start = [], 0
    while (at := data.find(signature, start)) >= 0:
        out.append(at)
        start = at + 1
    return out


def mutate_zip_fields(rng: random.Random, data: bytes) -> bytes:
    """Change one to three header fields (flag bits, method, sizes, CRC, extra length, directory counts)."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 3)):
        table, signature = rng.choice([(_LOCAL, b"PK\x03\x04"), (_CENTRAL, b"PK\x01\x02"), (_EOCD, b"PK\x05\x06")])
        spots = _headers(bytes(out), signature)
        if not spots:
            continue
        name = rng.choice(sorted(table))
        offset, size = table[name]
        targets = spots if rng.random() < 0.3 else [rng.choice(spots)]
        value = _field_value(rng, name, size)
        for at in targets:
            if at + offset + size <= len(out):
                out[at + offset : at + offset + size] = value.to_bytes(size, "little")
    return bytes(out)


def members(data: bytes) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return [(info.filename, zf.read(info)) for info in zf.infolist()]


def build_zip(items: list[tuple[str, bytes]], deflate: bool = False) -> bytes:
    buf = io.BytesIO()
    method = zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED
    with zipfile.ZipFile(buf, "w", compression=method) as zf, warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # duplicate names are made on purpose
        for name, payload in items:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = method
            zf.writestr(info, payload)
    return buf.getvalue()


def mutate_zip_members(rng: random.Random, data: bytes) -> bytes:
    """Drop, duplicate, rename, reorder members, add foreign ones, append junk to one, or deflate them all."""
    items = members(data)
    match rng.randrange(7):
        case 0 if items:
            del items[rng.randrange(len(items))]
        case 1 if items:
            items.append(rng.choice(items))
        case 2 if items:
            i = rng.randrange(len(items))
            new = rng.choice(["meta", "0.weight", "9.bias", "x", "../evil", "meta.npy/", ""]) + rng.choice([".npy", ""])
            items[i] = (new, items[i][1])
        case 3:
            rng.shuffle(items)
        case 4:
            items.append((rng.choice(["README.txt", "extra.npy", "0.running_mean.npy"]), rng.randbytes(40)))
        case 5 if items:
            i = rng.randrange(len(items))
            items[i] = (items[i][0], items[i][1] + rng.randbytes(rng.randint(1, 64)))
        case _:
            return build_zip(items, deflate=True)
    return build_zip(items, deflate=rng.random() < 0.3)


# -- .npy headers ---------------------------------------------------------------------------------

_DESCRS = ["<f8", ">f8", "<f4", "<f2", "<f16", "<c16", "|O", "<i8", "|b1", "|u1", "<U5", "|S3", "=f8", "<M8[s]", "f8"]
_DIMS = ["0", "1", "2", "True", "False", "-1", "2.0", "1e3", "10**9", "99999999999999999999999", "(1,)", "None", "'a'"]


def npy_with_header(header: str, data: bytes, version: int = 1) -> bytes:
    header += " " * (63 - (len(header) + 10) % 64) + "\n"
    raw = header.encode("latin-1", "replace")
    size = struct.pack("<H", len(raw) % 65536) if version == 1 else struct.pack("<I", len(raw))
    return b"\x93NUMPY" + bytes([version, 0]) + size + raw + data


def random_header(rng: random.Random, shape: tuple[int, ...], descr: str = "<f8") -> str:
    """A header text close to numpy's, with one to three hostile edits."""
    dims = [str(d) for d in shape]
    fields = {"descr": repr(descr), "fortran_order": "False", "shape": None}
    for _ in range(rng.randint(1, 3)):
        match rng.randrange(9):
            case 0:
                fields["descr"] = repr(rng.choice(_DESCRS))
            case 1:
                if dims:
                    dims[rng.randrange(len(dims))] = rng.choice(_DIMS)
                else:
                    dims.append(rng.choice(_DIMS))
            case 2:
                dims.append(str(rng.choice([1, 2, 10**6, 2**40])))
            case 3:
                fields["fortran_order"] = rng.choice(["True", "0", "1", "None", "'no'"])
            case 4:
                del fields[rng.choice(sorted(fields))]
            case 5:
                fields["extra"] = "1"
            case 6:
                dims = ["-" * rng.choice([10, 3000]) + "1"]
            case 7:
                dims = ["(" * rng.choice([5, 3000]) + "1"]
            case _:
                fields["descr"] = rng.choice(["[('a', '<f8')]", "__import__('os')", "'<f8' + 'x'", "{}"])
    shape_text = "(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")"
    body = ", ".join(f"'{k}': {shape_text if k == 'shape' else v}" for k, v in fields.items())
    return "{" + body + (", }" if rng.random() < 0.8 else "")


def mutate_npy_header(rng: random.Random, npy: bytes, shape: tuple[int, ...], descr: str = "<f8") -> bytes:
    """`npy` with its header replaced by a hostile one (data kept, sometimes truncated or extended)."""
    header_len = struct.unpack("<H", npy[8:10])[0]
    data = npy[10 + header_len :]
    if rng.random() < 0.2:
        data = data[: rng.randrange(len(data) + 1)]
    elif rng.random() < 0.2:
        data += rng.randbytes(rng.randint(1, 32))
    return npy_with_header(random_header(rng, shape, descr), data, version=rng.choice([1, 1, 1, 2, 3]))


def mutate_model_member_header(rng: random.Random, data: bytes) -> bytes:
    items = members(data)
    i = rng.randrange(len(items))
    name, payload = items[i]
    array = np.load(io.BytesIO(payload), allow_pickle=False)
    items[i] = (name, mutate_npy_header(rng, payload, array.shape, array.dtype.str))
    return build_zip(items, deflate=rng.random() < 0.2)


# -- meta JSON ------------------------------------------------------------------------------------


def _hostile_value(rng: random.Random):
    return rng.choice(
        [
            None,
            True,
            False,
            0,
            -1,
            1.0,
            2**31,
            2**31 - 1,
            10**30,
            1e308,
            "",
            "x",
            "\x1b[2J",
            [],
            {},
            ["relu"],
            {"type": "relu"},
            [1, 2],
            [1, 2, 3],
            [[1]],
            float("nan"),
            float("inf"),
            rng.randint(-5, 50),
            "conv2d",
        ]
    )


def mutate_meta(rng: random.Random, data: bytes) -> bytes:
    """Change the meta JSON: values, keys, layers, NaN tokens, duplicate keys, truncation, deep nesting."""
    items = members(data)
    index = next(i for i, (name, _) in enumerate(items) if name == "meta.npy")
    meta = json.loads(str(np.load(io.BytesIO(items[index][1]), allow_pickle=False)))
    text = None
    for _ in range(rng.randint(1, 3)):
        layers = meta.get("layers") if isinstance(meta, dict) else None
        match rng.randrange(10):
            case 0 if isinstance(meta, dict):
                meta[rng.choice(["format", "version", "task", "input_shape", "classes", "layers", "training", "x"])] = (
                    _hostile_value(rng)
                )
            case 1 if isinstance(meta, dict) and meta:
                del meta[rng.choice(sorted(meta))]
            case 2 if isinstance(layers, list) and layers:
                layer = rng.choice(layers)
                if isinstance(layer, dict):
                    key = rng.choice([*sorted(layer), "type", "padding", "stride", "dilation", "name"])
                    layer[key] = _hostile_value(rng)
            case 3 if isinstance(layers, list) and layers:
                layers.insert(rng.randrange(len(layers) + 1), rng.choice(layers))
            case 4 if isinstance(layers, list) and layers:
                del layers[rng.randrange(len(layers))]
            case 5 if isinstance(meta, dict):
                meta["training"] = {"x": float("nan")} if rng.random() < 0.5 else {"deep": [[[[[[[[1]]]]]]]]}
            case 6 if isinstance(meta, dict):
                meta["input_shape"] = [rng.choice([0, 1, 2, 3, 8, 10**5, -1, True]) for _ in range(rng.randint(1, 4))]
            case 7 if isinstance(layers, list) and layers and isinstance(layers[0], dict):
                layers[0]["padding" if "padding" in layers[0] else "kernel_size"] = rng.choice([3000, 12000, 2**31 - 1])
            case 8:
                text = json.dumps(meta)
                text = rng.choice(
                    [text[:-1] + ', "version": 1}', text[: rng.randrange(len(text))], "[" * 5000, text + " x"]
                )
            case _:
                meta = _hostile_value(rng)
    text = json.dumps(meta) if text is None else text
    buf = io.BytesIO()
    np.save(buf, np.array(text), allow_pickle=False)
    items[index] = ("meta.npy", buf.getvalue())
    return build_zip(items)


# -- random valid architectures -------------------------------------------------------------------


def random_architecture(rng: random.Random) -> tuple[dict, tuple[int, int, int]]:
    """A meta dict of a random valid chain of layers, and its input shape."""
    c, h, w = rng.randint(1, 3), rng.randint(1, 10), rng.randint(1, 10)
    shape, layers = (c, h, w), []
    for _ in range(rng.randint(0, 4)):
        kind = rng.choice(["conv2d", "conv2d", "maxpool2d", "relu", "leaky_relu"])
        if kind == "conv2d":
            k, s, p = rng.randint(1, 4), rng.randint(1, 3), rng.randint(0, 2)
            ho, wo = (shape[1] + 2 * p - k) // s + 1, (shape[2] + 2 * p - k) // s + 1
            if ho < 1 or wo < 1:
                continue
            o = rng.randint(1, 4)
            layers.append(
                {"type": kind, "in_channels": shape[0], "out_channels": o, "kernel_size": k, "stride": s, "padding": p}
            )
            shape = (o, ho, wo)
        elif kind == "maxpool2d":
            k, s = rng.randint(1, 3), rng.randint(1, 3)
            ho, wo = (shape[1] - k) // s + 1, (shape[2] - k) // s + 1
            if ho < 1 or wo < 1:
                continue
            layers.append({"type": kind, "kernel_size": k, "stride": s})
            shape = (shape[0], ho, wo)
        elif kind == "leaky_relu":
            layers.append({"type": kind, "negative_slope": rng.choice([0.0, 0.01, 0.1, 0.5, 1.0, -0.5])})
        else:
            layers.append({"type": kind})
    if rng.random() < 0.5:
        layers.append({"type": "global_avg_pool"})
        features = shape[0]
    else:
        layers.append({"type": "flatten"})
        features = shape[0] * shape[1] * shape[2]
    for _ in range(rng.randint(1, 3)):
        out = rng.randint(2, 6)
        layers.append({"type": "dense", "in_features": features, "out_features": out})
        features = out
        if rng.random() < 0.5:
            layers.append({"type": "relu"})
    if layers[-1]["type"] == "relu":
        layers.pop()
    if rng.random() < 0.5:
        layers.append({"type": "softmax"})
    meta = {"format": "saliency-cli-model", "version": 1, "input_shape": [c, h, w], "layers": layers}
    if rng.random() < 0.3:
        meta["task"] = rng.choice(["blobs8x8", "blobs8x8-gap", "digits", "x\x1b[2J"])
    return meta, (c, h, w)


def model_file(rng: random.Random, meta: dict) -> bytes:
    """A model file for `meta` with random weights (float16/32/64, scales from 1e-6 to 1e6)."""
    from saliency_cli.nn.layers import param_shapes

    items = [("meta.npy", _npy(np.array(json.dumps(meta))))]
    nprng = np.random.default_rng(rng.randrange(2**32))
    scale = 10.0 ** rng.choice([-6, -2, 0, 0, 0, 1, 3, 6])
    for i, cfg in enumerate(meta["layers"]):
        for key, shape in param_shapes(cfg).items():
            dtype = rng.choice([np.float64, np.float64, np.float32, np.float16])
            with np.errstate(over="ignore"):  # float16 weights of scale 1e6 become inf: refused, as they should
                weights = (nprng.normal(size=shape) * scale).astype(dtype)
            items.append((f"{i}.{key}.npy", _npy(weights)))
    return build_zip(items, deflate=rng.random() < 0.3)


def random_probe(rng: random.Random, shape: tuple[int, ...]) -> bytes:
    """A probe of `shape`: ordinary, subnormal, huge, constant, integer or boolean values; sometimes a batch."""
    nprng = np.random.default_rng(rng.randrange(2**32))
    full = (rng.randint(1, 3), *shape) if rng.random() < 0.2 else shape
    match rng.randrange(8):
        case 0:
            x = nprng.uniform(0, 1, size=full) * 1e-310
        case 1:
            x = nprng.normal(size=full) * rng.choice([1e150, 1e300])
        case 2:
            x = np.full(full, rng.choice([0.0, 1.0, -1.0]))
        case 3:
            x = nprng.integers(-100, 100, size=full).astype(rng.choice([np.int8, np.int64, np.uint8]))
        case 4:
            x = nprng.random(size=full) > 0.5
        case _:
            x = nprng.uniform(0, 1.2, size=full).astype(rng.choice([np.float64, np.float32, np.float16]))
    return _npy(x)


def mutate_probe(rng: random.Random, npy: bytes, shape: tuple[int, ...]) -> bytes:
    """Hostile variants of a probe's bytes: header, values, trailing bytes, truncation, raw bytes."""
    match rng.randrange(6):
        case 0:
            return mutate_npy_header(rng, npy, shape)
        case 1:
            x = np.load(io.BytesIO(npy)).astype(np.float64)
            x.flat[rng.randrange(x.size)] = rng.choice([np.nan, np.inf, -np.inf, 1e308, 5e-324, -0.0])
            return _npy(x)
        case 2:
            return npy + rng.randbytes(rng.randint(1, 4096))
        case 3:
            return npy[: rng.randrange(len(npy))]
        case 4:
            return _npy(np.zeros(tuple(rng.randint(0, 9) for _ in range(rng.randint(0, 5)))))
        case _:
            return mutate_bytes(rng, npy)


def _npy(array) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return buf.getvalue()
