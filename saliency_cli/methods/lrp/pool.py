"""LRP rules for pooling layers: each window's relevance is shared among the window's inputs.

Max pooling shares by fractions f (one per window position, summing to 1 in every window), then
scatters f * R_j back with the engine's col2im, so overlapping windows add up and inputs no
window covers get nothing. Conservation is exact (up to float round-off):

- winner-take-all (default; what the gradient does, and Zennit's treatment of max pooling): f is
  one at the window's winner, the engine's argmax. NOTE: on ties the first maximum in row-major
  order wins, as in the forward pass.
- proportional: f_i = a+_i / sum_window a+, the positive parts of the inputs. After a relu the
  inputs are >= 0 and this is exactly a_i / sum_window a. NOTE: negative inputs cannot be the max
  of a window holding a positive one and get nothing; a window with no positive input (all <= 0,
  its max is <= 0) falls back to winner-take-all, so nothing is ever dropped.

Global average pooling is proportional: R_i = a_i / sum_window a * R_j (the 1/(H W) of the mean
cancels). NOTE: with signed inputs (leaky_relu) a window sum near 0 gives large shares of opposite
sign, which still add up to R_j exactly; a window whose sum is exactly 0 cannot share R_j, which
is dropped and booked as dropped. No stabiliser, so no relevance is lost to one.
"""

from __future__ import annotations

import numpy as np

from ...nn import ops
from .rules import Rule, Shares, _safe_divide, dropped, lift


def _winner_fractions(win: np.ndarray) -> np.ndarray:
    """One-hot over each window (N, C, Ho, Wo, k*k): 1 at the engine's argmax."""
    arg = win.argmax(axis=-1)
    return (np.arange(win.shape[-1]) == arg[..., None]).astype(np.float64)


def _scatter(fractions: np.ndarray, r_out: np.ndarray, x_shape, kernel: int, stride: int) -> np.ndarray:
    """Scatter-add f * R_j (N, C, Ho, Wo, k*k) back onto the (N, C, H, W) input with col2im."""
    n, c, ho, wo, _ = fractions.shape
    shares = fractions * r_out[..., None]
    cols = shares.reshape(n, c, ho, wo, kernel, kernel).transpose(0, 2, 3, 1, 4, 5).reshape(n * ho * wo, -1)
    return ops.col2im(cols, x_shape, kernel, stride, 0)


class MaxPoolRule(Rule):
    """Base of the max-pooling rules: `fractions(windows)` decides how each window shares its R_j."""

    def fractions(self, win: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def propagate(self, layer, a, r_out):
        k, stride = layer.kernel_size, layer.stride
        win = ops.windows(a, k, stride)
        win = win.reshape(*win.shape[:4], k * k)
        r_in = _scatter(self.fractions(win), r_out, a.shape, k, stride)
        return r_in, Shares.none(len(a))


class WinnerTakeAll(MaxPoolRule):
    """Max pooling: each window's relevance goes to its winner (the input the forward pass picked)."""

    name = "winner-take-all"
    summary = "each window's relevance goes to its maximum, as the gradient does"

    def fractions(self, win):
        return _winner_fractions(win)


class ProportionalMax(MaxPoolRule):
    """Max pooling: each window's relevance shared in proportion to the positive parts of its inputs."""

    name = "proportional"
    summary = "each window's relevance shared in proportion to its (positive) inputs"

    def fractions(self, win):
        pos = np.maximum(win, 0.0)
        total = pos.sum(axis=-1, keepdims=True)
        share, _ = _safe_divide(pos, np.broadcast_to(total, pos.shape))
        return np.where(total > 0, share, _winner_fractions(win))


class ProportionalAverage(Rule):
    """Global average pooling: R_i = a_i / sum_window a * R_j; a zero window sum drops R_j (booked)."""

    name = "proportional"
    summary = "each channel's relevance shared in proportion to its inputs"

    def propagate(self, layer, a, r_out):
        a, _ = lift(a)  # NOTE: R_i is unchanged by scaling a sample; tiny sums would overflow R_j / sum
        total = a.sum(axis=(2, 3))  # (N, C)
        s, keep = _safe_divide(r_out, total)
        r_in = a * s[:, :, None, None]
        n = len(a)
        shares = Shares(np.zeros(n), np.zeros(n), dropped(r_out, keep))
        return r_in, shares


#: `--pool-rule` choice -> max-pooling rule class
POOL_RULES: dict[str, type[Rule]] = {"winner": WinnerTakeAll, "proportional": ProportionalMax}
