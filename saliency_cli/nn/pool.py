"""Max pooling: each window's maximum and its winner (the first maximum, as argmax), and the gradient routed to it.

Non-overlapping windows (kernel == stride, the usual 2 x 2) are copied once into rows, one per window position,
so that the merges run on contiguous arrays; overlapping windows are merged on strided views; inputs with NaN
take argmax itself (its NaN rule). The backward of non-overlapping windows is one scatter to the winners.
"""

from __future__ import annotations

import numpy as np

from .im2col import out_size, windows


def maxpool2d(x: np.ndarray, kernel: int, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """Max over each window; returns the pooled (N, C, Ho, Wo) and the flat winner index in each window.

    NOTE: on ties the first maximum in row-major window order wins (numpy's argmax), so the
    gradient goes to exactly one input, as in PyTorch; a NaN wins as with argmax (the first NaN).
    """
    if np.isnan(x).any():  # NOTE: argmax's NaN rule (the first NaN wins), kept exactly on the slow path
        win = windows(x, kernel, stride)
        flat = win.reshape(*win.shape[:4], kernel * kernel)
        arg = flat.argmax(axis=-1)
        return np.take_along_axis(flat, arg[..., None], axis=-1)[..., 0], arg
    n, c = x.shape[:2]
    ho, wo = out_size(x.shape[2], kernel, stride), out_size(x.shape[3], kernel, stride)
    if kernel == stride:
        # Windows that do not overlap: one copy puts window position t's values in row t of (k * k, N * C * Ho * Wo),
        # so that the merges below run on contiguous rows (strided views of small images run ~10x slower).
        tiles = x[:, :, : ho * kernel, : wo * kernel].reshape(n, c, ho, kernel, wo, kernel)
        rows = np.empty((kernel, kernel, n, c, ho, wo), dtype=x.dtype)
        np.copyto(rows, tiles.transpose(3, 5, 0, 1, 2, 4))
        groups = [(row, t) for t, row in enumerate(rows.reshape(kernel * kernel, -1))]
    else:
        groups = [
            (x[:, :, i : i + stride * (ho - 1) + 1 : stride, j : j + stride * (wo - 1) + 1 : stride], i * kernel + j)
            for i in range(kernel)
            for j in range(kernel)
        ]
    y, arg = _first_maximum(groups)
    return y.reshape(n, c, ho, wo), np.asarray(arg, dtype=np.intp).reshape(n, c, ho, wo)


def _first_maximum(groups: list[tuple[np.ndarray, np.ndarray | int]]) -> tuple[np.ndarray, np.ndarray | int]:
    """The element-wise maximum of arrays (values, index) in order and the index of the first one that reaches it.

    Adjacent groups are merged pairwise as a tournament: the right one wins only when strictly greater, so each
    merge keeps its two groups' first maximum, and the last one is the first maximum of all, as argmax (without
    NaN). The value is the winner's own element (signed zeros too).

    NOTE: without branches (np.where's select costs ~5x as much when the winners follow no pattern):
    np.maximum(right, left) returns its second argument on a tie, left, so it is the winner's element, and the
    index is at_left + better * (at_right - at_left).
    """
    while len(groups) > 1:
        merged = []
        for (left, at_left), (right, at_right) in zip(groups[::2], groups[1::2], strict=False):
            better = right > left
            merged.append((np.maximum(right, left), at_left + better * (at_right - at_left)))
        groups = merged + groups[len(merged) * 2 :]
    y, arg = groups[0]
    return (y.copy(), np.zeros(y.shape, dtype=np.intp)) if isinstance(arg, int) else (y, arg)


def maxpool2d_input_grad(dy: np.ndarray, arg: np.ndarray, x_shape, kernel: int, stride: int):
    """Route each window's upstream gradient to its winner (overlapping windows accumulate)."""
    n, c, ho, wo = dy.shape
    if kernel == stride:
        # NOTE: windows that do not overlap: every winner is a distinct input, so one scatter of dy to the
        # winners' flat indices (window start + the winner's offset in its window) fills dx; 0.0 + dy as the
        # accumulating loop below gives (-0.0 becomes 0.0).
        h, w = x_shape[2:]
        offsets = (np.arange(kernel)[:, None] * w + np.arange(kernel)).reshape(-1)
        starts = (np.arange(ho)[:, None] * (kernel * w) + np.arange(wo) * kernel).reshape(-1)
        at = offsets.take(arg.reshape(n * c, ho * wo)) + starts + (np.arange(n * c) * (h * w))[:, None]
        dx = np.zeros(x_shape, dtype=dy.dtype)
        dx.reshape(-1)[at.reshape(-1)] = dy.reshape(-1) + 0.0
        return dx
    dx = np.zeros(x_shape, dtype=dy.dtype)
    for i in range(kernel):
        for j in range(kernel):
            hit = arg == i * kernel + j
            dx[:, :, i : i + stride * ho : stride, j : j + stride * wo : stride] += np.where(hit, dy, 0.0)
    return dx
