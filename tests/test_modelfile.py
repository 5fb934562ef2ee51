"""The model file: round trip, determinism, the documented format, and strict, safe loading."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest

from saliency_cli.errors import ModelFileError
from saliency_cli.nn.modelfile import load_model, model_bytes, save_model
from saliency_cli.tasks import TASKS


@pytest.fixture
def net():
    return TASKS["blobs8x8"].build_network(seed=3)


def write_npz(path, arrays: dict) -> None:
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)


def arrays_of(net) -> dict:
    data = np.load(io.BytesIO(model_bytes(net)), allow_pickle=False)
    return {k: data[k] for k in data.files}


def test_save_load_round_trip_gives_identical_outputs(net, tmp_path, rng):
    path = tmp_path / "m.npz"
    sha = save_model(net, path)
    loaded = load_model(path)
    x = rng.normal(size=(4, 2, 8, 8))
    np.testing.assert_array_equal(loaded.forward(x), net.forward(x))
    assert loaded.params_hash() == net.params_hash()
    assert loaded.names == net.names and loaded.classes == net.classes and loaded.task == "blobs8x8"
    assert loaded.sha256 == sha and loaded.path == str(path)


def test_same_network_gives_the_same_bytes(net):
    assert model_bytes(net) == model_bytes(TASKS["blobs8x8"].build_network(seed=3))
    assert model_bytes(net) != model_bytes(TASKS["blobs8x8"].build_network(seed=4))


def test_shipped_model_follows_the_documented_format():
    with np.load("models/blobs8x8.npz", allow_pickle=False) as data:
        meta = json.loads(str(data["meta"]))
        keys = set(data.files)
    assert meta["format"] == "saliency-cli-model" and meta["version"] == 1
    assert meta["task"] == "blobs8x8" and meta["input_shape"] == [2, 8, 8]
    assert [layer["type"] for layer in meta["layers"]] == [
        "conv2d",
        "relu",
        "maxpool2d",
        "flatten",
        "dense",
        "relu",
        "dense",
        "softmax",
    ]
    assert meta["layers"][0] == {
        "type": "conv2d",
        "name": "conv1",
        "in_channels": 2,
        "out_channels": 8,
        "kernel_size": 3,
        "stride": 1,
        "padding": 1,
    }
    assert keys == {"meta", "0.weight", "0.bias", "4.weight", "4.bias", "6.weight", "6.bias"}
    assert meta["training"]["held_out_accuracy"] >= 0.99


def test_a_foreign_model_with_its_own_task_and_names_loads(tmp_path, rng):
    meta = {
        "format": "saliency-cli-model",
        "version": 1,
        "task": "digits",
        "input_shape": [1, 3, 3],
        "classes": ["a", "b", "c"],
        "layers": [
            {
                "type": "conv2d",
                "in_channels": 1,
                "out_channels": 2,
                "kernel_size": 2,
                "stride": 1,
                "padding": 0,
                "name": "features",
            },
            {"type": "leaky_relu", "negative_slope": 0.2},
            {"type": "global_avg_pool"},
            {"type": "dense", "in_features": 2, "out_features": 3},
        ],
    }
    arrays = {
        "meta": np.array(json.dumps(meta)),
        "0.weight": rng.normal(size=(2, 1, 2, 2)).astype(np.float32),
        "0.bias": np.zeros(2, dtype=np.float32),
        "3.weight": rng.normal(size=(3, 2)),
        "3.bias": np.ones(3),
    }
    write_npz(tmp_path / "foreign.npz", arrays)
    net = load_model(tmp_path / "foreign.npz")
    assert net.names[0] == "features" and net.task == "digits" and net.logit_index == 3
    assert net.layers[0].params["weight"].dtype == np.float64
    x = rng.normal(size=(1, 1, 3, 3))
    w0 = arrays["0.weight"].astype(float)
    conv = np.array(
        [[[np.sum(x[0, :, i : i + 2, j : j + 2] * w0[o]) for j in range(2)] for i in range(2)] for o in range(2)]
    )
    pooled = np.where(conv > 0, conv, 0.2 * conv).mean(axis=(1, 2))
    logits = arrays["3.weight"] @ pooled + arrays["3.bias"]
    np.testing.assert_allclose(net.forward(x)[0], logits, rtol=1e-6)  # float32 weights, float64 maths


def corrupt(kind: str, good: dict, meta: dict):
    arrays, meta = dict(good), json.loads(json.dumps(meta))
    match kind:
        case "wrong format":
            meta["format"] = "keras"
        case "wrong version":
            meta["version"] = 3
        case "unknown layer type":
            meta["layers"][1]["type"] = "gelu"
        case "missing setting":
            del meta["layers"][0]["padding"]
        case "extra setting":
            meta["layers"][0]["dilation"] = 2
        case "bool as int":
            meta["layers"][0]["stride"] = True
        case "layers do not chain":
            meta["input_shape"] = [3, 8, 8]  # conv1 takes 2 channels; the weights themselves are consistent
        case "missing key":
            del arrays["4.bias"]
        case "extra key":
            arrays["9.weight"] = np.zeros(3)
        case "wrong shape":
            arrays["6.weight"] = np.zeros((3, 16))
        case "wrong dtype":
            arrays["6.bias"] = np.array([1, 2])
        case "nan weight":
            arrays["4.weight"] = arrays["4.weight"].copy()
            arrays["4.weight"][0, 0] = np.nan
        case "inf bias":
            arrays["0.bias"] = np.full(8, np.inf)
        case "meta not json":
            arrays["meta"] = np.array("{not json")
            return arrays
        case "no meta":
            del arrays["meta"]
            return arrays
        case "bad input shape":
            meta["input_shape"] = [2, 8]
        case "huge setting":
            meta["layers"][6]["out_features"] = 10**15
        case "name like an index":
            meta["layers"][1]["name"] = "3"
        case "meta as raw bytes":
            arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
            return arrays
        case "version true":
            meta["version"] = True
        case "version float":
            meta["version"] = 1.0
        case "unknown meta key":
            meta["comment"] = "hi"
        case "nan token":
            meta["training"] = {"loss": float("nan")}
        case "type list":
            meta["layers"][1]["type"] = ["relu"]
        case "type dict":
            meta["layers"][1]["type"] = {"relu": 1}
        case "duplicate json key":
            arrays["meta"] = np.array(json.dumps(meta)[:-1] + ', "task": "other"}')
            return arrays
        case "too many layers":
            meta["layers"][5:5] = [{"type": "relu"}] * 300
        case "longdouble weight":
            arrays["6.bias"] = np.full(2, np.longdouble("1e400"), dtype=np.longdouble)
        case "deeply nested meta":
            arrays["meta"] = np.array("[" * 100_000 + "]" * 100_000)
            return arrays

    arrays["meta"] = np.array(json.dumps(meta))
    return arrays


CASES = {
    "wrong format": "not a saliency-cli model",
    "wrong version": "unsupported model format version 3 (the integer 1 or 2 is expected)",
    "unknown layer type": "unknown layer type 'gelu'",
    "missing setting": "missing padding",
    "extra setting": "unknown setting dilation",
    "bool as int": "'stride' must be an integer",
    "layers do not chain": "layers do not chain",
    "missing key": "missing weights: 4.bias",
    "extra key": "unexpected keys: 9.weight",
    "wrong shape": "'6.weight' has shape (3, 16), expected (2, 16)",
    "wrong dtype": "'6.bias' has dtype '<i8', expected float16, float32 or float64",
    "nan weight": "'4.weight' contains NaN or Inf",
    "inf bias": "'0.bias' contains NaN or Inf",
    "meta not json": "'meta' is not valid JSON",
    "no meta": "no 'meta' key",
    "bad input shape": "'input_shape' must be [C, H, W]",
    "huge setting": "'out_features' out of range: 1000000000000000",
    "name like an index": "'name' must be printable text that is not a number",
    "meta as raw bytes": "'meta' has dtype '|u1', expected a JSON string",
    "deeply nested meta": "nested too deeply",
    "version true": "unsupported model format version true (the integer 1 or 2 is expected)",
    "version float": "unsupported model format version 1.0",
    "unknown meta key": "unknown meta key 'comment'",
    "nan token": "NaN is not a JSON number",
    "type list": "unknown layer type ['relu']",
    "type dict": "unknown layer type {'relu': 1}",
    "duplicate json key": "key 'task' given twice",
    "too many layers": "308 layers; a model may have at most 256",
    "longdouble weight": "'6.bias' has dtype '<f16', expected float16, float32 or float64",
}


@pytest.mark.parametrize("kind", sorted(CASES))
def test_malformed_model_files_are_rejected_with_a_reason(kind, net, tmp_path):
    good = arrays_of(net)
    meta = json.loads(str(good["meta"]))
    path = tmp_path / "bad.npz"
    write_npz(path, corrupt(kind, good, meta))
    with pytest.raises(ModelFileError) as info:
        load_model(path)
    assert CASES[kind] in str(info.value)
    assert str(path) in str(info.value)


def test_pickled_object_arrays_are_never_unpickled(net, tmp_path):
    arrays = arrays_of(net)
    arrays["0.bias"] = np.array([object()] * 8, dtype=object)
    path = tmp_path / "pickle.npz"
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)  # savez pickles object arrays
    with pytest.raises(ModelFileError, match=r"'0.bias' has dtype '\|O'"):
        load_model(path)


@pytest.mark.parametrize(
    ("content", "reason"),
    [(b"", "empty file"), (b"hello, world", "not an .npz model file"), (None, "not an .npz model file")],
    ids=["empty", "text", "truncated"],
)
def test_empty_truncated_and_non_npz_files_are_rejected(content, reason, net, tmp_path):
    path = tmp_path / "m.npz"
    content = model_bytes(net)[:300] if content is None else content
    path.write_bytes(content)
    with pytest.raises(ModelFileError, match=reason):
        load_model(path)


def test_truncated_inside_a_member_is_rejected(net, tmp_path):
    data = model_bytes(net)
    # Keep the central directory but damage a member's data: zip sees a CRC or size problem.
    damaged = bytearray(data)
    start = data.index(b"4.weight.npy") + 200
    damaged[start : start + 64] = b"\x00" * 64
    path = tmp_path / "m.npz"
    path.write_bytes(bytes(damaged))
    assert zipfile.is_zipfile(path)
    with pytest.raises(ModelFileError):
        load_model(path)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(ModelFileError, match="no such file"):
        load_model(tmp_path / "nope.npz")
    with pytest.raises(ModelFileError, match="is a directory"):
        load_model(tmp_path)


def test_an_interrupted_write_leaves_the_old_model_in_place(net, tmp_path, monkeypatch):
    import os

    from saliency_cli.nn import modelfile

    path = tmp_path / "m.npz"
    save_model(net, path)
    old = path.read_bytes()

    def interrupted(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        modelfile.save_model(TASKS["blobs8x8"].build_network(seed=9), path)
    assert path.read_bytes() == old
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]


def test_a_forged_member_header_is_refused_before_allocating(net, tmp_path):
    import struct

    header = "{'descr': '<f8', 'fortran_order': False, 'shape': (100000, 100000, 100000), }"
    header += " " * (63 - (len(header) + 10) % 64) + "\n"
    forged = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + b"\x00" * 64
    path = tmp_path / "forged.npz"
    with zipfile.ZipFile(path, "w") as zf:
        for key, value in arrays_of(net).items():
            zf.writestr(f"{key}.npy", forged if key == "0.weight" else _npy_bytes(value))
    with pytest.raises(
        ModelFileError, match=r"'0.weight' has shape \(100000, 100000, 100000\), expected \(8, 2, 3, 3\)"
    ):
        load_model(path)


def _npy_bytes(array) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return buf.getvalue()


def test_a_model_whose_activations_would_be_huge_is_refused(tmp_path):
    # Chains and has tiny weights, but its padding makes a 6008 x 6008 map: 36 million values per sample.
    meta = {
        "format": "saliency-cli-model",
        "version": 1,
        "task": None,
        "input_shape": [1, 8, 8],
        "layers": [
            {"type": "conv2d", "in_channels": 1, "out_channels": 1, "kernel_size": 1, "stride": 1, "padding": 3000},
            {"type": "global_avg_pool"},
            {"type": "dense", "in_features": 1, "out_features": 2},
        ],
    }
    arrays = {
        "meta": np.array(json.dumps(meta)),
        "0.weight": np.ones((1, 1, 1, 1)),
        "0.bias": np.zeros(1),
        "2.weight": np.ones((2, 1)),
        "2.bias": np.zeros(2),
    }
    write_npz(tmp_path / "m.npz", arrays)
    with pytest.raises(ModelFileError, match=r"layer 0 \(conv2d\) would need 36,096,064 values per sample"):
        load_model(tmp_path / "m.npz")
