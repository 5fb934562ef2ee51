"""`saliency-cli convert` and `--model FILE.onnx` on the command line."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("onnx")

from saliency_cli.nn.modelfile import load_model

from .onnx_fixtures import FIXTURES, reference, tool_input

#: Few path points: these tests are about the command line, the maps' exactness is tested in test_onnx_import.
FEW = ["--methods", "vanilla,smoothgrad,ig", "--samples", "4", "--quadrature", "right", "--steps", "8"]


def test_convert_writes_the_graph_form_and_refuses_to_overwrite(run, tmp_path):
    out = tmp_path / "resnet.npz"
    result = run("convert", FIXTURES / "resnet.onnx", "-o", out, "--format", "json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["command"] == "convert" and doc["form"] == "graph" and doc["nodes"] == 22
    assert doc["model"]["path"] == str(out) and doc["model"]["task"] is None and len(doc["model"]["sha256"]) == 64
    assert doc["source"]["path"] == str(FIXTURES / "resnet.onnx")
    before = out.read_bytes()
    again = run("convert", FIXTURES / "resnet.onnx", "-o", out)
    assert again.exit_code == 2 and "refusing to overwrite" in again.stderr and out.read_bytes() == before
    assert run("convert", FIXTURES / "resnet.onnx", "-o", out, "--force", "-q", "--no-color").exit_code == 0
    assert json.loads(str(np.load(out)["meta"]))["version"] == 2


def test_force_keeps_the_file_it_replaces_as_a_backup(run, tmp_path):
    """As train does, and as the README promises of model files: --force replaces, it does not destroy."""
    out = tmp_path / "m.npz"
    out.write_bytes(b"my own file")
    result = run("convert", FIXTURES / "lenet.onnx", "-o", out, "--force")
    assert result.exit_code == 0, result.stderr
    assert f"kept the previous {out} as {out}.bak" in result.stderr
    assert (tmp_path / "m.npz.bak").read_bytes() == b"my own file" and out.read_bytes().startswith(b"PK")


def test_a_converted_chain_is_a_version_1_model(run, tmp_path):
    out = tmp_path / "lenet.npz"
    result = run("convert", FIXTURES / "lenet.onnx", "-o", out, "--no-color")
    assert result.exit_code == 0 and "sequential network of 12 layers" in result.stdout
    assert "final Softmax" in result.stderr
    assert json.loads(str(np.load(out)["meta"]))["version"] == 1


@pytest.mark.parametrize("name", ["resnet", "keras_nhwc", "mlp"])
def test_saliency_on_an_onnx_model_and_on_its_conversion_give_the_same_maps(name, run, tmp_path):
    x = tool_input(name, reference(name)["x"])
    np.save(tmp_path / "x.npy", x)
    out = tmp_path / "m.npz"
    assert run("convert", FIXTURES / f"{name}.onnx", "-o", out, "-q").exit_code == 0
    docs = []
    for model in (FIXTURES / f"{name}.onnx", out):
        result = run("saliency", "--model", model, "--input", tmp_path / "x.npy", *FEW, "--format", "json")
        assert result.exit_code == 0, result.stderr
        doc = json.loads(result.stdout)
        docs.append([{k: v for k, v in p.items() if k != "model"} for p in doc["probes"]])
    assert docs[0] == docs[1]


def test_models_shows_nodes_and_which_methods_apply(run):
    result = run("models", FIXTURES / "avgconcat.onnx", "--format", "json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert [row["type"] for row in doc["layers"]][:3] == ["Conv", "Relu", "Conv"]
    assert doc["layers"][4]["type"] == "Concat" and len(doc["layers"][4]["inputs"]) == 2
    methods = {m["method"]: m for m in doc["methods"]}
    assert methods["ig"]["applies"] and not methods["ig-exact"]["applies"]
    assert "Tanh" in methods["ig-exact"]["why"]


def test_cost_times_an_imported_graph_on_a_random_input(run):
    result = run(
        "cost",
        "--model",
        FIXTURES / "resnet.onnx",
        "--methods",
        "vanilla,lrp,gradcam",
        "--repeats",
        "1",
        "--format",
        "json",
    )
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    rows = {row["method"]: row for row in doc["methods"]}
    assert all(rows[m]["seconds"] > 0 and not rows[m].get("skipped") for m in ("vanilla", "lrp", "gradcam"))


def test_without_input_an_imported_model_asks_for_one(run):
    result = run("saliency", "--model", FIXTURES / "resnet.onnx")
    assert result.exit_code == 2 and "names no task" in result.stderr and "--input" in result.stderr


def test_float32_and_workers_on_a_graph(run, tmp_path):
    x = tool_input("resnet", reference("resnet")["x"])
    np.save(tmp_path / "x.npy", x)
    args = ["saliency", "--model", FIXTURES / "resnet.onnx", "--input", tmp_path / "x.npy", *FEW, "--format", "json"]
    # NOTE: bit for bit by construction: workers compute whole blocks of probes, the blocks one process computes
    one = json.loads(run(*args).stdout)
    two = json.loads(run(*args, "--workers", "2").stdout)
    assert one == two
    small = json.loads(run(*args, "--dtype", "float32").stdout)
    assert small["probes"][0]["prediction"]["class"] == one["probes"][0]["prediction"]["class"]


def test_load_model_reads_onnx_and_names_the_file_in_errors(tmp_path):
    net = load_model(FIXTURES / "lenet.onnx")
    assert net.path.endswith("lenet.onnx") and len(net.sha256) == 64
    with pytest.raises(ValueError, match=r"nope\.onnx: no such file"):
        load_model(tmp_path / "nope.onnx")


def test_an_imported_model_that_fits_a_task_takes_its_probes(run, tmp_path):
    from onnx import TensorProto, helper, numpy_helper, save

    w = numpy_helper.from_array(np.random.default_rng(0).normal(size=(2, 128)).astype(np.float32), "W")
    nodes = [helper.make_node("Flatten", ["x"], ["f"]), helper.make_node("Gemm", ["f", "W"], ["y"], transB=1)]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [w])  # fmt: skip
    save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), tmp_path / "fit.onnx")
    result = run("saliency", "--model", tmp_path / "fit.onnx", "--methods", "vanilla", "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["model"]["task"] == "blobs8x8" and "probes from task blobs8x8" in result.stderr
    chosen = run("saliency", "--model", tmp_path / "fit.onnx", "--task", "blobs8x8-gap", "--format", "json")
    assert json.loads(chosen.stdout)["model"]["task"] == "blobs8x8-gap"
    wrong = run("saliency", "--model", tmp_path / "fit.onnx", "--task", "blobs6x6")
    assert wrong.exit_code == 2 and "do not fit that task's probes" in wrong.stderr


@pytest.mark.parametrize("name", ["mlp", "keras_nhwc"])
def test_input_files_may_be_laid_out_as_the_graphs_own_input(name, run, tmp_path):
    from .onnx_fixtures import graph_input

    x = tool_input(name, reference(name)["x"])
    own = graph_input(name, x)  # (N, D) or NHWC
    np.save(tmp_path / "tool.npy", x)
    np.save(tmp_path / "own.npy", own)
    np.save(tmp_path / "one.npy", own[1])
    np.save(tmp_path / "tool_one.npy", x[1])
    docs = {}
    for key in ("tool", "own", "one", "tool_one"):
        result = run("saliency", "--model", FIXTURES / f"{name}.onnx", "--input", tmp_path / f"{key}.npy",
                     "--methods", "vanilla", "--format", "json")  # fmt: skip
        assert result.exit_code == 0, result.stderr
        doc = json.loads(result.stdout)
        docs[key] = [p["methods"] for p in doc["probes"]] if "probes" in doc else [doc["methods"]]
    assert docs["own"] == docs["tool"] and docs["one"] == docs["tool_one"]


@pytest.mark.parametrize("command", ["saliency", "lrp", "models", "convert"])
def test_output_is_refused_where_the_model_is_not_an_onnx_file(command, run, tmp_path):
    """--output picks an output of an .onnx graph; a model file has one set of logits: never dropped silently."""
    model = tmp_path / "lenet.npz"
    assert run("convert", FIXTURES / "lenet.onnx", "-o", model).exit_code == 0
    args = [model, "-o", tmp_path / "again.npz"] if command == "convert" else ["--model", model]
    result = run(command, *args, "--output", "output")
    assert result.exit_code == 2 and result.stderr.count("\n") == 1, result.stderr
    assert "--output picks an output of an .onnx model" in result.stderr
    assert not (tmp_path / "again.npz").exists()
    if command != "convert":  # a task's default model, too
        result = run(command, "--task", "blobs8x8", "--output", "output")
        assert result.exit_code == 2 and "--output picks an output of an .onnx model" in result.stderr
