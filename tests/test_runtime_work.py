"""Work is bounded before it starts: exact IG's pieces (--max-pieces, with the fallback), options validated
before any work, and passes x activation size bounded with a message naming the option."""

from __future__ import annotations

import json
import re
import time

import numpy as np
import pytest

from saliency_cli.cli.work import MAX_CHUNK_VALUES, MAX_WORK, values_per_row
from saliency_cli.methods import exact_ig
from saliency_cli.nn.modelfile import model_bytes

from .test_guard import one_line_error, random_net


def tent_network(layers: int):
    """x -> the tent map applied `layers` times to x_0 (dense 2x2 + relu each): 2^layers linear pieces on [0, 1]."""
    cfgs = [{"type": "flatten"}]
    for _ in range(layers):
        cfgs += [{"type": "dense", "in_features": 2, "out_features": 2}, {"type": "relu"}]
    cfgs.append({"type": "dense", "in_features": 2, "out_features": 2})
    net = random_net(cfgs, (2, 1, 1), "tent")
    for i in range(layers):
        dense = net.layers[1 + 2 * i]
        # h1 = relu(2 t), h2 = relu(2 t - 1) and t' = h1 - 2 h2 (folded into the next layer's weights)
        dense.params["weight"] = np.array([[2.0, 0.0], [2.0, 0.0]]) if i == 0 else np.array([[2.0, -4.0], [2.0, -4.0]])
        dense.params["bias"] = np.array([0.0, -1.0])
    net.layers[-1].params["weight"] = np.array([[1.0, -2.0], [0.0, 0.0]])
    net.layers[-1].params["bias"] = np.zeros(2)
    return net


@pytest.fixture
def tent(tmp_path):
    model, probe = tmp_path / "tent.npz", tmp_path / "x.npy"
    model.write_bytes(model_bytes(tent_network(10)))
    np.save(probe, np.array([0.7, 0.0]).reshape(2, 1, 1))
    return ["--model", model, "--input", probe, "--methods", "ig", "--target", "0"]


def test_the_tent_network_has_two_to_the_layers_pieces(tent, run):
    result = run("saliency", *tent, "--max-pieces", "2000", "--format", "json")
    assert result.exit_code == 0, result.stderr
    ig = json.loads(result.stdout)["methods"]["integrated_gradients"]
    # t -> 0.7 t on [0, 1]: the 10-fold tent map of 0.7 t has a kink at every multiple of 2^-10 below 0.7
    assert ig["pieces"] == int(np.ceil(0.7 * 2**10))
    # Round-off: each breakpoint sits within ~1 ulp (2^-52 at most, on [0, 1]) of its kink, and there the
    # gradient jumps by 2 * 2^10 (slopes +-2^10), so the gap is at most pieces * 2^-52 * 2^11 (3.3e-10).
    assert ig["completeness"]["gap_abs"] <= ig["pieces"] * 2.0**-52 * 2**11


def test_past_max_pieces_the_default_falls_back_with_a_note(tent, run):
    start = time.perf_counter()
    result = run("saliency", *tent, "--max-pieces", "100", "--format", "json")
    assert time.perf_counter() - start < 20
    assert result.exit_code == 0, result.stderr
    assert "more than 100 linear pieces" in result.stderr and "using --quadrature right with 50 steps" in result.stderr
    ig = json.loads(result.stdout)["methods"]["integrated_gradients"]
    assert ig["quadrature"] == "right" and ig["steps"] == 50


def test_past_max_pieces_an_explicit_exact_is_refused(tent, run):
    message = one_line_error(run("saliency", *tent, "--max-pieces", "100", "--quadrature", "exact"))
    assert "more than 100 linear pieces" in message and "--max-pieces" in message
    assert "linear pieces" in one_line_error(run("saliency", *tent, "--max-pieces", "100", "--convergence"))


def test_the_walk_stops_at_the_cap(shipped):
    net = tent_network(16)
    x, base = np.array([1.0, 0.0]).reshape(2, 1, 1), np.zeros((2, 1, 1))
    start = time.perf_counter()
    with pytest.raises(exact_ig.TooManyPieces):
        exact_ig.breakpoints(net, x, base, len(net.layers) - 1, max_pieces=500)
    assert time.perf_counter() - start < 5
    assert exact_ig.MAX_PIECES == 10_000


def test_max_pieces_without_exact_ig_is_refused(run):
    assert "--max-pieces" in one_line_error(run("saliency", "--quadrature", "right", "--max-pieces", "5"))
    assert "--max-pieces" in one_line_error(run("saliency", "--methods", "vanilla", "--max-pieces", "5"))


def test_options_are_validated_before_any_work(run):
    start = time.perf_counter()
    message = one_line_error(
        run("saliency", "--quadrature", "gauss-legendre", "--steps", "100000", "--samples", "100000")
    )
    assert "gauss-legendre takes at most 1000 steps" in message
    assert time.perf_counter() - start < 5


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["saliency", "--smooth", "100000"], "lower --smooth"),
        (["saliency", "--task", "blobs8x8-gap", "--methods", "smoothgrad", "--samples", "100000"], "lower --samples"),
        (["saliency", "--quadrature", "right", "--steps", "100000", "--smooth", "1000"], "lower --"),
        (["cam", "--smooth", "100000"], "lower --smooth"),
        (["cam", "--task", "blobs8x8", "--smooth", "100000"], "use --smooth"),
        (["cost", "--size", "128", "--steps", "4096", "--samples", "4096"], "lower --samples"),
        (["cost", "--size", "128", "--steps", "4096", "--methods", "ig"], "lower --steps"),
        (["saliency", "--batch-size", "100000000"], "use --batch-size"),
    ],
)
def test_work_and_memory_are_bounded_before_starting(args, option, run):
    start = time.perf_counter()
    message = one_line_error(run(*args))
    assert option in message, message
    assert time.perf_counter() - start < 10


def test_a_large_exact_ig_batch_is_refused_with_the_pieces_it_would_take(tmp_path, run):
    """The refusal names how many probes fit and that --quadrature right fits, and both do run."""
    batch = tmp_path / "b.npy"
    np.save(batch, np.random.default_rng(0).uniform(0, 1, (1000, 2, 8, 8)))
    message = one_line_error(run("saliency", "--task", "blobs8x8-gap", "--input", batch, "--methods", "ig"))
    fit = re.search(r"lower the number of probes to (\d+) or less", message)
    assert fit and "linear pieces per path" in message, message
    assert "--quadrature right --steps 50 needs 51,000 passes and fits" in message
    np.save(batch, np.load(batch)[: int(fit[1])])
    assert run("saliency", "--task", "blobs8x8-gap", "--input", batch, "--methods", "ig", "-q").exit_code == 0


def test_an_error_on_a_default_names_it_and_the_value_that_fits(run):
    """`cost --size 128` with no --steps: the default 50 is named, and the largest --steps that fits runs."""
    message = one_line_error(run("cost", "--size", "128"))
    fit = re.search(r"--steps is 50 by default: give --steps (\d+) or less \(or a smaller --size\)", message)
    assert fit, message
    steps = int(fit[1])
    args = ("cost", "--size", "128", "--methods", "ig", "--repeats", "1", "--format", "json")
    assert run(*args, "--steps", steps).exit_code == 0
    given = one_line_error(run("cost", "--size", "128", "--steps", steps + 1))
    assert f"lower --steps to {steps} or less" in given and "by default" not in given


def test_steps_alone_selects_the_right_riemann_rule(run):
    """Exact IG has no steps: `--steps K` without --quadrature is right-Riemann with K steps, and says so."""
    result = run("saliency", "--steps", "10", "--no-color")
    assert result.exit_code == 0, result.stderr
    assert "--steps 10 selects --quadrature right" in result.stderr
    assert "IG completeness (right, 10 steps" in result.stdout
    doc = json.loads(run("saliency", "--steps", "10", "--format", "json", "-q").stdout)
    right = json.loads(run("saliency", "--steps", "10", "--quadrature", "right", "--format", "json").stdout)
    assert doc["methods"]["integrated_gradients"] == right["methods"]["integrated_gradients"]


def test_the_bounds_leave_the_documented_work_alone(shipped):
    """The defaults and the documented examples are far inside the bounds."""
    gap = values_per_row(shipped("blobs8x8-gap"))
    assert 3 * 25 * gap < MAX_WORK and 1024 * gap < MAX_CHUNK_VALUES
    assert 3 * 1000 * 2 * 100 * values_per_row(shipped("blobs8x8")) < MAX_WORK
