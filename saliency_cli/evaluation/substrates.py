"""What a removed position is replaced by in the deletion and insertion curves (a registry)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

#: Gaussian blur substrate: standard deviation and radius of the kernel, in pixels.
BLUR_SIGMA, BLUR_RADIUS = 1.0, 3


def zero(x: np.ndarray) -> np.ndarray:
    """All zeros."""
    return np.zeros_like(x)


def mean(x: np.ndarray) -> np.ndarray:
    """Each probe's per-channel mean of the input, everywhere in that channel."""
    return np.broadcast_to(x.mean(axis=(2, 3), keepdims=True), x.shape).copy()


def gaussian_kernel(sigma: float = BLUR_SIGMA, radius: int = BLUR_RADIUS) -> np.ndarray:
    """A normalised 1-d Gaussian kernel of 2 * radius + 1 taps."""
    t = np.arange(-radius, radius + 1, dtype=np.float64)
    k = np.exp(-0.5 * (t / sigma) ** 2)
    return k / k.sum()


def blur(x: np.ndarray) -> np.ndarray:
    """A separable Gaussian blur of each channel of each probe (edges repeated outwards)."""
    k = gaussian_kernel()
    r = len(k) // 2
    h, w = x.shape[2:]
    padded = np.pad(x, ((0, 0), (0, 0), (r, r), (0, 0)), mode="edge")
    rows = sum(k[i] * padded[:, :, i : i + h, :] for i in range(len(k)))
    padded = np.pad(rows, ((0, 0), (0, 0), (0, 0), (r, r)), mode="edge")
    return sum(k[i] * padded[:, :, :, i : i + w] for i in range(len(k)))


#: --substrate name -> f(x (N, C, H, W)) -> replacement values (N, C, H, W)
SUBSTRATES: dict[str, Callable[[np.ndarray], np.ndarray]] = {"zero": zero, "mean": mean, "blur": blur}
