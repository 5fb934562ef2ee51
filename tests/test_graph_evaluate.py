"""evaluate and explore on imported graphs; MPRT's re-initialisation of a graph's learned parameters."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("onnx")

from saliency_cli.evaluation.methods import MethodOptions, switching_units
from saliency_cli.evaluation.sanity import mprt_models, parameter_layers, randomised
from saliency_cli.nn.modelfile import load_model

from .onnx_fixtures import FIXTURES, NAMES, load_as_graph, reference, tool_input
from .svgtext import svg_lines


def test_mprt_redraws_learned_parameters_in_reverse_topological_order_keeping_running_statistics():
    model = load_model(FIXTURES / "resnet.onnx")
    order = [model.layers[i].name for i in parameter_layers(model)]
    with_params = [n.name for n in model.layers if n.type in ("Conv", "Gemm", "BatchNormalization")]
    assert order == with_params[::-1]
    # the residual block's shortcut (written last in the file) is re-drawn before its main branch
    assert order.index("/l2/down/down.0/Conv") < order.index("/l2/c2/Conv")
    x = tool_input("resnet", reference("resnet")["x"])
    want = model.forward(x).copy()
    for i in parameter_layers(model):
        fresh = randomised(model, [i], seed=0)
        node, old = fresh.layers[i], model.layers[i]
        if node.type == "BatchNormalization":
            assert np.array_equal(node.params["mean"], old.params["mean"])
            assert np.array_equal(node.params["var"], old.params["var"])
            assert not np.array_equal(node.params["scale"], old.params["scale"])
        else:
            assert not np.array_equal(node.params["weight"], old.params["weight"])
        got = fresh.forward(x)
        assert np.isfinite(got).all() and not np.allclose(got, want)
    assert np.array_equal(model.forward(x), want)  # the original is untouched
    steps = mprt_models(model)
    assert [label for label, _ in steps] == order


def test_evaluate_runs_on_an_imported_graph(run, tmp_path):
    np.save(tmp_path / "x.npy", tool_input("resnet", reference("resnet")["x"]))
    args = ["--methods", "vanilla,lrp:epsilon,gradcam", "--draws", "1", "--steps", "4", "--format", "json"]
    result = run("evaluate", "--model", FIXTURES / "resnet.onnx", "--input", tmp_path / "x.npy", *args)
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["command"] == "evaluate"
    text = json.dumps(doc)
    assert "/stem/stem.0/Conv" in text and "lrp:epsilon" in text


@pytest.mark.parametrize("name", NAMES)
def test_explore_draws_every_fixture(name, run, tmp_path):
    np.save(tmp_path / "x.npy", tool_input(name, reference(name)["x"]))
    out = tmp_path / "s.svg"
    model = FIXTURES / f"{name}.onnx"
    args = ["--index", "1", "--quadrature", "right", "--steps", "8", "--screenshot", out, "--size", "240x200"]
    result = run("explore", "--model", model, "--input", tmp_path / "x.npy", *args)
    assert result.exit_code == 0, result.stderr
    text = "\n".join(svg_lines(out.read_text()))
    assert "sample 1 of 0..1" in text and "x.npy[1]" in text
    assert "vanilla |grad|" in text and "LRP epsilon" in text and "IG right 8" in text


def test_explore_tabs_on_an_imported_graph():
    """Feature maps, the LRP ledger node by node, the cost and evaluate's tab on the residual network."""
    pytest.importorskip("textual")
    from saliency_cli.explore.app import ExploreApp
    from saliency_cli.explore.samples import user_set
    from saliency_cli.explore.state import Selection

    from .test_explore_app import drive, screen, settle

    model = load_model(FIXTURES / "avgconcat.onnx")
    app = ExploreApp(model, user_set(model, tool_input("avgconcat", reference("avgconcat")["x"]), "x.npy"),
                     Selection(quadrature="right", steps=8), seed=0)  # fmt: skip

    async def script(pilot):
        await pilot.press("f")
        await settle(app, pilot)
        text = screen(app)
        assert "/a/Conv (#0, Conv): 3 channels of 16x16" in text
        await pilot.press("g")
        await pilot.pause()
        text = screen(app)
        ledger = app.shown["lrp"].extra["report"].runs["epsilon"].ledger
        assert len(ledger.entries) == len(model.layers) and ledger.max_unexplained <= 1e-12
        for entry in ledger.entries[:8]:  # the rows the screen holds
            assert f" {entry.name} " in text
        await pilot.press("c")
        await settle(app, pilot)
        assert "measured on sample 0" in screen(app)
        await pilot.press("e")
        await settle(app, pilot)
        text = screen(app)
        assert "evaluate: 2 probes" in text and "lrp:epsilon-plus" in text

    drive(app, script)


def _masks(shape) -> np.ndarray:
    """Probe 0's mask the top-left quarter, every other probe's the centre: (N, C, H, W) booleans."""
    masks = np.zeros(shape, dtype=bool)
    h, w = shape[2:]
    masks[0, :, : h // 2, : w // 2] = True
    masks[1:, :, h // 4 : 3 * h // 4, w // 4 : 3 * w // 4] = True
    return masks


def _auc(pixels: np.ndarray, mask: np.ndarray) -> float:
    """ROC AUC of `pixels` as a detector of `mask` by counting pairs (ties 1/2), written out independently."""
    inside, outside = pixels[mask], pixels[~mask]
    wins = (inside[:, None] > outside[None, :]).sum() + 0.5 * (inside[:, None] == outside[None, :]).sum()
    return float(wins / (len(inside) * len(outside)))


LOCALISATION = ("pointing-game", "mass-accuracy", "rank-accuracy", "auc")


@pytest.mark.parametrize("name", ["lenet", "resnet"])
def test_evaluate_with_masks_on_an_imported_model_recomputes_from_the_single_method_commands(name, run, tmp_path):
    model = tmp_path / f"{name}.npz"
    assert run("convert", FIXTURES / f"{name}.onnx", "-o", model, "-q").exit_code == 0
    x = tool_input(name, reference(name)["x"])
    masks = _masks(x.shape)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "m.npy", masks)
    methods = ("vanilla", "lrp:epsilon", "lrp:epsilon-plus", "gradcam")
    result = run("evaluate", "--model", model, "--input", tmp_path / "x.npy", "--masks", tmp_path / "m.npy",
                 "--methods", ",".join(methods), "--metrics", ",".join((*LOCALISATION, "deletion", "mprt")),
                 "--steps", "4", "--draws", "1", "--resamples", "50", "--per-probe", "--format", "json")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["probes"] == len(x) and doc["wrong"] == 0 and doc["settings"]["mask_level"] == "pixel"
    for method in (*methods, "random", "input"):
        for metric in LOCALISATION:
            cell = doc["methods"][method][metric]
            assert cell["n"] == len(x) and 0.0 <= cell["mean"] <= 1.0, (method, metric, cell)
            assert cell["ci"][0] <= cell["mean"] <= cell["ci"][1]
    rec = doc["recommendation"]
    assert rec["reason"] and (rec["method"] is None or rec["method"] in methods)
    # the maps of `saliency` and `lrp` on the same model: every per-probe value recomputes
    sal = run("saliency", "--model", model, "--input", tmp_path / "x.npy", "--methods", "vanilla", "--format", "json")
    assert sal.exit_code == 0, sal.stderr
    probes = json.loads(sal.stdout)["probes"]
    for i, probe in enumerate(probes):
        assert probe["target"] == doc["probes_detail"][i]["target"]
        for method, r in (("vanilla", np.array(probe["methods"]["vanilla"]["attribution"])), ("lrp:epsilon", None)):
            if r is None:
                np.save(tmp_path / "one.npy", x[i])
                one = run("lrp", "--model", model, "--input", tmp_path / "one.npy", "--format", "json")
                assert one.exit_code == 0, one.stderr
                r = np.array(json.loads(one.stdout)["relevance"])
            pixels, mask = r.sum(axis=0), masks[i].any(axis=0)
            pos = np.maximum(pixels, 0)
            got = {metric: doc["per_probe"][method][metric][i] for metric in LOCALISATION}
            assert got["mass-accuracy"] == pytest.approx(pos[mask].sum() / pos.sum(), rel=1e-12)
            assert got["pointing-game"] == float(mask.ravel()[np.argmax(pixels)])
            assert got["auc"] == pytest.approx(_auc(pixels, mask), abs=1e-12)
    # masks of another shape: one line, exit 2
    np.save(tmp_path / "small.npy", masks[:, :, :-1])
    bad = run("evaluate", "--model", model, "--input", tmp_path / "x.npy", "--masks", tmp_path / "small.npy")
    assert bad.exit_code == 2 and "does not match" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    assert "Traceback" not in bad.stderr and bad.stdout == ""


@pytest.mark.parametrize("name", NAMES)
def test_evaluate_runs_every_method_that_applies_on_every_fixture(name, run, tmp_path):
    np.save(tmp_path / "x.npy", tool_input(name, reference(name)["x"]))
    fast = ["--quadrature", "right", "--ig-steps", "4", "--samples", "4", "--steps", "4", "--draws", "1"]
    result = run("evaluate", "--model", FIXTURES / f"{name}.onnx", "--input", tmp_path / "x.npy", *fast,
                 "--resamples", "20", "--format", "json")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    methods = set(doc["methods"])
    assert {"vanilla", "smoothgrad", "ig", "lrp:epsilon", "lrp:gamma", "random", "input"} <= methods
    convolutional = name != "mlp"
    assert ("lrp:epsilon-gamma-box" in methods) == convolutional and ("gradcam" in methods) == convolutional
    assert ("cam" in methods) == (name == "resnet")  # the only pooling head: GlobalAveragePool -> Flatten -> Gemm
    assert not any("pointing-game" in cells for cells in doc["methods"].values())  # no masks, no localisation
    model = load_model(FIXTURES / f"{name}.onnx")
    redrawn = [model.layers[i].name for i in parameter_layers(model)]  # output side first
    assert doc["methods"]["vanilla"]["mprt"]["n"] == 2
    for method, cells in doc["methods"].items():
        assert cells["deletion"]["n"] == 2 and np.isfinite(cells["deletion"]["mean"]), (method, cells)
        if "mprt" in cells:
            assert cells["mprt"]["layers"] == redrawn and len(cells["mprt"]["spearman"]) == len(redrawn)


@pytest.mark.parametrize("name", ["keras_nhwc", "mlp"])
def test_evaluate_and_explore_read_inputs_and_masks_in_the_models_own_layout(name, run, tmp_path):
    """As `saliency` does: an NHWC graph's (N, H, W, C) rows, an MLP's (N, D) vectors, masks alike."""
    x = tool_input(name, reference(name)["x"])
    masks = np.zeros(x.shape, dtype=bool)
    masks.reshape(len(x), -1)[:, : masks[0].size // 3] = True  # the first third of each probe's values
    own = (lambda a: np.moveaxis(a, 1, -1)) if name == "keras_nhwc" else (lambda a: a.reshape(len(a), -1))
    docs = []
    for layout, convert in (("tool", lambda a: a), ("own", own)):
        folder = tmp_path / layout
        folder.mkdir()
        np.save(folder / "x.npy", convert(x))
        np.save(folder / "m.npy", convert(masks))
        result = run("evaluate", "--model", FIXTURES / f"{name}.onnx", "--input", folder / "x.npy",
                     "--masks", folder / "m.npy", "--methods", "vanilla,lrp:epsilon", "--steps", "4", "--draws", "1",
                     "--resamples", "20", "--per-probe", "--format", "json")  # fmt: skip
        assert result.exit_code == 0, result.stderr
        docs.append(json.loads(result.stdout))
        shot = folder / "s.svg"
        explored = run("explore", "--model", FIXTURES / f"{name}.onnx", "--input", folder / "x.npy",
                       "--quadrature", "right", "--steps", "4", "--screenshot", shot, "--size", "240x200")  # fmt: skip
        assert explored.exit_code == 0, explored.stderr
    tool, mine = docs
    assert mine["methods"] == tool["methods"] and mine["per_probe"] == tool["per_probe"]


def test_auto_quadrature_counts_a_graphs_relu_and_maxpool_units_as_a_chains():
    chain, graph = load_model(FIXTURES / "lenet.onnx"), load_as_graph("lenet")
    relu_and_pool = 4 * 28 * 28 + 4 * 14 * 14 + 8 * 10 * 10 + 8 * 5 * 5 + 24 + 16
    assert switching_units(chain) == switching_units(graph) == relu_and_pool
    # more than EXACT_UNITS: IG takes the quadrature rule on both, where exact IG's paths would be long
    assert MethodOptions().ig_quadrature(chain) == MethodOptions().ig_quadrature(graph) == "gauss-legendre"
    assert MethodOptions().ig_quadrature(load_model(FIXTURES / "resnet.onnx")) == "gauss-legendre"
    assert MethodOptions().ig_quadrature(load_model(FIXTURES / "normalised.onnx")) == "exact"  # 232 units
