"""What the ONNX importer refuses (one line naming the op and node), how it picks the output, and hostile files:
truncated, mutated, cyclic, dangling, huge, external data pointing outside."""

from __future__ import annotations

import os

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from saliency_cli.errors import ModelFileError  # noqa: E402
from saliency_cli.nn.modelfile import load_model  # noqa: E402

from .onnx_fixtures import FIXTURES  # noqa: E402


def _graph(nodes, inits=(), shape=("N", 2, 4, 4), outputs=("y",), opset=13):
    inits = [numpy_helper.from_array(np.asarray(v), k) for k, v in dict(inits).items()]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(shape))],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs],
        inits,
    )
    return helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", opset), helper.make_opsetid("ai.onnx.ml", 3)]
    )


def _load(model, tmp_path, name="m.onnx", **kw):
    path = tmp_path / name
    path.write_bytes(model.SerializeToString() if not isinstance(model, bytes) else model)
    return load_model(path, **kw)


def _flat(src="x", n=32):
    return [
        helper.make_node("Flatten", [src], ["f"], name="flat"),
        helper.make_node("Gemm", ["f", "W"], ["y"], transB=1, name="fc"),
    ], {"W": np.ones((3, n), np.float32)}


def test_an_unsupported_op_is_refused_naming_op_and_node(tmp_path):
    nodes, inits = _flat("u", 2 * 8 * 8)
    model = _graph(
        [helper.make_node("Upsample", ["x", "s"], ["u"], name="up1"), *nodes],
        {**inits, "s": np.array([1, 1, 2, 2], np.float32)},
        opset=9,
    )
    with pytest.raises(ModelFileError, match=r"unsupported ONNX op 'Upsample' at node 'up1'$"):
        _load(model, tmp_path)


def test_an_unsupported_attribute_is_refused_naming_it(tmp_path):
    nodes, inits = _flat("c", 4 * 4 * 4)
    conv = helper.make_node("Conv", ["x", "K"], ["c"], pads=[1, 1, 1, 1], group=2, name="conv1")
    model = _graph([conv, *nodes], {**inits, "K": np.ones((4, 2, 3, 3), np.float32)}, shape=("N", 4, 4, 4))
    with pytest.raises(ModelFileError, match=r"unsupported attribute group=2 .*of ONNX op 'Conv' at node 'conv1'"):
        _load(model, tmp_path)


def test_a_dynamic_spatial_shape_is_refused(tmp_path):
    nodes, inits = _flat()
    with pytest.raises(ModelFileError, match=r"dynamic shape: input 'x' axis 2 is 'height'"):
        _load(_graph(nodes, inits, shape=("N", 2, "height", 4)), tmp_path)


def test_several_outputs_need_output(tmp_path):
    nodes, inits = _flat()
    nodes.append(helper.make_node("Relu", ["y"], ["r"], name="relu"))
    model = _graph(nodes, inits, outputs=("y", "r"))
    with pytest.raises(ModelFileError, match=r"2 outputs \(y, r\): pick one with --output NAME"):
        _load(model, tmp_path)
    assert _load(model, tmp_path, output="r").layers[-1].type == "relu"
    assert _load(model, tmp_path, output="y").layers[-1].name == "fc"


def test_skl2onnx_classifier_graphs_explain_the_logits_before_the_softmax(tmp_path):
    nodes, inits = _flat()
    nodes += [
        helper.make_node("Softmax", ["y"], ["p"], axis=1, name="softmax"),
        helper.make_node("ArgMax", ["p"], ["label"], axis=1, name="argmax"),
        helper.make_node(
            "ZipMap",
            ["p"],
            ["output_probability"],
            domain="ai.onnx.ml",
            classlabels_strings=["cat", "dog", "eel"],
            name="zipmap",
        ),
    ]
    model = _graph(nodes, inits, outputs=("label", "output_probability"))
    net = _load(model, tmp_path)
    assert net.classes == ["cat", "dog", "eel"]
    assert net.layers[-1].name == "fc"
    assert any("final Softmax" in n for n in net.notes)


def test_a_single_unit_sigmoid_head_explains_that_units_logit(tmp_path):
    nodes = [
        helper.make_node("Flatten", ["x"], ["f"], name="flat"),
        helper.make_node("Gemm", ["f", "W"], ["z"], transB=1, name="fc"),
        helper.make_node("Sigmoid", ["z"], ["y"], name="sig"),
    ]
    net = _load(_graph(nodes, {"W": np.ones((1, 32), np.float32)}), tmp_path)
    assert net.num_classes == 1 and net.layers[-1].name == "fc"
    assert any("single-unit Sigmoid head" in n for n in net.notes)


def test_cycles_and_dangling_inputs_are_refused(tmp_path):
    nodes, inits = _flat("b", 32)
    cyc = [
        helper.make_node("Relu", ["x2"], ["a"], name="r1"),
        helper.make_node("Add", ["a", "x"], ["b"], name="add"),
        helper.make_node("Relu", ["b"], ["x2"], name="r2"),
    ]
    with pytest.raises(ModelFileError, match="cycle through node"):
        _load(_graph(cyc + nodes, inits), tmp_path)
    dangling = [helper.make_node("Add", ["x", "ghost"], ["b"], name="add")]
    with pytest.raises(ModelFileError, match=r"node 'add' reads 'ghost', which no node writes"):
        _load(_graph(dangling + nodes, inits), tmp_path)


def test_huge_declared_shapes_are_refused_before_allocation(tmp_path):
    nodes, inits = _flat()
    with pytest.raises(ModelFileError, match=r"has .* values; at most"):
        _load(_graph(nodes, inits, shape=("N", 4096, 4096, 4096)), tmp_path)
    big = numpy_helper.from_array(np.ones((3, 32), np.float32), "W")
    del big.dims[:]
    big.dims.extend([1 << 20, 1 << 20])
    model = _graph(nodes, {})
    model.graph.initializer.append(big)
    with pytest.raises(ModelFileError, match=r"declares .* values"):
        _load(model, tmp_path)


@pytest.mark.parametrize("location", ["../w.bin", "/etc/passwd", "sub/../../w.bin", "link.bin"])
def test_external_data_only_beside_the_model(tmp_path, location):
    (tmp_path / "outside").mkdir()
    (tmp_path / "w.bin").write_bytes(np.ones(96, np.float32).tobytes())
    folder = tmp_path / "models"
    folder.mkdir()
    os.symlink(tmp_path / "w.bin", folder / "link.bin")
    nodes, _ = _flat()
    model = _graph(nodes, {})
    t = onnx.TensorProto(name="W", data_type=TensorProto.FLOAT, dims=[3, 32], data_location=TensorProto.EXTERNAL)
    t.external_data.add(key="location", value=location)
    model.graph.initializer.append(t)
    with pytest.raises(ModelFileError, match="external data location"):
        _load(model, folder)


def test_external_data_beside_the_model_is_read(tmp_path):
    (tmp_path / "w.bin").write_bytes(np.full(96, 0.5, np.float32).tobytes())
    nodes, _ = _flat()
    model = _graph(nodes, {})
    t = onnx.TensorProto(name="W", data_type=TensorProto.FLOAT, dims=[3, 32], data_location=TensorProto.EXTERNAL)
    t.external_data.add(key="location", value="w.bin")
    model.graph.initializer.append(t)
    net = _load(model, tmp_path)
    assert np.allclose(net.predict_logits(np.ones((1, 2, 4, 4))), 16.0)


def _mutations(data: bytes, seed: int, count: int):
    rng = np.random.default_rng(seed)
    for cut in np.linspace(0, len(data) - 1, 12).astype(int):
        yield f"truncated at {cut}", data[:cut]
    for i in range(count):
        mutated = bytearray(data)
        for at in rng.integers(0, len(data), size=rng.integers(1, 8)):
            mutated[at] = int(rng.integers(0, 256))
        yield f"mutation {i}", bytes(mutated)


@pytest.mark.parametrize("fixture", ["resnet", "keras_nhwc"])
def test_mutated_onnx_files_load_or_are_refused_in_one_line(fixture, tmp_path):
    data = (FIXTURES / f"{fixture}.onnx").read_bytes()
    refused = 0
    for what, blob in _mutations(data, seed=len(fixture), count=60):
        path = tmp_path / "m.onnx"
        path.write_bytes(blob)
        try:
            net = load_model(path)
        except ModelFileError as exc:
            assert "\n" not in str(exc), what
            refused += 1
            continue
        with np.errstate(all="ignore"):
            net.predict_logits(np.zeros((1, *net.input_shape)))
    assert refused >= 12  # every truncation at least


def test_the_cli_refuses_hostile_and_unsupported_files_in_one_line(tmp_path, run):
    (tmp_path / "bad.onnx").write_bytes(b"\x08\x07garbage" * 10)
    result = run("saliency", "--model", tmp_path / "bad.onnx")
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "not a valid ONNX file" in result.stderr


def _skl2onnx_like_mlp(classes: int):
    """A graph laid out as skl2onnx lays out an MLPClassifier: Cast, MatMul + Add per layer, Relu, the output
    activation (Sigmoid for two classes, then 1 - p and p concatenated; else Softmax), a ZipMap of the
    probabilities and the label through ArgMax, ArrayFeatureExtractor, Reshape and Cast."""
    rng = np.random.default_rng(5)
    units = 1 if classes == 2 else classes
    inits = {"c0": rng.normal(size=(6, 4)).astype(np.float32), "i0": rng.normal(size=(1, 4)).astype(np.float32),
             "c1": rng.normal(size=(4, units)).astype(np.float32), "i1": rng.normal(size=(1, units)).astype(np.float32),
             "unity": np.array(1.0, np.float32), "classes": np.arange(classes, dtype=np.int32),
             "shape": np.array([-1], np.int64)}  # fmt: skip
    nodes = [
        helper.make_node("Cast", ["x"], ["xc"], to=TensorProto.FLOAT, name="Cast"),
        helper.make_node("MatMul", ["xc", "c0"], ["m0"], name="MatMul"),
        helper.make_node("Add", ["m0", "i0"], ["a0"], name="Add"),
        helper.make_node("Relu", ["a0"], ["h0"], name="Relu"),
        helper.make_node("MatMul", ["h0", "c1"], ["m1"], name="MatMul1"),
        helper.make_node("Add", ["m1", "i1"], ["a1"], name="Add1"),
    ]
    if classes == 2:
        nodes += [helper.make_node("Sigmoid", ["a1"], ["p"], name="Sigmoid"),
                  helper.make_node("Sub", ["unity", "p"], ["q"], name="Sub"),
                  helper.make_node("Concat", ["q", "p"], ["probabilities"], axis=1, name="Concat")]  # fmt: skip
    else:
        nodes += [helper.make_node("Softmax", ["a1"], ["probabilities"], axis=1, name="Softmax")]
    nodes += [
        helper.make_node("ArgMax", ["probabilities"], ["arg"], axis=1, name="ArgMax"),
        helper.make_node("ArrayFeatureExtractor", ["classes", "arg"], ["lab"], domain="ai.onnx.ml", name="AFE"),
        helper.make_node("Reshape", ["lab", "shape"], ["lab1"], name="Reshape"),
        helper.make_node("Cast", ["lab1"], ["output_label"], to=TensorProto.INT64, name="Cast1"),
        helper.make_node(
            "ZipMap",
            ["probabilities"],
            ["output_probability"],
            domain="ai.onnx.ml",
            classlabels_int64s=list(range(classes)),
            name="ZipMap",
        ),
    ]
    return _graph(nodes, inits, shape=("N", 6), outputs=("output_label", "output_probability")), inits


@pytest.mark.parametrize("classes", [2, 3])
def test_skl2onnx_mlp_classifiers_explain_their_logits(classes, tmp_path):
    model, w = _skl2onnx_like_mlp(classes)
    net = _load(model, tmp_path)
    x = np.random.default_rng(6).normal(size=(3, 6))
    h = np.maximum(x @ w["c0"].astype(float) + w["i0"].astype(float), 0)
    logits = h @ w["c1"].astype(float) + w["i1"].astype(float)
    assert net.input_shape == (1, 1, 6) and net.num_classes == (1 if classes == 2 else classes)
    assert np.allclose(net.predict_logits(x.reshape(3, 1, 1, 6)), logits, rtol=1e-13, atol=1e-13)
    assert net.classes == (["1"] if classes == 2 else ["0", "1", "2"])
    if classes == 2:
        assert any("single-unit Sigmoid head (node 'Sigmoid')" in n for n in net.notes)
