"""How many IG steps a quadrature needs: its completeness gap and map error against exact IG, per K."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..methods import integrated as IG

#: K = 8, 16, ..., 512.
STEPS = tuple(2**i for i in range(3, 10))


@dataclass
class Convergence:
    """Per quadrature and K: the relative completeness gap and max|IG_K - IG_exact| / max|IG_exact|."""

    steps: tuple[int, ...]
    gap_rel: dict[str, list[float | None]]
    map_error: dict[str, list[float | None]]
    exact_gap_rel: float | None
    exact_pieces: int


def ig_convergence(
    net,
    x,
    target: int,
    baseline,
    steps=STEPS,
    quadratures=tuple(IG.QUADRATURES),
    batch_size: int | None = None,
    score="logit",
) -> Convergence:
    """Run every quadrature at every K on one input x (C, H, W) beside the exact integral (a linear score)."""
    exact, c = IG.integrated_gradients(
        net, x, target, baseline, exact=True, return_completeness=True, batch_size=batch_size, score=score
    )
    scale = float(np.abs(exact).max()) or 1.0
    gaps: dict[str, list] = {q: [] for q in quadratures}
    errors: dict[str, list] = {q: [] for q in quadratures}
    for q in quadratures:
        for k in steps:
            ig, ck = IG.integrated_gradients(
                net,
                x,
                target,
                baseline,
                steps=k,
                quadrature=q,
                return_completeness=True,
                batch_size=batch_size,
                score=score,
            )
            rel = float(ck.gap_rel)
            gaps[q].append(None if np.isnan(rel) else rel)
            errors[q].append(float(np.abs(ig - exact).max()) / scale)
    rel = float(c.gap_rel)
    return Convergence(tuple(steps), gaps, errors, None if np.isnan(rel) else rel, int(c.pieces))
