"""Stateless array maths shared by the layers, the LRP rules and the tests.

Every function works on a batch laid out as (N, C, H, W) (float64, or float32 in the float32 compute
mode: results have the inputs' dtype) and loops at most over the kernel window (kh * kw iterations)
or over blocks of columns, never over pixels.

Two convolution engines compute the same cross-correlation:

- `conv2d_im2col` / `conv2d_input_grad_col2im` (in `im2col.py`, re-exported here): the textbook one (unfold
  windows into rows, one GEMM, scatter-add back with col2im). Training uses it, so that model files stay
  byte-identical for a seed on a machine (its GEMMs' shapes do not depend on the cores; another BLAS kernel may
  change the last bits, see docs/portability.md).
- `conv2d` / `conv2d_input_grad` (stride 1, padding < kernel; other settings fall back to im2col):
  channel-major, with the batch and the padded image flattened into one axis of length
  L = N * (H + 2p) * (W + 2p). In that layout the window offset (i, j) is the shift i * Wp + j, so the
  unfolded block of columns is kh * kw contiguous slice copies and each block is one GEMM
  (O, kh * kw * C) @ (kh * kw * C, B). Outputs are computed on the whole padded grid and the valid part is
  returned as a strided (N, O, Ho, Wo) view. The input gradient is the same forward convolution of dy
  padded by k - 1 - p with the flipped, transposed kernel, so there is no col2im. They agree with the
  im2col engine to round-off (~1e-16 relative: only the order of the sums differs).

  A leaky_relu after a convolution is fused into it (`conv2d_leaky_relu`; its backward into the copy of dy
  into the padded buffer), and between two such pairs the activation (and in the backward dx times the
  factor) is handed off channel-major, written straight into the next convolution's padded buffer. When a
  pass needs only the factors and a global average pool's values (`conv2d_leaky_relu_mean`, a gradient
  pass), the pool is fused in as well and the activation is never written out.
"""

from __future__ import annotations

import math

import numpy as np

from . import blas, memory
from .im2col import (  # noqa: F401  (the textbook engine, re-exported: ops is where the maths is)
    col2im,
    conv2d_im2col,
    conv2d_input_grad_col2im,
    conv2d_weight_grad,
    im2col,
    out_size,
    windows,
)
from .pool import maxpool2d, maxpool2d_input_grad  # noqa: F401  (re-exported: ops is where the maths is)
from .tiles import Tiles, tile_parts

#: Bytes of one block of unfolded columns in the fast engine: small enough to stay in cache.
BLOCK_BYTES = 3 << 20

#: Convolutions of fewer floating-point operations run on the calling thread only.
PARALLEL_FLOPS = 4_000_000

#: Padded-buffer fills of at least this many elements are shared out over the cores.
PARALLEL_FILL = 1 << 18

#: Threaded convolutions cut their columns into at least 4 blocks per core, but of at least this many columns
#: (a smaller block costs more in per-block Python overhead than it gains in balance).
MIN_BLOCK = 2048


def fast_conv(kernel: int, stride: int, padding: int) -> bool:
    """Whether the channel-major engine applies (stride 1 and padding < kernel); else im2col is used."""
    return stride == 1 and 0 <= padding < kernel


def _scratch(work: dict | None, key: tuple, shape: tuple[int, ...], dtype) -> np.ndarray:
    """A scratch array, zeroed when new: from `work` when one of the same `key` (geometry and dtype) is kept.

    Callers only ever overwrite the same interior of a kept array, so its zero borders stay zero. At most
    a few geometries are kept (a chunked batch has a full-chunk and a last-chunk shape).
    """
    if work is None:
        return np.zeros(shape, dtype=dtype)
    arr = work.get(key)
    if arr is None:
        if len(work) >= 24:
            work.clear()
        arr = work[key] = np.zeros(shape, dtype=dtype)
    return arr


def _block_scratch(work: dict | None, key: tuple, shape: tuple[int, ...], dtype) -> np.ndarray:
    """A scratch array of `shape`, contents undefined (callers overwrite what they read): the front of one flat
    array kept in `work` under `key`, grown when too small, so blocks of every size share it."""
    need = math.prod(shape)  # NOTE: not np.prod, which costs ~5 us a call (a conv calls this once a block)
    arr = None if work is None else work.get(key)
    if arr is None or arr.size < need or arr.dtype != dtype:
        arr = np.empty(need, dtype=dtype)
        if work is not None:
            work[key] = arr
    return arr[:need].reshape(shape)


def _fill(grid, x, factor, padding, parallel):
    """Write `x` (N, C, H, W), times `factor` (same shape) when given, into the interior of `grid` (C, N, Hp, Wp).

    With `parallel`, the channels (or the rows when there is one channel) are split over the cores.
    """
    h, w = x.shape[2:]
    src = x.transpose(1, 0, 2, 3)
    fac = None if factor is None else factor.transpose(1, 0, 2, 3)
    dst = grid[:, :, padding : padding + h, padding : padding + w]

    def run(i, part):
        if fac is None:
            dst[part] = src[part]
        else:
            np.multiply(src[part], fac[part], out=dst[part])

    if not parallel:
        run(0, (slice(None),))
        return
    c, n = src.shape[:2]
    parts = min(blas.threads(), c if c > 1 else n)
    if c > 1:
        cuts = [(slice(c * i // parts, c * (i + 1) // parts),) for i in range(parts)]
    else:
        cuts = [(slice(None), slice(n * i // parts, n * (i + 1) // parts)) for i in range(parts)]
    blas.run_parts(run, cuts)


def leaky_factor(x: np.ndarray, slope: float, out: np.ndarray) -> np.ndarray:
    """leaky_relu's factor into `out` (`x`'s shape and dtype): 1 where `x` > 0 and `slope` elsewhere (NaN
    included); x * factor is where(x > 0, x, slope * x) bit for bit (x * 1 == x and x * slope == slope * x,
    signed zeros and NaN too)."""
    one, low = out.dtype.type(1), out.dtype.type(slope)
    high = one - low
    if high + low == one:
        # NOTE: (x > 0) * (1 - a) + a is exactly 1 or a (checked just above): three fast passes, where np.where
        # and a comparison or maximum writing floats take ~3x as long on the engine's blocks. The comparison
        # is written as 0.0 / 1.0 straight into `out`: a bool mask copied into it costs the same, but 2-4x as
        # much in some processes (on the conv net at S=32, 3.4 ms -> 6.6 ms of float64 IG-50's 45 on one core),
        # depending only on where the mask and the factor land modulo 4 KiB (apparently 4K aliasing).
        np.greater(x, 0, out=out)
        np.multiply(out, high, out=out)
        return np.add(out, low, out=out)
    out[...] = np.where(x > 0, one, low)
    return out


def _conv_cm(
    x, wm, kernel, padding, work, tag, factor=None, bias=None, slope=None, padded=None, handoff=None, mean=False
):
    """The fast engine's core: `x` (N, C, H, W) against `wm` (O, k * k * C) on the padded grid (Hp, Wp).

    Returns (y, act, factor, buffer): y (O, N, Hp, Wp), and with `slope` the activation and its factor on the
    same grid (else None); `buffer` is None unless `handoff`. With `mean`, (None, None, factor, means).

    `work` (a dict, optional) keeps the padded input and the column block between calls of the same
    shape: their zero borders are written once and only the interior is overwritten.

    Fused work, done by the thread that computed each block while it is in cache (results are the same,
    bit for bit, as doing it afterwards on the whole array):
    - `factor` (N, C, H, W): the input is `x * factor` (a leaky_relu's backward before this convolution);
    - `bias` (O,): added to the output;
    - `slope`: a leaky_relu after the convolution: its activation and factor (1 where the pre-activation is
      > 0 and `slope` elsewhere) are computed too.
    Channel-major hand-off between two convolutions (no copy into a padded buffer):
    - `padded`: this call's input already laid out as its padded buffer (C, L + offsets[-1]) (`x` then only
      gives the shape);
    - `handoff` (P, k, scale): the output (the activation with `slope`; else y, times `scale` (O, L) when given)
      is written into a new buffer laid out as the padded input of a convolution of kernel k and padding P
      whose input is this call's valid output: the grid's rows and columns past the valid part are the next
      one's zero padding, so the buffer is the output shifted by P * (Wp + 1), with those positions zeroed.
    Global average pool after the activation (`mean`, with `slope`, no `handoff`): neither the output nor the
    activation is kept. Each block's activation is summed over every image's valid part while it is in cache;
    the means (N, O) are those sums added up block after block in grid order (whichever thread computed them)
    and divided by Ho * Wo: the pool's values to round-off (the order of the sums differs from `spatial_mean`).
    """
    n, c, h, w = x.shape
    hp, wp = h + 2 * padding, w + 2 * padding
    length = n * hp * wp
    dtype = np.result_type(x.dtype, wm.dtype)
    offsets = [i * wp + j for i in range(kernel) for j in range(kernel)]
    out_ch = wm.shape[0]
    # Small problems stay on the calling thread with the BLAS as it is: a thread hand-off costs more than they do.
    small = 2 * wm.shape[0] * wm.shape[1] * length < PARALLEL_FLOPS
    if not small:
        memory.retain_freed_memory()  # NOTE: fresh multi-MB results per chunk would page-fault every time
    tiles = None
    if isinstance(padded, Tiles):  # built block by block (see `source`)
        tiles, padded = padded, None
    elif padded is None:
        key = (tag, "padded", x.shape, kernel, padding, dtype.str)
        padded = _scratch(work, key, (c, length + offsets[-1]), dtype)
        grid = padded[:, :length].reshape(c, n, hp, wp)
        _fill(grid, x, factor, padding, parallel=not small and c * length >= PARALLEL_FILL)
    shifted = out_ch * 2 <= c  # see run_shifted
    per_column = kernel * kernel * (out_ch if shifted else c) * dtype.itemsize  # the products, or the columns
    block = max(256, min(length, BLOCK_BYTES // per_column))
    if not small:  # NOTE: at least 4 blocks per core, so that the cores finish together (see MIN_BLOCK)
        block = max(256, min(block, max(MIN_BLOCK, -(-length // (4 * blas.cores())))))
    taps = kernel * kernel
    if shifted:  # (k * k * O, C): every tap's (O, C) weights stacked, so that one GEMM serves all taps
        wstack = np.ascontiguousarray(wm.reshape(out_ch, taps, c).transpose(1, 0, 2).reshape(taps * out_ch, c))
    if tiles is not None or mean or handoff is not None:
        # whole grid rows per block, so that each block builds its own rows of the input (`tiles`), sums its own
        # images' valid rows (`mean`) or zeroes its own part of the next layer's padding (`handoff`)
        block = max(wp, block // wp * wp)
    buffer = dest = scale = None
    if mean:
        valid_h, valid_w = hp - kernel + 1, wp - kernel + 1
        sums: dict[int, list] = {}
    if handoff is not None:
        next_padding, next_kernel, scale = handoff
        lead = next_padding * (wp + 1)
        size = (out_ch, length + (next_kernel - 1) * (wp + 1))
        # NOTE: a backward hand-off is no result (only the next input gradient reads it): kept as scratch
        key = (tag, "handoff", size, next_padding, dtype.str)
        buffer = np.empty(size, dtype=dtype) if slope is not None else _scratch(work, key, size, dtype)
        dest = buffer[:, lead : lead + length]
        valid_h, valid_w = hp - 2 * next_padding, wp - 2 * next_padding
    # NOTE: with `mean`, y and the activation are each block's scratch (never written to memory as a whole)
    y = None if mean else dest if dest is not None and slope is None else np.empty((out_ch, length), dtype=dtype)
    act = fac = None
    if slope is not None:
        fac = np.empty((out_ch, length), dtype=dtype)
        act = None if mean else dest if dest is not None else np.empty_like(fac)
    if bias is not None and not shifted:
        # NOTE: the bias is one more column of the weights against a row of ones under the unfolded columns:
        # the GEMM adds it (no pass over the output for it)
        wm = np.concatenate([wm, bias.astype(dtype, copy=False)[:, None]], axis=1)
        bias = None
    ones = wm.shape[1] > taps * c
    if bias is not None:
        bias = bias.astype(dtype, copy=False)[:, None]
    starts = range(0, length, block)
    # NOTE: blocks are handed out to the cores as they ask (`blas.run_shared`), each thread running
    # single-threaded GEMMs on its own column scratch: many small multi-threaded GEMMs would each pay a
    # thread hand-off.
    workers = 1 if small else min(blas.threads(), len(starts))

    def source(i, start, stop):
        """The padded input's columns that a block reads, start .. stop + offsets[-1]: a slice of it, or with
        `tiles` its rows built into the thread's scratch (in cache, where the block's products read them)."""
        if tiles is None:
            return padded[:, start : stop + offsets[-1]]
        rows = (stop - start) // wp + kernel
        built = _block_scratch(work, (tag, "tiles", i), (c, rows * wp), dtype)
        tiles.rows(start // wp, built.reshape(c, rows, wp))
        return built[:, : stop - start + offsets[-1]]

    def target(i, start, stop):
        """Where a block's output is written: its part of y, or with `mean` the thread's scratch."""
        if not mean:
            return y[:, start:stop]
        return _block_scratch(work, (tag, "out", i), (out_ch, block), dtype)[:, : stop - start]

    def epilogue(i, start, stop, out):
        if bias is not None:
            out += bias
        if mean:
            leaky_factor(out, slope, fac[:, start:stop])
            np.multiply(out, fac[:, start:stop], out=out)
            return sum_valid(start, stop, out)
        if slope is not None:
            leaky_factor(out, slope, fac[:, start:stop])
            np.multiply(out, fac[:, start:stop], out=act[:, start:stop])
        elif scale is not None:
            np.multiply(out, scale[:, start:stop], out=out)
        if dest is not None:  # the grid rows and columns past the valid part: the next layer's zero padding
            rows = dest[:, start:stop].reshape(out_ch, -1, wp)
            rows[:, :, valid_w:] = 0
            first, last = start // wp, stop // wp
            for tile in range(first // hp, (last - 1) // hp + 1):
                low, high = max(first, tile * hp + valid_h), min(last, (tile + 1) * hp)
                if low < high:
                    rows[:, low - first : high - first] = 0

    def sum_valid(start, stop, out):
        # each image's valid rows in the block, their columns past the valid part zeroed, summed per channel: the
        # images the block holds whole in one reduction, the parts of those it shares with its neighbours apart
        rows = out.reshape(out_ch, -1, wp)
        rows[:, :, valid_w:] = 0
        first, last, found = start // wp, stop // wp, []
        whole = (-(-first // hp), last // hp)
        for tile, low, high in tile_parts(first, last, hp):
            high = min(high, tile * hp + valid_h)
            if low < high:
                part = rows[:, low - first : high - first].reshape(out_ch, 1, -1)
                found.append((tile, np.add.reduce(part, axis=2)))
        if whole[0] < whole[1]:
            grids = rows[:, whole[0] * hp - first : whole[1] * hp - first].reshape(out_ch, -1, hp, wp)
            found.append((whole[0], np.add.reduce(grids[:, :, :valid_h].reshape(*grids.shape[:2], -1), axis=2)))
        sums[start] = found

    def run(i, start):
        if shifted:
            return run_shifted(i, start)
        rows_all = _block_scratch(work, (tag, "cols", i), (taps * c + ones, block), dtype)
        cols = rows_all[: taps * c].reshape(taps, c, block)
        if ones:
            rows_all[-1] = 1
        stop = min(length, start + block)
        m = stop - start
        src = source(i, start, stop)
        for t, off in enumerate(offsets):
            cols[t, :, :m] = src[:, off : off + m]
        rows = rows_all if m == block else rows_all[:, :m]
        out = target(i, start, stop)
        np.matmul(wm, rows, out=out)
        epilogue(i, start, stop, out)

    def run_shifted(i, start):
        # NOTE: few output channels (an input gradient into the image): one GEMM of every tap's weights with
        # the padded input (read once, not k * k times), then the k * k products summed at their shifts, in
        # tap order; this costs less than unfolding k * k copies of the input's many channels.
        prod = _block_scratch(work, (tag, "taps", i), (taps * out_ch, block + offsets[-1]), dtype)
        stop = min(length, start + block)
        m = stop - start
        np.matmul(wstack, source(i, start, stop), out=prod[:, : m + offsets[-1]])
        out = target(i, start, stop)
        np.copyto(out, prod[:out_ch, offsets[0] : offsets[0] + m])
        for t in range(1, taps):
            out += prod[t * out_ch : (t + 1) * out_ch, offsets[t] : offsets[t] + m]
        epilogue(i, start, stop, out)

    if small:
        previous = blas.single_threaded_blas()  # NOTE: tiny multi-threaded GEMMs spin-wait on a busy machine
        try:
            for start in starts:
                run(0, start)
        finally:
            blas.restore_blas(previous)
    else:
        blas.run_shared(run, starts, workers)
    shape = (out_ch, n, hp, wp)
    if mean:
        means = np.zeros((n, out_ch), dtype=dtype)
        for start in starts:  # in grid order, whichever thread summed each block
            for tile, total in sums[start]:
                means[tile : tile + total.shape[1]] += total.T
        return None, None, fac.reshape(shape), np.divide(means, valid_h * valid_w, out=means)
    if buffer is not None:
        buffer[:, :lead] = 0
        buffer[:, lead + length :] = 0
    return (*(None if a is None else a.reshape(shape) for a in (y, act, fac)), buffer)


def _valid(grid: np.ndarray, h: int, w: int) -> np.ndarray:
    """The (N, O, h, w) valid part of an (O, N, Hp, Wp) result on the padded grid, as a strided view."""
    return grid[:, :, :h, :w].transpose(1, 0, 2, 3)


def conv2d(
    x: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None,
    stride: int,
    padding: int,
    work: dict | None = None,
) -> np.ndarray:
    """Cross-correlation as in PyTorch: `x` (N, C, H, W), `weight` (O, C, k, k) -> (N, O, Ho, Wo).

    The channel-major engine when `fast_conv` allows (the result is then a strided view of an (O, N, Hp, Wp)
    array), else `conv2d_im2col`. `work` is an optional dict of reusable scratch arrays.
    """
    out_ch, _, k, _ = weight.shape
    if not fast_conv(k, stride, padding):
        return conv2d_im2col(x, weight, bias, stride, padding)
    h, w = x.shape[2:]
    wm = weight.transpose(0, 2, 3, 1).reshape(out_ch, -1)  # (O, k * k * C), window-major like the columns
    y = _conv_cm(x, wm, k, padding, work, "fwd", bias=bias)[0]
    return _valid(y, out_size(h, k, 1, padding), out_size(w, k, 1, padding))


def handoff_fits(grid: tuple[int, int], valid: tuple[int, int], padding: int) -> bool:
    """Whether a result on `grid` (Hp, Wp) whose valid part is `valid` (H, W) can be handed off as the padded
    input of a fast convolution of `padding` (see `_conv_cm`): the grid is the valid part padded by it."""
    return grid[0] == valid[0] + 2 * padding and grid[1] == valid[1] + 2 * padding


def conv2d_leaky_relu(x, weight, bias, padding: int, slope: float, work=None, padded=None, to=None):
    """`conv2d` (stride 1, `fast_conv(k, 1, padding)`) then leaky_relu(slope), fused: returns the pre-activation
    z, the activation and its factor (1 where z > 0, `slope` elsewhere; activation = z * factor), each
    (N, O, Ho, Wo), what `conv2d` and `LeakyReLU` give one after the other; then the factor on the padded grid
    (O, N, Hp, Wp) and the hand-off buffer (None unless `to`).

    Bit for bit when the blocks are those of `conv2d` (no `to`, or all columns in one block): the same GEMMs.
    With `to` and several blocks, the blocks are cut at whole grid rows, and GEMMs of other shapes round
    differently on some BLAS kernels (OpenBLAS's AVX-512 ones, by an ulp): the same to round-off.

    `padded`: the input as its padded buffer (a hand-off from the previous layer). `to` (padding, kernel) of
    the next convolution, which `handoff_fits`: the activation is written as its padded input.
    """
    out_ch, _, k, _ = weight.shape
    h, w = x.shape[2:]
    wm = weight.transpose(0, 2, 3, 1).reshape(out_ch, -1)
    handoff = None if to is None else (*to, None)
    z, act, fac, buffer = _conv_cm(
        x, wm, k, padding, work, "fwd", bias=bias, slope=slope, padded=padded, handoff=handoff
    )
    ho, wo = out_size(h, k, 1, padding), out_size(w, k, 1, padding)
    return _valid(z, ho, wo), _valid(act, ho, wo), _valid(fac, ho, wo), fac, buffer


def conv2d_leaky_relu_mean(x, weight, bias, padding: int, slope: float, work=None, padded=None):
    """`conv2d_leaky_relu` then a global average pool, fused, for a pass that keeps neither the pre-activation nor
    the activation: returns the leaky_relu's factor (N, O, Ho, Wo), the same on the padded grid (O, N, Hp, Wp),
    and the pool's means (N, O), its values to round-off. The factors (exactly 1 or the slope) are those of
    `conv2d_leaky_relu`; with several blocks (cut at whole grid rows here) a pre-activation may differ by
    round-off, which changes a factor only where it moves a pre-activation across 0."""
    out_ch, _, k, _ = weight.shape
    h, w = x.shape[2:]
    wm = weight.transpose(0, 2, 3, 1).reshape(out_ch, -1)
    fac, means = _conv_cm(x, wm, k, padding, work, "fwd", bias=bias, slope=slope, padded=padded, mean=True)[2:]
    return _valid(fac, out_size(h, k, 1, padding), out_size(w, k, 1, padding)), fac, means


def conv2d_input_grad(
    dy: np.ndarray,
    weight: np.ndarray,
    x_shape,
    stride: int,
    padding: int,
    work: dict | None = None,
    factor: np.ndarray | None = None,
    padded: np.ndarray | None = None,
    to=None,
):
    """d(loss)/dx (N, C, H, W) of `conv2d` given d(loss)/dy (N, O, Ho, Wo) (times `factor`, same shape, when
    given: the backward of a leaky_relu after the convolution, fused into the copy of dy).

    Fast engine: the forward convolution of dy, padded by k - 1 - p, with the kernel flipped in both
    spatial axes and its channel axes swapped (no col2im).

    Hand-off (see `_conv_cm`; the result is then (dx, buffer)): `padded`, dy (times factor) already laid out as
    this convolution's padded input; `to` (scale, padding, kernel): dx times `scale` (C, L) on this call's grid
    (a leaky_relu's factor before the convolution) written as the padded input of the previous layer's input
    gradient, of `padding` and `kernel`, which must `handoff_fits`.
    """
    k = weight.shape[2]
    if not fast_conv(k, stride, padding):
        if factor is not None:
            dy = dy * factor
        return conv2d_input_grad_col2im(dy, weight, x_shape, stride, padding)
    q = k - 1 - padding
    # flipped[c, o, i, j] = weight[o, c, k-1-i, k-1-j], laid out (C, k, k, O) like the columns
    wm = weight[:, :, ::-1, ::-1].transpose(1, 2, 3, 0).reshape(weight.shape[1], -1)
    handoff = None if to is None else (to[1], to[2], to[0])
    dx, _, _, buffer = _conv_cm(dy, wm, k, q, work, "bwd", factor=factor, padded=padded, handoff=handoff)
    dx = _valid(dx, x_shape[2], x_shape[3])
    return dx if padded is None and to is None else (dx, buffer)


def spatial_mean(x: np.ndarray) -> np.ndarray:
    """x.mean(axis=(2, 3)) of a float (N, C, H, W), bit for bit: the channels shared out over the cores when x is
    large (each channel's means are the same reduction of the same strided values, whichever thread computes
    them; a global average pool's forward at S=64 in float32 1.8 -> 0.8 ms)."""
    c = x.shape[1]
    parts = min(blas.threads(), c) if x.size >= PARALLEL_FILL else 1
    # NOTE: a C-ordered result whatever the number of parts: x.mean's own result follows x's layout (channel-major
    # after the engine's convolutions), and a product of the means then calls the BLAS with other transposes,
    # which a kernel may round differently (an emulated one does): the bits would depend on the threads.
    out = np.empty(x.shape[:2], dtype=x.dtype)

    def run(i, part):
        np.mean(x[:, part], axis=(2, 3), out=out[:, part])

    blas.run_parts(run, [slice(c * i // parts, c * (i + 1) // parts) for i in range(parts)])
    return out


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax of (N, K) logits, shifted by the row maximum for stability."""
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def log_softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise log-softmax of (N, K) logits."""
    shifted = z - z.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
