"""The textbook convolution engine: unfold windows into rows (im2col), one GEMM, scatter-add back (col2im).

Training uses it (so that model files stay byte-identical for a seed on a machine), and it is the reference the fast
channel-major engine in `ops` is tested against; `ops` re-exports everything here.
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
    padded = np.zeros((n, c, h + 2 * padding, w + 2 * padding), dtype=cols.dtype)
    for i in range(kernel):
        for j in range(kernel):
            padded[:, :, i : i + stride * ho : stride, j : j + stride * wo : stride] += cols[
                :, :, :, :, i, j
            ].transpose(0, 3, 1, 2)
    return padded[:, :, padding : padding + h, padding : padding + w]


def conv2d_im2col(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, stride: int, padding: int):
    """Cross-correlation as in PyTorch, by im2col: `x` (N, C, H, W), `weight` (O, C, k, k) -> (N, O, Ho, Wo)."""
    n, _, h, w = x.shape
    out_ch, _, k, _ = weight.shape
    ho, wo = out_size(h, k, stride, padding), out_size(w, k, stride, padding)
    y = im2col(x, k, stride, padding) @ weight.reshape(out_ch, -1).T
    if bias is not None:
        y += bias
    return y.reshape(n, ho, wo, out_ch).transpose(0, 3, 1, 2)


def conv2d_input_grad_col2im(dy: np.ndarray, weight: np.ndarray, x_shape, stride: int, padding: int):
    """d(loss)/dx of `conv2d` given d(loss)/dy (N, O, Ho, Wo), by col2im."""
    out_ch, _, k, _ = weight.shape
    dy_rows = dy.transpose(0, 2, 3, 1).reshape(-1, out_ch)
    return col2im(dy_rows @ weight.reshape(out_ch, -1), x_shape, k, stride, padding)


def conv2d_weight_grad(dy: np.ndarray, x: np.ndarray, weight_shape, stride: int, padding: int):
    """d(loss)/dweight (O, C, k, k) and d(loss)/dbias (O,) of `conv2d`."""
    out_ch, _, k, _ = weight_shape
    dy_rows = dy.transpose(0, 2, 3, 1).reshape(-1, out_ch)
    dw = (dy_rows.T @ im2col(x, k, stride, padding)).reshape(weight_shape)
    return dw, dy_rows.sum(axis=0)
