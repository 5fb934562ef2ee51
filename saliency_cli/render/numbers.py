"""A mean and its interval written alike: the same decimals, the same notation, the mean inside its interval.

Three decimals, or scientific notation with two significant digits when every one of the three values is
below 1e-3 in magnitude (conservation's round-off). One monotone rounding for all three keeps a mean that
lies in its interval inside the interval as shown; a zero-width interval is said in words.
"""

from __future__ import annotations

import math

#: below this magnitude (all three values) the notation is scientific
TINY = 1e-3


def _fixed(value: float) -> str:
    text = f"{value:.3f}"
    return "0.000" if text == "-0.000" else text


def _tiny(value: float) -> str:
    return f"{value:.1e}"


def formatter(*values: float):
    """The one function every value of a mean and its interval is written with."""
    return _tiny if 0 < max(abs(v) for v in values) < TINY else _fixed


def interval(mean: float, ci, n: int, resamples: int, inline: bool = False) -> str:
    """'0.512 [0.498,0.526]' (on two lines unless `inline`), '1.000 (all probes)' for a zero-width
    interval, the mean alone without resamples, 'n/a' without a value."""
    if n == 0 or mean is None or not math.isfinite(mean):
        return "n/a"
    lo, hi = ci
    fmt = formatter(mean, lo, hi)
    sep = " " if inline else "\n"
    if resamples < 1:
        return fmt(mean)
    if lo == hi:
        return f"{fmt(mean)}{sep}({'1 probe' if n == 1 else 'all probes'})"
    return f"{fmt(mean)}{sep}[{fmt(lo)},{fmt(hi)}]"
