"""The gradient a global average pool hands to the convolution before it, built a block of rows at a time.

Through a global average pool and the leaky_relu before it, the gradient at a convolution's output is one value
per map times the activation's factor. The convolution's input gradient reads it as its padded input; `Tiles`
stands for that input without writing it out, and the engine (`ops._conv_cm`) builds each block's rows in cache
where its products read them.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Tiles(NamedTuple):
    """values[n, c] * factor[c, n] over each (Hp, Wp) tile's `valid` (H, W) part of `factor` (C, N, Hp, Wp) (a
    leaky_relu's factor on its convolution's grid), zero elsewhere, laid out as the padded input of a fast
    convolution of `padding` whose input is that valid part (which must `ops.handoff_fits`): the backward of a
    global average pool (values = dy / (H * W)) and of the leaky_relu before it, handed to that convolution's
    input gradient. Never written out whole: `ops._conv_cm` builds each block's rows (`rows`) where it reads them.
    """

    values: np.ndarray  # (C, N), in the factor's dtype
    factor: np.ndarray
    valid: tuple[int, int]
    padding: int

    def rows(self, first: int, out: np.ndarray) -> None:
        """The padded input's grid rows first, first + 1, .. (its (C, N * Hp, Wp) rows, then zero rows past the
        last tile) into `out` (C, R, Wp): the same products values * factor as the whole input would hold."""
        c, n, hp, wp = self.factor.shape
        (h, w), q = self.valid, self.padding
        count, size, lead = out.shape[1], hp * wp, q * (wp + 1)
        flat, factor = out.reshape(c, -1), self.factor.reshape(c, -1)
        # the input is the factor's grid shifted by lead (its valid part then sits at rows and columns q ..), times
        # each tile's values: products over the tiles (whole ones in one go), whose columns and rows past the valid
        # part are then zeroed
        at = first * wp - lead  # the grid position of out's first element
        low, high = max(at, 0), min(at + count * wp, n * size)
        flat[:, : max(low - at, 0)] = 0
        flat[:, max(high - at, 0) :] = 0
        for tile, a, b in tile_parts(low, high, size):
            np.multiply(factor[:, a:b], self.values[:, tile, None], out=flat[:, a - at : b - at])
        if (t0 := -(-low // size)) < (t1 := high // size):
            grids = flat[:, t0 * size - at : t1 * size - at].reshape(c, -1, size)
            np.multiply(factor[:, t0 * size : t1 * size].reshape(c, -1, size), self.values[:, t0:t1, None], out=grids)
        out[:, :, :q] = 0
        out[:, :, q + w :] = 0
        # the rows outside every tile's valid band (rows q .. q + h - 1 of each hp): the periods held whole in two
        # strided writes, the parts at either end apart
        for tile, a, b in tile_parts(first, first + count, hp):
            for x, y in ((tile * hp, tile * hp + q), (tile * hp + q + h, (tile + 1) * hp)):
                if max(a, x) < min(b, y):
                    out[:, max(a, x) - first : min(b, y) - first] = 0
        if (p0 := -(-first // hp)) < (p1 := (first + count) // hp):
            periods = out[:, p0 * hp - first : p1 * hp - first].reshape(c, -1, hp, wp)
            periods[:, :, :q] = 0
            periods[:, :, q + h :] = 0


def tile_parts(low: int, high: int, size: int) -> list[tuple[int, int, int]]:
    """The parts of [low, high) in tiles of `size` that it does not hold whole, as (tile, start, stop): none, one
    (both ends in one tile) or two (the first and the last tile); the whole tiles between are the caller's."""
    if low >= high:
        return []
    first, last = low // size, (high - 1) // size
    if first == last:
        return [] if low == first * size and high == (first + 1) * size else [(first, low, high)]
    parts = [] if low == first * size else [(first, low, (first + 1) * size)]
    return parts if high == (last + 1) * size else [*parts, (last, last * size, high)]
