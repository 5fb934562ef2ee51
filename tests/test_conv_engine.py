"""The channel-major convolution engine against the im2col engine and the direct definition."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from saliency_cli.nn import ops
from saliency_cli.nn.layers import Conv2d, Dense, Flatten, GlobalAvgPool, LeakyReLU
from saliency_cli.nn.network import Network
from saliency_cli.nn.tiles import Tiles, tile_parts

from .roundoff import assert_roundoff_close, backward_magnitude, forward_magnitudes, roundoff_close
from .test_layers import conv_reference


@st.composite
def fast_cases(draw):
    k = draw(st.integers(1, 5))
    padding = draw(st.integers(0, k - 1))
    lo = max(1, k - 2 * padding)
    return {
        "n": draw(st.integers(1, 3)),
        "c": draw(st.integers(1, 4)),
        "o": draw(st.integers(1, 4)),
        "h": draw(st.integers(lo, 9)),
        "w": draw(st.integers(lo, 9)),
        "k": k,
        "padding": padding,
        "seed": draw(st.integers(0, 2**16)),
    }


@settings(max_examples=40, deadline=None)
@given(fast_cases())
def test_fast_conv_forward_and_input_gradient_match_im2col_to_round_off(case):
    rng = np.random.default_rng(case["seed"])
    n, c, o, k, p = case["n"], case["c"], case["o"], case["k"], case["padding"]
    x = rng.normal(size=(n, c, case["h"], case["w"]))
    w, b = rng.normal(size=(o, c, k, k)), rng.normal(size=o)
    assert ops.fast_conv(k, 1, p)
    y = ops.conv2d(x, w, b, 1, p)
    y_mag = conv_reference(np.abs(x), np.abs(w), np.abs(b), 1, p)
    assert roundoff_close(y, conv_reference(x, w, b, 1, p), y_mag, c * k * k + 1)
    assert roundoff_close(y, ops.conv2d_im2col(x, w, b, 1, p), y_mag, c * k * k + 1)
    dy = rng.normal(size=y.shape)
    dx = ops.conv2d_input_grad(dy, w, x.shape, 1, p)
    assert dx.shape == x.shape
    dx_mag = ops.conv2d_input_grad_col2im(np.abs(dy), np.abs(w), x.shape, 1, p)
    assert roundoff_close(dx, ops.conv2d_input_grad_col2im(dy, w, x.shape, 1, p), dx_mag, o * k * k)
    # the input gradient is the adjoint of the linear part: <conv(x), dy> == <x, grad(dy)>
    lhs, rhs = float(np.sum(ops.conv2d(x, w, None, 1, p) * dy)), float(np.sum(x * dx))
    assert abs(lhs - rhs) <= 1e-12 * max(1.0, abs(lhs))


def test_reused_scratch_never_leaks_between_calls_or_geometries(rng):
    w = rng.normal(size=(3, 2, 3, 3))
    work: dict = {}
    # different geometries never share a padded buffer (their zero borders are in different places)
    for shape in [(2, 2, 4, 6), (2, 2, 4, 6), (1, 2, 6, 8), (2, 2, 4, 6), (3, 2, 5, 5), (1, 2, 6, 8)]:
        x = rng.normal(size=shape)
        y_mag = conv_reference(np.abs(x), np.abs(w), 0.0, 1, 1)
        assert roundoff_close(ops.conv2d(x, w, None, 1, 1, work=work), conv_reference(x, w, 0.0, 1, 1), y_mag, 18)
        dy = rng.normal(size=(shape[0], 3, *shape[2:]))
        expected = ops.conv2d_input_grad_col2im(dy, w, shape, 1, 1)
        dx_mag = ops.conv2d_input_grad_col2im(np.abs(dy), np.abs(w), shape, 1, 1)
        assert roundoff_close(ops.conv2d_input_grad(dy, w, shape, 1, 1, work=work), expected, dx_mag, 27)
    assert len(work) <= 8


def test_results_are_fresh_arrays_not_scratch(rng):
    layer = Conv2d(1, 2, 3, padding=1)
    layer.params = {"weight": rng.normal(size=(2, 1, 3, 3)), "bias": rng.normal(size=2)}
    first_x = rng.normal(size=(2, 1, 5, 5))
    first = layer.forward(first_x)
    kept = first.copy()
    layer.forward(rng.normal(size=(2, 1, 5, 5)))
    np.testing.assert_array_equal(first, kept)


@pytest.mark.parametrize(("k", "stride", "padding"), [(3, 2, 1), (2, 1, 2), (3, 3, 0)])
def test_other_settings_use_the_im2col_engine_exactly(k, stride, padding, rng):
    """By construction: these settings call the im2col functions themselves."""
    assert not ops.fast_conv(k, stride, padding)
    x, w = rng.normal(size=(2, 2, 7, 7)), rng.normal(size=(3, 2, k, k))
    y = ops.conv2d(x, w, None, stride, padding)
    np.testing.assert_array_equal(y, ops.conv2d_im2col(x, w, None, stride, padding))
    dy = rng.normal(size=y.shape)
    np.testing.assert_array_equal(
        ops.conv2d_input_grad(dy, w, x.shape, stride, padding),
        ops.conv2d_input_grad_col2im(dy, w, x.shape, stride, padding),
    )


def test_float32_inputs_give_float32_results_close_to_float64(rng):
    """To float32's round-off: 27 products and the bias, plus the rounding of both factors to float32."""
    x, w, b = rng.normal(size=(2, 3, 12, 12)), rng.normal(size=(4, 3, 3, 3)), rng.normal(size=4)
    y32 = ops.conv2d(x.astype(np.float32), w.astype(np.float32), b.astype(np.float32), 1, 1)
    assert y32.dtype == np.float32
    y_mag = ops.conv2d_im2col(np.abs(x), np.abs(w), np.abs(b), 1, 1)
    assert_roundoff_close(y32, ops.conv2d(x, w, b, 1, 1), y_mag, 28 + 2, dtype=np.float32)
    dy = rng.normal(size=y32.shape)
    dx32 = ops.conv2d_input_grad(dy.astype(np.float32), w.astype(np.float32), x.shape, 1, 1)
    assert dx32.dtype == np.float32
    dx_mag = ops.conv2d_input_grad_col2im(np.abs(dy), np.abs(w), x.shape, 1, 1)
    assert_roundoff_close(dx32, ops.conv2d_input_grad(dy, w, x.shape, 1, 1), dx_mag, 36 + 2, dtype=np.float32)


def test_reference_engine_is_im2col_bit_for_bit_and_only_inside_the_block(rng):
    """By construction: inside the block the layer calls the im2col functions, outside it `ops.conv2d`."""
    layer = Conv2d(2, 3, 3, padding=1)
    layer.params = {"weight": rng.normal(size=(3, 2, 3, 3)), "bias": rng.normal(size=3)}
    net = Network([layer, LeakyReLU(0.1), GlobalAvgPool()], (2, 6, 6))
    x, dy = rng.normal(size=(4, 2, 6, 6)), rng.normal(size=(4, 3, 6, 6))
    with net.reference_engine():
        y = layer.forward(x)
        dx = layer.backward(dy, param_grads=False)
    w, b = layer.params["weight"], layer.params["bias"]
    np.testing.assert_array_equal(y, ops.conv2d_im2col(x, w, b, 1, 1))
    np.testing.assert_array_equal(dx, ops.conv2d_input_grad_col2im(dy, w, x.shape, 1, 1))
    assert not layer.reference
    np.testing.assert_array_equal(layer.forward(x), ops.conv2d(x, w, b, 1, 1))


@pytest.mark.parametrize("slope", [0.0, 0.1, 1.0, 2.5, -0.3])
def test_leaky_relu_is_the_where_definition_bit_for_bit(slope):
    x = np.array([[-2.0, -0.0, 0.0, 3.0, -1e-300, np.inf, -np.inf, np.nan]])
    layer = LeakyReLU(slope)
    with np.errstate(invalid="ignore"):  # 0 * inf
        y = layer.forward(x)
        expected = np.where(x > 0, x, slope * x)
    np.testing.assert_array_equal(y, expected)
    assert np.array_equal(np.signbit(y), np.signbit(expected))
    dy = np.array([[1.5, -2.0, 3.0, -0.0, 4.0, 1.0, 1.0, 1.0]])
    np.testing.assert_array_equal(layer.backward(dy), np.where(x > 0, dy, slope * dy))
    assert np.array_equal(np.signbit(layer.backward(dy)), np.signbit(np.where(x > 0, dy, slope * dy)))


@pytest.mark.parametrize(("k", "stride"), [(2, 2), (3, 1), (3, 2), (2, 3)])
def test_maxpool_views_match_argmax_over_unfolded_windows_ties_and_nan_included(k, stride, rng):
    x = rng.integers(0, 3, size=(2, 3, 7, 8)).astype(float)  # many ties: the first maximum must win
    win = ops.windows(x, k, stride)
    flat = win.reshape(*win.shape[:4], k * k)
    y, arg = ops.maxpool2d(x, k, stride)
    np.testing.assert_array_equal(arg, flat.argmax(axis=-1))
    np.testing.assert_array_equal(y, flat.max(axis=-1))
    x[0, 1, 2, 3] = np.nan
    y, arg = ops.maxpool2d(x, k, stride)
    flat = ops.windows(x, k, stride).reshape(*win.shape[:4], k * k)
    np.testing.assert_array_equal(arg, flat.argmax(axis=-1))


# -- conv + leaky_relu fused in the network's passes -----------------------------------------------------------


def chain(rng, c, shape, specs, slope, head="gap"):
    """A network of conv (o, k, padding) + leaky_relu(slope) pairs on (c, *shape), then GAP + dense 3."""
    layers, ch = [], c
    for o, k, p in specs:
        layers += [Conv2d(ch, o, k, padding=p), LeakyReLU(slope)]
        ch = o
    layers += [GlobalAvgPool(), Dense(ch, 3)] if head == "gap" else [Flatten(), Dense(ch * _flat(shape, specs), 3)]
    for layer in layers:
        for key, value in layer.params.items():
            layer.params[key] = rng.normal(0.0, 0.7, size=value.shape)
    return Network(layers, (c, *shape))


def _flat(shape, specs):
    h, w = shape
    for _, k, p in specs:
        h, w = h + 2 * p - k + 1, w + 2 * p - k + 1
    return h * w


def one_by_one(net, x, dy_logits):
    """The network's passes layer by layer through each layer's own forward/backward (no fusion), with every
    leaky_relu done by its np.where definition."""
    inputs, outputs = [], []
    for layer in net.layers:
        inputs.append(x)
        if layer.type == "leaky_relu":
            with np.errstate(invalid="ignore"):
                x = np.where(x > 0, x, layer.negative_slope * x)
        else:
            x = layer.forward(x)
        outputs.append(x)
    dy = dy_logits
    for i in range(len(net.layers) - 1, -1, -1):
        layer = net.layers[i]
        if layer.type == "leaky_relu":
            dy = np.where(inputs[i] > 0, dy, layer.negative_slope * dy)
        else:
            dy = layer.backward(dy, param_grads=False)
    return inputs, outputs, dy


# (input channels, shape), [(out channels, kernel, padding)], hand-offs expected (forward; backward, the global
# average pool's to the last convolution included)
CHAINS = [
    ((1, (9, 9)), [(4, 3, 1), (5, 3, 1), (6, 3, 1)], (2, 3)),  # same-size 3x3 convs (the benchmark's shape)
    ((2, (7, 11)), [(3, 1, 0), (4, 3, 0), (2, 5, 2)], (1, 1)),  # 1x1, padding 0, 5x5, non-square
    ((3, (6, 5)), [(8, 3, 2), (2, 2, 1), (3, 3, 1)], (1, 1)),  # growing and shrinking grids, few output channels
    ((2, (5, 8)), [(3, 5, 2), (4, 5, 2), (2, 3, 1)], (1, 2)),  # 5x5 same-size, then 3x3
    ((1, (7, 6)), [(3, 3, 0)], (0, 0)),  # padding 0 before the pool: no hand-off fits
    ((2, (6, 7)), [(3, 3, 1), (4, 1, 0)], (0, 1)),  # a 1x1 convolution before the pool: the pool's hand-off unpadded
]


@pytest.mark.parametrize("threads", [False, True])
@pytest.mark.parametrize("slope", [0.1, 0.0, 1.0, 2.5, -0.3])
@pytest.mark.parametrize(("input_shape", "specs", "handoffs"), CHAINS)
def test_fused_passes_are_the_layer_by_layer_passes(input_shape, specs, handoffs, slope, threads, monkeypatch):
    """The fused passes against each layer's own forward/backward.

    One block (`threads` False; these grids are small): both run the same GEMMs on the same columns, so they
    agree bit for bit by construction. Many blocks, shared out over threads: a hand-off cuts its blocks at
    whole grid rows and a plain convolution does not, so the GEMMs have other shapes, whose last bits depend on
    the BLAS kernel (OpenBLAS's AVX-512 kernels differ there by an ulp): equal to round-off (tests/roundoff.py).
    """
    if threads:  # many blocks (with a short last one), shared out over the worker threads
        monkeypatch.setattr(ops, "PARALLEL_FLOPS", 0)
        monkeypatch.setattr(ops, "PARALLEL_FILL", 0)
        monkeypatch.setattr(ops, "BLOCK_BYTES", 1000)
    rng = np.random.default_rng([len(specs), int(10 * slope) + 10])
    c, shape = input_shape
    net = chain(rng, c, shape, specs, slope)
    calls = []
    for name in ("conv2d_leaky_relu", "conv2d_leaky_relu_mean", "conv2d_input_grad"):
        real = getattr(ops, name)
        spy = lambda *a, real=real, name=name, **k: calls.append((name, k.get("padded") is not None)) or real(*a, **k)  # noqa: E731
        monkeypatch.setattr(ops, name, spy)
    for n in (1, 3):
        x = rng.normal(size=(n, c, *shape))
        dy = rng.normal(size=(n, 3))
        inputs, outputs, dx = one_by_one(net, x, dy)
        mags, terms = forward_magnitudes(net, x)
        dx_mag, dx_terms = backward_magnitude(net, dy)

        def same(a, b, mag, k, what):
            if threads:
                assert_roundoff_close(a, b, mag, k, what=what)
            else:
                np.testing.assert_array_equal(a, b, err_msg=what)

        calls.clear()
        net.forward(x)
        for i in range(len(net.layers)):
            same(net.inputs[i], inputs[i], mags[i - 1] if i else 0.0, terms[i - 1] if i else 1, f"input {i}")
            same(net.outputs[i], outputs[i], mags[i], terms[i], f"output {i}")
        # every pair ran fused, and the activations went channel-major into the next convolution where the
        # geometry allows (same-size 3x3 convolutions, a 1x1 before a padding-0 one)
        assert [name for name, _ in calls] == ["conv2d_leaky_relu"] * len(specs)
        assert sum(handed for _, handed in calls) == handoffs[0]
        calls.clear()
        fused = net.backward(dy)
        assert [name for name, _ in calls] == ["conv2d_input_grad"] * len(specs)
        assert sum(handed for _, handed in calls) == handoffs[1]
        same(fused, dx, dx_mag, dx_terms, "input gradient")
        # keep=True runs layer by layer (it records every layer's gradient): the same values
        same(net.backward(dy, keep=True), fused, dx_mag, dx_terms, "input gradient, keep=True")
        # and both agree with the im2col engine's passes (other GEMMs: to round-off)
        with net.reference_engine():
            net.forward(x)
            ref = net.backward(dy, keep=True)
        assert_roundoff_close(fused, ref, dx_mag, dx_terms, what="input gradient, im2col engine")
        # a lean forward: the last pair and the pool as one pass, which writes neither activation
        calls.clear()
        out = net.forward(x, lean=True)
        assert [name for name, _ in calls] == ["conv2d_leaky_relu"] * (len(specs) - 1) + ["conv2d_leaky_relu_mean"]
        # neither the last pre-activation nor the activation (the pool's input) was kept
        assert net.outputs[-4] is None and net.outputs[-3] is None and net.inputs[-2] is None
        # the pool sums in another order (and the last convolution's blocks are cut at whole rows): to round-off
        assert_roundoff_close(net.outputs[-2], outputs[-2], mags[-2], terms[-2], what="lean pool")
        assert_roundoff_close(out, outputs[-1], mags[-1], terms[-1], what="lean logits")
        # its backward reads only the leaky_relus' factors (exactly 1 or the slope, the same unless round-off
        # moved a pre-activation across 0, which random data keep clear of) and runs the fused backward's GEMMs
        np.testing.assert_array_equal(net.backward(dy), fused)
        with pytest.raises(RuntimeError, match="not lean"):
            net.backward(dy, keep=True)


def test_fused_passes_propagate_nan_and_inf_like_the_definition():
    """One block per convolution (a small grid): the fused passes run the layer-by-layer GEMMs, bit for bit."""
    rng = np.random.default_rng(5)
    net = chain(rng, 1, (8, 8), [(3, 3, 1), (4, 3, 1)], 0.1)
    x = rng.normal(size=(2, 1, 8, 8))
    x[0, 0, 2, 3], x[1, 0, 7, 7] = np.nan, np.inf
    dy = rng.normal(size=(2, 3))
    with np.errstate(invalid="ignore"):
        _, outputs, dx = one_by_one(net, x, dy)
        net.forward(x)
        for i in range(len(net.layers)):
            np.testing.assert_array_equal(net.outputs[i], outputs[i])
        got = net.backward(dy)
        z2 = net.outputs[2][0]
        lean = net.forward(x, lean=True)
        lean_dx = net.backward(dy)
    np.testing.assert_array_equal(got, dx)
    # NaN reaches exactly the pixels whose windows (through two 3x3 convs) see the NaN pixel, not the rest
    assert np.isnan(z2[:, :5, 1:6]).all() and not np.isnan(z2[:, 5:, :]).any()
    # the lean pass's pool sums the valid positions only: NaN and inf reach the logits as in the definition
    np.testing.assert_array_equal(lean_dx, dx)
    np.testing.assert_array_equal(np.isnan(lean), np.isnan(outputs[-1]))
    with np.errstate(invalid="ignore"):
        mags, terms = forward_magnitudes(net, x)
    assert_roundoff_close(lean, outputs[-1], mags[-1], terms[-1], what="lean logits")


def test_fused_results_are_fresh_arrays(rng):
    net = chain(rng, 1, (6, 6), [(2, 3, 1), (3, 3, 1)], 0.1)
    net.forward(rng.normal(size=(2, 1, 6, 6)))
    kept = [a.copy() for a in net.outputs]
    first = net.outputs
    net.forward(rng.normal(size=(2, 1, 6, 6)))
    net.backward(rng.normal(size=(2, 3)))
    for a, b in zip(first, kept, strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_forward_by_the_reference_engine_leaves_no_stale_hand_off_for_the_fused_backward(rng):
    net = chain(rng, 1, (8, 8), [(3, 3, 1), (4, 3, 1)], 0.1)
    x1, x2, dy = rng.normal(size=(2, 1, 8, 8)), rng.normal(size=(2, 1, 8, 8)), rng.normal(size=(2, 3))
    net.forward(x1)  # fused: the leaky_relus keep their factors on the grid
    with net.reference_engine():
        net.forward(x2)
    fused = net.backward(dy)  # fused backward after an unfused forward of other rows
    with net.reference_engine():
        net.forward(x2)
        expected = net.backward(dy, keep=True)
    assert_roundoff_close(fused, expected, *backward_magnitude(net, dy))


def test_freed_memory_is_reused_without_page_faults():
    resource = pytest.importorskip("resource")
    from saliency_cli.nn import memory

    if not memory.retain_freed_memory():
        pytest.skip("not glibc: the engine leaves malloc as it is")
    assert memory.retain_freed_memory()  # once per process, idempotent

    def faults_of_a_fresh_48mb_array() -> int:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        a = np.empty(6 << 20)  # 48 MiB: above glibc's own largest mmap threshold (32 MiB), below ours
        a.fill(1.0)
        del a
        return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

    faults_of_a_fresh_48mb_array()
    # mapped afresh, each allocation faults again (~500 times here with transparent huge pages, 12,288 without)
    assert faults_of_a_fresh_48mb_array() < 50


def test_shared_blocks_are_each_done_once_and_errors_reach_the_caller():
    import threading

    from saliency_cli.nn import blas

    seen, lock = [], threading.Lock()

    def record(i, item):
        with lock:
            seen.append((i, item))

    blas.run_shared(record, range(50), workers=2)
    assert sorted(item for _, item in seen) == list(range(50))
    assert {i for i, _ in seen} <= {0, 1}

    def fail(i, item):
        if item == 7:
            raise ValueError("block 7")

    with pytest.raises(ValueError, match="block 7"):
        blas.run_shared(fail, range(20), workers=2)

    # the calling thread does all the work when the pool thread is held up, and does not wait for it
    release = threading.Event()
    for _ in range(max(1, blas.cores() - 1)):  # every pool thread busy until released
        blas._POOL.submit(release.wait)
    seen.clear()
    blas.run_shared(record, range(10), workers=2)
    release.set()
    assert sorted(seen) == [(0, k) for k in range(10)]


def test_default_rows_count_the_compute_dtypes_bytes(rng):
    from saliency_cli.methods.batching import DEFAULT_PASS_BYTES, default_rows

    net = chain(rng, 1, (64, 64), [(8, 3, 1), (16, 3, 1)], 0.1)
    values = 64 * 64 * (1 + 8 + 8 + 16 + 16) + 16 + 3  # input and every layer's output, per row
    assert default_rows(net) == DEFAULT_PASS_BYTES // (8 * values)
    assert default_rows(net.astype("float32")) == DEFAULT_PASS_BYTES // (4 * values)


@pytest.mark.parametrize("n", [0, 1, 25, 49, 50, 51, 99, 100, 1000])
def test_default_chunks_are_as_few_as_allowed_and_of_equal_sizes(n, rng):
    from saliency_cli.methods.batching import default_rows, row_chunks

    net = chain(rng, 1, (64, 64), [(8, 3, 1), (16, 3, 1)], 0.1)
    most = default_rows(net)
    sizes = [s.stop - s.start for s in row_chunks(n, None, net)]
    assert sum(sizes) == n and len(sizes) == -(-n // most)  # every row once, in as few passes as allowed
    assert all(size <= most for size in sizes) and max(sizes, default=0) - min(sizes, default=0) <= 1
    starts = [s.start for s in row_chunks(n, None, net)]
    assert starts == [sum(sizes[:i]) for i in range(len(sizes))]
    # a batch_size given is the size of every pass but the last
    assert [s.stop - s.start for s in row_chunks(n, 7, net)] == [7] * (n // 7) + ([n % 7] if n % 7 else [])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(("n", "c", "s"), [(3, 5, 9), (35, 32, 64), (8, 32, 128), (2, 1, 300), (40, 3, 50)])
def test_spatial_mean_is_numpys_mean_bit_for_bit(n, c, s, dtype, rng):
    grid = rng.normal(size=(c, n, s + 2, s + 2)).astype(dtype)
    for x in (grid[:, :, :s, :s].transpose(1, 0, 2, 3), np.ascontiguousarray(grid[:, :, :s, :s].transpose(1, 0, 2, 3))):
        got = ops.spatial_mean(x)
        assert got.dtype == x.dtype and got.tobytes() == x.mean(axis=(2, 3)).tobytes()


@settings(max_examples=150, deadline=None)
@given(
    st.integers(1, 4),  # images
    st.integers(1, 7),  # valid height
    st.integers(1, 7),  # valid width
    st.integers(0, 2),  # the input gradient's padding q
    st.integers(0, 40),  # first row
    st.integers(1, 40),  # rows
)
def test_tiles_build_any_rows_of_the_padded_input_they_stand_for(n, h, w, q, first, count):
    """`Tiles.rows` against the whole padded input written out: values * factor over each tile's valid part,
    zero elsewhere, shifted by q * (Wp + 1), then zero rows past the end, for any run of rows (partial tiles at
    either end, whole tiles between, rows past the last tile)."""
    rng = np.random.default_rng([n, h, w, q, first, count])
    c, hp, wp = 3, h + 2 * q, w + 2 * q
    factor = rng.choice([0.1, 1.0], size=(c, n, hp, wp))
    values = rng.normal(size=(c, n))
    whole = np.zeros((c, (n * hp + first + count + 3) * wp))
    lead = q * (wp + 1)
    grid = whole[:, lead : lead + n * hp * wp].reshape(c, n, hp, wp)
    grid[:, :, :h, :w] = factor[:, :, :h, :w] * values[:, :, None, None]
    out = np.full((c, count, wp), np.nan)
    Tiles(values, factor, (h, w), q).rows(first, out)
    np.testing.assert_array_equal(out, whole.reshape(c, -1, wp)[:, first : first + count])


@pytest.mark.parametrize("size", [1, 3, 10])
def test_tile_parts_and_the_whole_tiles_between_cover_a_range_once(size):
    for low in range(0, 25):
        for high in range(low, 40):
            cover = np.zeros(40, dtype=int)
            for tile, a, b in tile_parts(low, high, size):
                assert tile * size <= a < b <= (tile + 1) * size and (b - a) < size
                cover[a:b] += 1
            t0, t1 = -(-low // size), high // size
            if t0 < t1:
                cover[t0 * size : t1 * size] += 1
            assert (cover[low:high] == 1).all() and cover.sum() == high - low


def test_the_per_thread_blas_control_is_found_whatever_is_imported_first():
    # The lookup is cached: made before numpy had loaded its OpenBLAS, it would find nothing for good, and the
    # engine's threads would then run multi-threaded GEMMs. Either import order finds the same function (or, with
    # another BLAS, none in both).
    import subprocess
    import sys

    probe = "print(blas._set_local() is not None)"
    answers = [
        subprocess.run(
            [sys.executable, "-c", f"{first}; {probe}"], capture_output=True, text=True, check=True
        ).stdout.strip()
        for first in ("from saliency_cli.nn import blas", "import numpy; from saliency_cli.nn import blas")
    ]
    assert answers[0] == answers[1]


@pytest.mark.parametrize(("input_shape", "specs", "handoffs"), CHAINS[:3])
def test_fewer_engine_threads_give_the_same_bits(input_shape, specs, handoffs, monkeypatch):
    """`limit_threads` (a `--workers` process's share of the cores) changes which thread computes a block, never
    where the blocks are cut: forward and backward passes are the same bit for bit on one thread."""
    from saliency_cli.nn import blas

    monkeypatch.setattr(ops, "PARALLEL_FLOPS", 0)
    monkeypatch.setattr(ops, "PARALLEL_FILL", 0)
    monkeypatch.setattr(ops, "BLOCK_BYTES", 1000)
    monkeypatch.setattr(blas, "cores", lambda: 4)  # four threads' worth of blocks, whatever this machine has
    rng = np.random.default_rng(len(specs))
    c, shape = input_shape
    net = chain(rng, c, shape, specs, 0.1)
    x, dy = rng.normal(size=(5, c, *shape)), rng.normal(size=(5, 3))
    runs = []
    for threads in (None, 1, 3):
        blas.limit_threads(threads)
        try:
            assert blas.threads() == (threads or 4)
            runs.append((net.forward(x).copy(), net.backward(dy).copy(), net.forward(x, lean=True).copy()))
        finally:
            blas.limit_threads(None)
    for other in runs[1:]:
        for a, b in zip(runs[0], other, strict=True):
            np.testing.assert_array_equal(a, b)
