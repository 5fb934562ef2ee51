"""Stateless array maths shared by the layers, the LRP rules and the tests.

Every function works on a batch laid out as (N, C, H, W) in float64 and loops at most over the
kernel window (kh * kw iterations), never over pixels.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def out_size(size: int, kernel: int, stride: int, padding: int = 0) -> int:
    """Output length of a window of `kernel` sliding by `stride` over `size` + 2 * `padding`."""
    return (size + 2 * padding - kernel) // stride + 1


def windows(x: np.ndarray, kernel: int, stride: int, padding: int = 0) -> np.ndarray:
    """A read-only (N, C, Ho, Wo, kh, kw) view of every kernel window of `x` (N, C, H, W)."""
    if padding:
        x = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    view = sliding_window_view(x, (kernel, kernel), axis=(2, 3))
    return view[:, :, ::stride, ::stride]


def im2col(x: np.ndarray, kernel: int, stride: int, padding: int) -> np.ndarray:
    """Unfold `x` (N, C, H, W) into rows of windows: (N * Ho * Wo, C * kh * kw)."""
    n, c = x.shape[:2]
    win = windows(x, kernel, stride, padding)  # (N, C, Ho, Wo, kh, kw)
    ho, wo = win.shape[2:4]
    return win.transpose(0, 2, 3, 1, 4, 5).reshape(n * ho * wo, c * kernel * kernel)


def col2im(cols: np.ndarray, x_shape: tuple[int, ...], kernel: int, stride: int, padding: int) -> np.ndarray:
    """Adjoint of `im2col`: scatter-add rows of windows back onto an (N, C, H, W) array."""
    n, c, h, w = x_shape
    ho, wo = out_size(h, kernel, stride, padding), out_size(w, kernel, stride, padding)
    cols = cols.reshape(n, ho, wo, c, kernel, kernel)
    padded = np.zeros((n, c, h + 2 * padding, w + 2 * padding))
    for i in range(kernel):
        for j in range(kernel):
            padded[:, :, i : i + stride * ho : stride, j : j + stride * wo : stride] += cols[
                :, :, :, :, i, j
            ].transpose(0, 3, 1, 2)
    return padded[:, :, padding : padding + h, padding : padding + w]


def conv2d(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, stride: int, padding: int):
    """Cross-correlation as in PyTorch: `x` (N, C, H, W), `weight` (O, C, k, k) -> (N, O, Ho, Wo)."""
    n, _, h, w = x.shape
    out_ch, _, k, _ = weight.shape
    ho, wo = out_size(h, k, stride, padding), out_size(w, k, stride, padding)
    y = im2col(x, k, stride, padding) @ weight.reshape(out_ch, -1).T
    if bias is not None:
        y += bias
    return y.reshape(n, ho, wo, out_ch).transpose(0, 3, 1, 2)


def conv2d_input_grad(dy: np.ndarray, weight: np.ndarray, x_shape, stride: int, padding: int):
    """d(loss)/dx of `conv2d` given d(loss)/dy (N, O, Ho, Wo)."""
    out_ch, _, k, _ = weight.shape
    dy_rows = dy.transpose(0, 2, 3, 1).reshape(-1, out_ch)
    return col2im(dy_rows @ weight.reshape(out_ch, -1), x_shape, k, stride, padding)


def conv2d_weight_grad(dy: np.ndarray, x: np.ndarray, weight_shape, stride: int, padding: int):
    """d(loss)/dweight (O, C, k, k) and d(loss)/dbias (O,) of `conv2d`."""
    out_ch, _, k, _ = weight_shape
    dy_rows = dy.transpose(0, 2, 3, 1).reshape(-1, out_ch)
    dw = (dy_rows.T @ im2col(x, k, stride, padding)).reshape(weight_shape)
    return dw, dy_rows.sum(axis=0)


def maxpool2d(x: np.ndarray, kernel: int, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """Max over each window; returns the pooled (N, C, Ho, Wo) and the flat winner index in each window.

    NOTE: on ties the first maximum in row-major window order wins (numpy's argmax), so the
    gradient goes to exactly one input, as in PyTorch.
    """
    win = windows(x, kernel, stride)
    flat = win.reshape(*win.shape[:4], kernel * kernel)
    arg = flat.argmax(axis=-1)
    return np.take_along_axis(flat, arg[..., None], axis=-1)[..., 0], arg


def maxpool2d_input_grad(dy: np.ndarray, arg: np.ndarray, x_shape, kernel: int, stride: int):
    """Route each window's upstream gradient to its winner (overlapping windows accumulate)."""
    ho, wo = dy.shape[2:]
    dx = np.zeros(x_shape)
    for i in range(kernel):
        for j in range(kernel):
            hit = arg == i * kernel + j
            dx[:, :, i : i + stride * ho : stride, j : j + stride * wo : stride] += np.where(hit, dy, 0.0)
    return dx


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax of (N, K) logits, shifted by the row maximum for stability."""
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def log_softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise log-softmax of (N, K) logits."""
    shifted = z - z.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
