"""Round-off bounds: how far apart two computations that are equal in exact arithmetic may come out.

Two kinds of equality are tested in this suite:

- **by construction**: the same operations in the same order on the same shapes (two runs in one process, a
  file read back, `--workers N` against `--workers 1` on the same blocks). These are compared bit for bit.
- **in exact arithmetic only**: fused against unfused passes, chunked against whole, other block sizes or
  GEMM shapes, another BLAS kernel. A GEMM's last bits depend on the kernel and on the product's shape (OpenBLAS's
  AVX-512 kernels take a different small-matrix path below M * N * K = 1e6; every kernel handles the edge of a
  block its own way; Prescott's kernels do not fuse multiply-adds), so these are compared with the bound below.

The bound. With unit round-off u = eps / 2, a sum of K products computed in any order, with or without fused
multiply-adds, lies within gamma_K times the same sum of absolute values of its exact value (Higham, *Accuracy
and Stability of Numerical Algorithms*, 2nd ed., eq. 3.5):

    |fl(sum_k a_k b_k) - sum_k a_k b_k| <= gamma_K * sum_k |a_k| |b_k|,     gamma_K = K u / (1 - K u).

Through a chain of such maps (layers) with elementwise factors between them, the relative errors compound as
(1 + theta_j)(1 + theta_k) = 1 + theta_{j+k} (Higham, Lemma 3.3): each computed value lies within gamma_K of its
exact value relative to the *magnitude* M, the same chain computed on absolute values (|x|, |W|, |b|, every
factor replaced by its largest absolute value), where K adds up the chain's accumulation lengths (one more for
each elementwise operation that rounds). Two computations of the same value are each that close to it, so

    |a - b| <= 2 * gamma_K * M.

It is tight enough to catch a real bug: a term dropped or counted twice moves a value by about one term,
~ M / K, far above 2 gamma_K M ~ K eps M while K is well below 1 / sqrt(eps) (6.7e7 in float64).
A nonlinearity keeps the bound only while round-off cannot move a unit across it (a pre-activation within the
bound of 0, a max-pool tie): the tests' random data keep clear of those with overwhelming probability.
"""

from __future__ import annotations

import numpy as np

from saliency_cli.nn import ops


def gamma(k: int, dtype=np.float64) -> float:
    """gamma_k = k u / (1 - k u), u the unit round-off of `dtype`."""
    u = float(np.finfo(dtype).eps) / 2
    assert k * u < 0.5, "the bound needs k u < 1 (and is useless long before)"
    return k * u / (1 - k * u)


def bound(magnitude, terms: int, dtype=np.float64) -> np.ndarray:
    """The largest |a - b| two computations of the same values may show: 2 gamma_terms * magnitude."""
    return 2 * gamma(terms, dtype) * np.asarray(magnitude, dtype=np.float64)


def roundoff_close(a, b, magnitude, terms: int, dtype=np.float64) -> bool:
    """Whether `a` and `b` agree within the round-off bound (NaN where, and only where, the other has NaN)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    nan = np.isnan(a)
    if not np.array_equal(nan, np.isnan(b)):
        return False
    with np.errstate(invalid="ignore"):
        same = nan | (a == b)  # infinities of one sign included
        return bool(np.all(same | (np.abs(a - b) <= bound(magnitude, terms, dtype))))


def assert_roundoff_close(a, b, magnitude, terms: int, dtype=np.float64, what: str = "") -> None:
    """`roundoff_close`, failing with the worst element's difference against its bound."""
    if roundoff_close(a, b, magnitude, terms, dtype):
        return
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    limit = np.broadcast_to(bound(magnitude, terms, dtype), np.broadcast_shapes(a.shape, b.shape))
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(np.isnan(a) != np.isnan(b), np.inf, np.abs(a - b) / limit)
    worst = np.unravel_index(np.nanargmax(ratio), ratio.shape)
    raise AssertionError(
        f"{what or 'values'} differ beyond round-off at {worst}: {a[worst]!r} vs {b[worst]!r}, "
        f"|diff| {abs(a[worst] - b[worst]):.3g} > bound {limit[worst]:.3g} ({terms} terms)"
    )


# -- magnitudes of a network's passes ---------------------------------------------------------------------------


def _abs_params(layer) -> dict:
    return {key: np.abs(value) for key, value in layer.params.items()}


def forward_magnitudes(net, x) -> tuple[list[np.ndarray], list[int]]:
    """The network's forward pass on absolute values: per layer, the magnitude M of its output (what each
    output's terms add up to in absolute value, through the layers before it) and the accumulated number of
    terms K (`bound(M[i], K[i])` bounds two computations of layer i's output)."""
    mags, terms, m, k = [], [], np.abs(np.asarray(x, dtype=np.float64)), 0
    for i, layer in enumerate(net.layers):
        match layer.type:
            case "conv2d":
                p = _abs_params(layer)
                m = ops.conv2d_im2col(m, p["weight"], p["bias"], layer.stride, layer.padding)
                k += layer.in_channels * layer.kernel_size**2 + 1
            case "dense":
                p = _abs_params(layer)
                m = m @ p["weight"].T + p["bias"]
                k += layer.in_features + 1
            case "leaky_relu":
                m = m * max(1.0, abs(layer.negative_slope))
                k += 1
            case "relu" | "flatten":
                m = m.reshape(len(m), *net.shapes[i])
            case "global_avg_pool":
                k += m.shape[2] * m.shape[3] + 1  # the sum, then the division
                m = m.mean(axis=(2, 3))
            case "maxpool2d":
                m = ops.maxpool2d(m, layer.kernel_size, layer.stride)[0]
            case "softmax":  # (the lists end at the logits)
                break
            case other:
                raise NotImplementedError(f"no magnitude rule for {other}")
        mags.append(m)
        terms.append(k)
    return mags, terms


def backward_magnitude(net, dy, stop: int = 0, start: int | None = None) -> tuple[np.ndarray, int]:
    """The input gradient's magnitude for `dy` at the network's output (or at the input of layer `start`), back to
    layer `stop`'s input, with its accumulated number of terms; the leaky_relus' factors taken at their largest,
    max(1, |slope|)."""
    m, k = np.abs(np.asarray(dy, dtype=np.float64)), 0
    for i in range(len(net.layers) - 1 if start is None else start - 1, stop - 1, -1):
        layer = net.layers[i]
        shape = net.shapes[i - 1] if i else net.input_shape
        match layer.type:
            case "conv2d":
                w = np.abs(layer.params["weight"])
                m = ops.conv2d_input_grad_col2im(m, w, (len(m), *shape), layer.stride, layer.padding)
                k += layer.out_channels * layer.kernel_size**2
            case "dense":
                m = m @ np.abs(layer.params["weight"])
                k += layer.out_features
            case "leaky_relu":
                m = m * max(1.0, abs(layer.negative_slope))
                k += 1
            case "relu" | "flatten":
                m = m.reshape(len(m), *shape)
            case "global_avg_pool":
                m = np.broadcast_to(m[:, :, None, None] / (shape[1] * shape[2]), (len(m), *shape))
                k += 1
            case "maxpool2d":  # each window's |dy| to every position of the window: whichever its maximum was
                size, step = layer.kernel_size, layer.stride
                out, (ho, wo) = np.zeros((len(m), *shape)), m.shape[2:]
                for i in range(size):
                    for j in range(size):
                        out[:, :, i : i + step * ho : step, j : j + step * wo : step] += m
                m, k = out, k + (-(-size // step)) ** 2  # overlapping windows add their gradients
            case other:
                raise NotImplementedError(f"no magnitude rule for {other}")
    return m, k
