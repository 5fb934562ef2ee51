"""IG's completeness check for one probe: sum(map) against score(x) - score(baseline), with a verdict.

The verdict's threshold is GAP_OK unless the user gives --max-gap; text, JSON and the exit code all read
the same `CompletenessCheck`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..methods import integrated as IG

#: IG's completeness verdict is OK when the relative gap is below this.
GAP_OK = 0.05

#: What completeness means for SmoothGrad over IG (see `gradients.smooth_integrated_gradients`).
SMOOTH_COMPLETENESS = (
    "smooth IG: sum(map) against the mean over the noisy copies of score(copy) - score(baseline); "
    "score(x) - score(baseline) of the clean input is not conserved (see score_clean)"
)


@dataclass
class CompletenessCheck:
    """sum(IG) against score(x) - score(x') for one probe, with a verdict."""

    sum: float
    score_input: float
    score_baseline: float
    delta: float
    gap_abs: float
    gap_rel: float | None
    note: str | None
    pieces: int | None = None  # exact IG: linear pieces along the path (all copies' paths for smooth IG)
    score_clean: float | None = None  # smooth IG: score(x) of the clean input (score_input is the copies' mean)
    threshold: float = GAP_OK  # the relative gap the verdict is judged against
    user_threshold: bool = False  # True when the threshold is the user's --max-gap

    @property
    def ok(self) -> bool:
        """Relative gap below GAP_OK, or at most the user's --max-gap (when delta is 0: no gap at all)."""
        if self.user_threshold:
            return not self.exceeds(self.threshold)
        return self.gap_abs == 0.0 if self.gap_rel is None else self.gap_rel < self.threshold

    def exceeds(self, max_gap: float) -> bool:
        """Whether the relative gap is above `max_gap`; an undefined relative gap counts as infinite
        unless the absolute gap is exactly 0."""
        return self.gap_abs > 0.0 if self.gap_rel is None else self.gap_rel > max_gap

    @property
    def verdict(self) -> str:
        return "OK" if self.ok else "LARGE"


def completeness_check(c: IG.Completeness, max_gap: float | None = None) -> CompletenessCheck:
    """One probe's `IG.Completeness` figures as a check judged against GAP_OK or the user's --max-gap."""
    rel = float(c.gap_rel)
    undefined = math.isnan(rel)
    return CompletenessCheck(
        sum=float(c.sum),
        score_input=float(c.score_input),
        score_baseline=float(c.score_baseline),
        delta=float(c.delta),
        gap_abs=float(c.gap_abs),
        gap_rel=None if undefined else rel,
        note="score(input) equals score(baseline), so the relative gap is undefined; see gap_abs"
        if undefined
        else None,
        pieces=None if c.pieces is None else int(c.pieces),
        score_clean=None if c.score_clean is None else float(c.score_clean),
        threshold=GAP_OK if max_gap is None else float(max_gap),
        user_threshold=max_gap is not None,
    )
