"""What a removed position is replaced by (deletion, LeRF) and what insertion starts from (a registry).

NOTE: the blur follows Petsiuk et al. (2018), a Gaussian convolution of each channel with zero padding,
but its width is scaled to the image: their kernel (sigma 5 on 224-pixel images) is meant to leave no
object recognisable, and on an 8x8 blob task a sigma of a pixel or two leaves a blob that is still
classified with p = 1.0. Here sigma is BLUR_SCALE times the image's longer side (8 pixels on the
shipped 8x8 tasks), the kernel truncated at 3 sigma: the blob's mass spreads over the whole image and
towards the zero border, and the shipped models give the blurred probes p = 0.50 to 0.56 for their class
(`settings.substrate_probability` reports it for every run).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

#: the blur's standard deviation as a multiple of the image's longer side
BLUR_SCALE = 1.0
#: the kernel is truncated at this many standard deviations
BLUR_TRUNCATE = 3.0


def zero(x: np.ndarray) -> np.ndarray:
    """All zeros."""
    return np.zeros_like(x)


def mean(x: np.ndarray) -> np.ndarray:
    """Each probe's per-channel mean of the input, everywhere in that channel."""
    return np.broadcast_to(x.mean(axis=(2, 3), keepdims=True), x.shape).copy()


def gaussian_kernel(sigma: float, radius: int) -> np.ndarray:
    """A normalised 1-d Gaussian kernel of 2 * radius + 1 taps."""
    t = np.arange(-radius, radius + 1, dtype=np.float64)
    k = np.exp(-0.5 * (t / sigma) ** 2)
    return k / k.sum()


def blur_sigma(shape: tuple[int, ...]) -> float:
    """The blur's sigma in pixels for inputs of `shape` (..., H, W)."""
    return BLUR_SCALE * max(shape[-2:])


def blur(x: np.ndarray) -> np.ndarray:
    """A separable Gaussian blur of each channel of each probe, zero beyond the edges (see the NOTE above)."""
    sigma = blur_sigma(x.shape)
    k = gaussian_kernel(sigma, math.ceil(BLUR_TRUNCATE * sigma))
    r = len(k) // 2
    h, w = x.shape[2:]
    padded = np.pad(x, ((0, 0), (0, 0), (r, r), (0, 0)))
    rows = sum(k[i] * padded[:, :, i : i + h, :] for i in range(len(k)))
    padded = np.pad(rows, ((0, 0), (0, 0), (0, 0), (r, r)))
    return sum(k[i] * padded[:, :, :, i : i + w] for i in range(len(k)))


#: substrate name -> f(x (N, C, H, W)) -> replacement values (N, C, H, W)
SUBSTRATES: dict[str, Callable[[np.ndarray], np.ndarray]] = {"zero": zero, "mean": mean, "blur": blur}

#: a substrate that keeps the explained class's probability above this cannot show anything
USELESS_PROBABILITY = 0.9
