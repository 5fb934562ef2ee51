"""Exact Integrated Gradients: completeness at round-off, agreement with fine quadrature, piece counts."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from saliency_cli.errors import UserError
from saliency_cli.methods.exact_ig import breakpoints, exact_integrated_gradients
from saliency_cli.tasks import TASKS

from .netgen import pattern, random_network


def score(net, x, v, stop):
    return float(net.forward(x[None], stop=stop)[0] @ v)


def right_rule_ig(net, x, baseline, v, stop, steps):
    alphas = np.arange(1, steps + 1) / steps
    net.forward(baseline[None] + alphas[:, None, None, None] * (x - baseline)[None], stop=stop)
    grads = net.backward(np.tile(v, (steps, 1)))
    return (x - baseline) * grads.mean(axis=0)


@st.composite
def cases(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    act = draw(st.sampled_from(["relu", "leaky_relu"]))
    head = draw(st.sampled_from(["flatten", "gap"]))
    specs = [(draw(st.integers(1, 3)), 3, 1, 1) for _ in range(draw(st.integers(1, 2)))]
    # NOTE: pooling windows that overlap (stride 1) or tile the map (stride 2, the odd 5th row and column cropped)
    pool, stride = draw(st.booleans()), draw(st.sampled_from([1, 2]))
    net = random_network(rng, 2, 5, 5, specs, 6, act=act, pool=pool, head=head, pool_stride=stride)
    x = rng.normal(size=(2, 5, 5))
    baseline = draw(st.sampled_from(["zero", "random"]))
    b = np.zeros_like(x) if baseline == "zero" else rng.normal(size=x.shape)
    return net, x, b, int(draw(st.integers(0, 2)))


@settings(max_examples=40, deadline=None)
@given(cases())
def test_completeness_holds_at_round_off_on_random_networks(case):
    net, x, b, target = case
    stop, v = net.logit_index, np.eye(3)[target]
    ig, path = exact_integrated_gradients(net, x, b, v, stop)
    delta = score(net, x, v, stop) - score(net, b, v, stop)
    assert abs(ig.sum() - delta) <= 1e-9 * max(abs(delta), 1.0)
    assert path.breakpoints[0] == 0.0 and path.breakpoints[-1] == 1.0
    assert np.all(np.diff(path.breakpoints) > 0)


@pytest.mark.parametrize(
    ("task", "probe"),
    [(t, p) for t in ("blobs8x8", "blobs6x6") for p in ("clean", "noisy")] + [("blobs8x8-gap", "clean")],
)
def test_exact_ig_on_the_shipped_models(task, probe, shipped):
    net = shipped(task)
    x = TASKS[task].probe(probe)[0]
    b, stop = np.zeros_like(x), net.logit_index
    v = np.eye(net.num_classes)[int(net.forward(x[None], stop=stop)[0].argmax())]
    ig, path = exact_integrated_gradients(net, x, b, v, stop)
    delta = score(net, x, v, stop) - score(net, b, v, stop)
    assert abs(ig.sum() - delta) / abs(delta) <= 1e-9
    assert path.pieces > 1
    # The right-rule Riemann sum converges to the exact integral (as ~1/K on a piecewise-linear path).
    fine = right_rule_ig(net, x, b, v, stop, 4096)
    assert np.abs(fine - ig).max() / np.abs(ig).max() < 1e-3
    coarse = right_rule_ig(net, x, b, v, stop, 16)
    assert np.abs(coarse - ig).max() > np.abs(fine - ig).max()


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 2**16), st.booleans(), st.sampled_from([1, 2]))
def test_piece_count_equals_brute_force_pattern_changes(seed, pool, stride):
    rng = np.random.default_rng(seed)
    net = random_network(rng, 1, 5, 5, [(2, 3, 1, 1)], 4, pool=pool, pool_stride=stride)
    x, b = rng.normal(size=(1, 5, 5)), rng.normal(size=(1, 5, 5))
    stop = net.logit_index

    def patterns(ts):
        return pattern(net, b[None] + np.asarray(ts)[:, None, None, None] * (x - b)[None], stop)

    ts = breakpoints(net, x, b, stop)
    grid = np.linspace(0.0, 1.0, 20_001)
    on_grid = patterns(grid)
    changes = int(np.any(on_grid[1:] != on_grid[:-1], axis=1).sum())
    # Every breakpoint is a real change: neighbouring pieces have different patterns.
    mids = patterns(0.5 * (ts[:-1] + ts[1:]))
    assert np.all(np.any(mids[1:] != mids[:-1], axis=1))
    # No change is missed: every grid point strictly inside a piece has that piece's pattern.
    piece = np.searchsorted(ts, grid, side="right") - 1
    inside = (grid > ts[piece]) & (grid < ts[np.minimum(piece + 1, len(ts) - 1)])
    assert np.array_equal(on_grid[inside], mids[piece[inside]])
    # So the brute-force count equals the piece count wherever the grid resolves the breakpoints.
    if np.diff(ts).min() > 2 * (grid[1] - grid[0]):
        assert changes == len(ts) - 2
    else:
        assert changes <= len(ts) - 2


def test_the_gradient_is_constant_on_each_piece(shipped):
    net = shipped("blobs8x8")
    x = TASKS["blobs8x8"].probe("noisy")[0]
    b, stop, v = np.zeros_like(x), net.logit_index, np.array([0.0, 1.0])
    ts = breakpoints(net, x, b, stop)
    widest = int(np.argmax(np.diff(ts)))
    inside = ts[widest] + np.array([0.1, 0.5, 0.9]) * (ts[widest + 1] - ts[widest])
    net.forward(b[None] + inside[:, None, None, None] * x[None], stop=stop)
    grads = net.backward(np.tile(v, (3, 1)))
    np.testing.assert_allclose(grads[0], grads[2], atol=1e-12)


def test_equal_input_and_baseline_gives_zero_and_one_piece(shipped):
    net = shipped("blobs8x8")
    x = TASKS["blobs8x8"].probe("clean")[0]
    ig, path = exact_integrated_gradients(net, x, x.copy(), np.array([1.0, 0.0]), net.logit_index)
    assert path.pieces == 1 and np.all(ig == 0)


def test_softmax_in_the_explained_path_is_refused_by_name(shipped):
    net = shipped("blobs6x6")
    x = TASKS["blobs6x6"].probe("clean")[0]
    with pytest.raises(UserError, match=r"layer softmax1 \(softmax\) is not piecewise linear"):
        exact_integrated_gradients(net, x, np.zeros_like(x), np.array([1.0, 0.0]), len(net.layers) - 1)


# -- through the public API and the CLI ---------------------------------------------------------


def test_api_exact_flag_batches_and_reports_pieces(shipped):
    from saliency_cli.attribution import integrated_gradients

    net = shipped("blobs8x8")
    xs = np.stack([TASKS["blobs8x8"].probe(p)[0] for p in ("clean", "noisy")])
    ig, c = integrated_gradients(net, xs, exact=True, return_completeness=True)
    assert np.all(c.gap_rel <= 1e-9) and np.all(c.pieces > 1)
    # NOTE: batch == one by one up to round-off, not bit for bit: the paths of a batch are walked side by
    # side, and BLAS rounds a dense layer on N rows (gemm) differently from one row (gemv), which moves
    # breakpoints by ~1e-17. quadrature="exact" is the same thing as exact=True.
    for i in range(2):
        np.testing.assert_allclose(ig[i], integrated_gradients(net, xs[i], quadrature="exact"), rtol=1e-12, atol=1e-14)


def test_api_refuses_exact_on_the_probability_score(shipped):
    from saliency_cli.attribution import integrated_gradients

    net = shipped("blobs8x8")
    with pytest.raises(ValueError, match="softmax, which is not piecewise linear"):
        integrated_gradients(net, TASKS["blobs8x8"].probe("clean")[0], exact=True, score="probability")


@pytest.mark.parametrize("task", ["blobs8x8", "blobs6x6"])
def test_cli_default_is_exact_with_round_off_gap(task, run):
    import json

    result = run("saliency", "--model", f"models/{task}.npz", "--methods", "ig", "--format", "json")
    assert result.exit_code == 0, result.stderr
    ig = json.loads(result.stdout)["methods"]["integrated_gradients"]
    assert ig["quadrature"] == "exact" and ig["pieces"] > 1
    assert ig["completeness"]["gap_rel"] <= 1e-9


def test_cli_falls_back_from_the_default_and_refuses_an_explicit_exact(run):
    import json

    fallback = run("saliency", "--score", "probability", "--methods", "ig", "--format", "json")
    assert fallback.exit_code == 0 and "using --quadrature right" in fallback.stderr
    assert json.loads(fallback.stdout)["methods"]["integrated_gradients"]["quadrature"] == "right"
    refused = run("saliency", "--score", "probability", "--quadrature", "exact")
    assert refused.exit_code == 2 and "not piecewise linear" in refused.stderr
    assert refused.stderr.strip().count("\n") == 0 and refused.stdout == ""


def test_cli_convergence_shows_every_quadrature_approaching_exact(run):
    import json

    result = run("saliency", "--methods", "ig", "--convergence", "--format", "json")
    assert result.exit_code == 0, result.stderr
    study = json.loads(result.stdout)["convergence"]
    assert study["steps"] == [8, 16, 32, 64, 128, 256, 512]
    assert set(study["gap_rel"]) == {"right", "left", "middle", "trapezoid", "gauss-legendre"}
    assert study["exact_gap_rel"] <= 1e-9 and study["exact_pieces"] > 1
    for q, errors in study["map_error"].items():
        # ~1/K convergence on a piecewise-linear path: K = 512 is far better than K = 8, never exact
        assert errors[-1] < errors[0] / 4, q
        assert 0 < errors[-1] < 1e-2, q
    text = run("saliency", "--methods", "ig", "--convergence", "--no-color")
    assert "IG convergence" in text.stdout and "linear pieces" in text.stdout


@pytest.mark.parametrize(("task", "paths"), [("blobs8x8", 12), ("blobs6x6", 12), ("blobs8x8-gap", 2)])
def test_paths_walked_side_by_side_have_each_paths_own_breakpoints(task, paths, shipped):
    from saliency_cli.methods.exact_ig import breakpoints_many, exact_integrated_gradients_many

    net = shipped(task)
    x, _, _ = TASKS[task].sample(paths, np.random.default_rng(3), noise=0.4)
    b = np.random.default_rng(4).uniform(0, 0.2, size=x.shape)
    stop = net.logit_index
    many = breakpoints_many(net, x, b, stop)
    v = np.eye(net.num_classes)[np.arange(len(x)) % net.num_classes]
    ig, pieces = exact_integrated_gradients_many(net, x, b, v, stop, batch_size=7)
    for i in range(len(x)):
        alone = breakpoints(net, x[i], b[i], stop)
        assert len(many[i]) == len(alone) == pieces[i] + 1, f"path {i}"
        np.testing.assert_allclose(many[i], alone, rtol=0, atol=1e-12, err_msg=f"path {i}")
        one, _ = exact_integrated_gradients(net, x[i], b[i], v[i], stop)
        np.testing.assert_allclose(ig[i], one, rtol=1e-12, atol=1e-14, err_msg=f"path {i}")
        delta = score(net, x[i], v[i], stop) - score(net, b[i], v[i], stop)
        assert abs(ig[i].sum() - delta) <= 1e-9 * max(abs(delta), 1.0)


@settings(max_examples=25, deadline=None)
@given(cases(), st.sampled_from([2, 5, 64]))
def test_the_segmented_walk_finds_the_sequential_walks_breakpoints(case, rows):
    """rows=1 walks one segment at a time from t=0 (one pass per piece); more rows cut [0, 1] into segments
    walked side by side. The cuts inside linear pieces are dropped, so both give the same kinks."""
    from saliency_cli.methods.exact_ig import breakpoints_many

    net, x, b, _ = case
    stop = net.logit_index
    sequential = breakpoints_many(net, x[None], b[None], stop, rows=1)[0]
    segmented = breakpoints_many(net, x[None], b[None], stop, rows=rows)[0]
    assert len(segmented) == len(sequential)
    np.testing.assert_allclose(segmented, sequential, rtol=0, atol=1e-12)


def test_the_segmented_walk_takes_fewer_passes_on_the_shipped_model(shipped, monkeypatch):
    from saliency_cli.methods import exact_ig

    net = shipped("blobs8x8")
    x = TASKS["blobs8x8"].probe("clean")[0]
    calls = []
    step = exact_ig._step_rows
    monkeypatch.setattr(exact_ig, "_step_rows", lambda *a: calls.append(len(a[1])) or step(*a))
    ts = exact_ig.breakpoints(net, x, np.zeros_like(x), net.logit_index)
    passes, rows = len(calls), sum(calls)
    calls.clear()
    one = exact_ig.breakpoints_many(net, x[None], np.zeros_like(x)[None], net.logit_index, rows=1)[0]
    assert len(calls) == len(one) - 1 == len(ts) - 1  # the sequential walk: one pass per piece
    assert passes < len(ts) / 4 and rows <= 2 * (len(ts) - 2) + exact_ig.START


def _counting_walks(monkeypatch):
    from saliency_cli.methods import exact_ig

    monkeypatch.setattr(exact_ig, "WALKS", exact_ig._Walks())
    calls = []
    walk = exact_ig.breakpoints_many
    monkeypatch.setattr(exact_ig, "breakpoints_many", lambda *a, **k: calls.append(1) or walk(*a, **k))
    return calls


def test_a_walk_is_reused_only_when_nothing_that_decides_it_changed(monkeypatch):
    """Random-logit (another class) and a re-drawn logits' layer (MPRT's first step) walk the same paths: the
    kept breakpoints are reused and the attributions are those of a fresh walk, bit for bit; a re-drawn layer
    before the last kink walks again."""
    import copy

    from saliency_cli.methods import exact_ig
    from saliency_cli.methods.exact_ig import exact_integrated_gradients_many

    calls = _counting_walks(monkeypatch)
    rng = np.random.default_rng(11)
    net = random_network(rng, 2, 5, 5, [(3, 3, 1, 1)], 6)
    x, b = rng.normal(size=(4, 2, 5, 5)), np.zeros((4, 2, 5, 5))
    stop, v = net.logit_index, np.eye(3)[[0, 1, 2, 0]]
    exact_integrated_gradients_many(net, x, b, v, stop)
    exact_integrated_gradients_many(net, x, b, v[::-1], stop)  # another class, the same paths
    assert len(calls) == 1
    head = copy.deepcopy(net)
    last = max(i for i, layer in enumerate(head.layers) if layer.type == "dense")
    head.layers[last].params["weight"] = rng.normal(size=head.layers[last].params["weight"].shape)
    reused, pieces = exact_integrated_gradients_many(head, x, b, v, stop)
    assert len(calls) == 1
    monkeypatch.setattr(exact_ig, "WALKS", exact_ig._Walks())
    fresh, fresh_pieces = exact_integrated_gradients_many(head, x, b, v, stop)
    assert len(calls) == 2
    assert np.array_equal(reused, fresh) and np.array_equal(pieces, fresh_pieces)
    early = copy.deepcopy(net)
    early.layers[0].params["weight"] = early.layers[0].params["weight"] * 1.5
    exact_integrated_gradients_many(early, x, b, v, stop)
    exact_integrated_gradients_many(net, x, b * 0.5 + 1e-3, v, stop)  # other baselines
    assert len(calls) == 4


def test_on_a_graph_every_node_that_feeds_a_kink_decides_the_walk():
    from saliency_cli.methods.exact_ig import _deciders
    from saliency_cli.nn.modelfile import load_model

    from .onnx_fixtures import FIXTURES

    net = load_model(FIXTURES / "resnet.onnx")
    deciders = {node.name for node in _deciders(net, net.logit_index)}
    last_kink = max(i for i, node in enumerate(net.layers) if node.kind == "kink")
    # both branches of each residual block (the downsampling one included) feed a relu; the pool and the
    # logits' Gemm after the last relu do not
    assert deciders == {node.name for node in net.layers[: last_kink + 1]}
