"""Work and memory bounds, checked from the options and the network's size before any work starts.

A command's cost is about (rows through the network) x (values one row computes in every layer); one
chunk of rows must also fit in memory. Both are bounded here, from the settings alone, with a message
that names the option to lower. (Exact IG's walk is bounded separately by --max-pieces.)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import UserError

#: Most activation values a command may compute (rows x values per row, a backward pass counted as two
#: forward passes): 2^32, about a minute on one core of the test machine (2-5e7 values per second).
MAX_WORK = 2**32
#: Most activation values one chunk of rows may hold at once: 2^27, 1 GiB as float64 (a few times that
#: with the cached inputs and gradients of each layer).
MAX_CHUNK_VALUES = 2**27
#: Rows per chunk when --batch-size is not given (methods/gradients' DEFAULT_ROWS), lowered to fit.
DEFAULT_ROWS = 1024


def values_per_row(net) -> int:
    """Values one input row makes the network compute: the input plus, per layer, the most it builds."""
    from ..nn.limits import layer_values

    if hasattr(net, "values_per_row"):  # a graph
        return net.values_per_row()
    shape = tuple(net.input_shape)
    total = math.prod(shape)
    for layer, out in zip(net.layers, net.shapes, strict=True):
        total += layer_values(layer, shape, tuple(out))[0]
        shape = tuple(out)
    return total


def _human(n: float) -> str:
    return f"{n:.3g}" if n >= 1e6 else f"{int(n):,}"


@dataclass(frozen=True)
class Knob:
    """An option that sizes a run: its value, whether the user gave it (else it is the default), and whether
    the run fits the bounds with another value of it (the other options as they are)."""

    value: int
    given: bool
    fits: Callable[[int], bool]


def advice(option: str, knob: Knob | None) -> str:
    """What to change: `option`'s largest value that fits, saying when the value in force is a default."""
    if knob is None:
        return f"lower {option}"
    low, high = 0, knob.value - 1  # NOTE: the larger the value, the more work: the largest that fits by bisection
    while low < high:
        mid = (low + high + 1) // 2
        low, high = (mid, high) if knob.fits(mid) else (low, mid - 1)
    if low < 1:
        return f"lower {option} and the other options"
    if knob.given:
        return f"lower {option} to {low:,} or less"
    return f"{option} is {knob.value:,} by default: give {option} {low:,} or less"


def check_work(
    net,
    parts: dict[str, int],
    per_row: int | None = None,
    what: str = "this run",
    hints: dict | None = None,
    limit: int = MAX_WORK,
    knobs: dict[str, Knob] | None = None,
) -> int:
    """Refuse when the rows of `parts` (option text -> network rows, each a forward and a backward pass)
    times the values per row exceed MAX_WORK; the message names the option with the most rows and, for
    the options in `knobs`, the largest value that fits (and whether the value in force is a default).
    Returns the work counted (values computed)."""
    per_row = values_per_row(net) if per_row is None else per_row
    hints = hints or {}
    rows = sum(parts.values())
    work = 3 * rows * per_row  # a forward pass and a backward pass (about two forward passes)
    if work <= limit:
        return work
    worst = max(parts, key=parts.get)
    allowed = limit // (3 * per_row)
    hint = f" ({hint})" if (hint := hints.get(worst)) else ""
    raise UserError(
        f"{what} would need {_human(rows)} passes through the network ({per_row:,} values each, {_human(work)} in "
        f"all; the limit is {_human(limit)}, about {_human(allowed)} passes): "
        f"{advice(worst, (knobs or {}).get(worst))}{hint}"
    )


def chunk_rows(net, batch_size: int | None, per_row: int | None = None, option: str = "--batch-size") -> int:
    """Rows per chunk: --batch-size if given and it fits MAX_CHUNK_VALUES (else refused), or the largest
    default up to DEFAULT_ROWS that fits."""
    per_row = values_per_row(net) if per_row is None else per_row
    fits = max(1, MAX_CHUNK_VALUES // per_row)
    if batch_size is None:
        return min(DEFAULT_ROWS, fits)
    if batch_size > fits:
        raise UserError(
            f"{option} {batch_size} would hold {_human(batch_size * per_row)} values at once "
            f"({per_row:,} per row; at most {_human(MAX_CHUNK_VALUES)}): use {option} {fits} or less"
        )
    return batch_size


def exact_pieces_estimate(net, probe_x, options, paths: int, per_row: int) -> int:
    """Linear pieces per path to plan exact IG's work with: --max-pieces when even that fits MAX_WORK for
    every path, else the first probe's path walked (cheap: one row per step; TooManyPieces past the cap)."""
    import numpy as np

    from ..methods import exact_ig
    from ..methods.integrated import make_baseline
    from ..methods.scores import as_score

    cap = options.max_pieces or exact_ig.MAX_PIECES
    if 3 * paths * 2 * cap * per_row <= MAX_WORK:
        return cap
    x = np.asarray(probe_x, dtype=np.float64)[None]
    base = make_baseline(x, options.baseline)
    ts = exact_ig.breakpoints(net, x[0], base[0], as_score(options.score).stop(net), cap)
    return len(ts) - 1


def check_saliency_work(net, probes, options, convergence: bool = False, given=()):
    """`saliency`'s rows per probe from its options; refused above MAX_WORK. Returns the chunk size.

    `given` names the options the user gave (an error says which value in force is a default)."""
    from dataclasses import replace

    from ..methods.integrated import QUADRATURES

    n_probes = len(probes)
    per_row = values_per_row(net)
    copies = max(1, options.smooth)
    pieces = 0
    if "ig" in options.methods and options.quadrature == "exact":
        pieces = exact_pieces_estimate(net, probes[0].x, options, n_probes * copies, per_row)

    def parts_of(options, n_probes: int = n_probes) -> dict[str, int]:
        copies = max(1, options.smooth)
        parts = {"the number of probes": n_probes}
        if "smoothgrad" in options.methods:
            parts["--samples"] = n_probes * options.samples
        if "ig" in options.methods:
            if options.quadrature == "exact":
                # NOTE: per path, one walk step and one gradient row per linear piece; the pieces are known only
                # by walking (each path stops at --max-pieces), so the first probe's path stands for all of them.
                parts["--smooth" if options.smooth else "the number of probes"] = n_probes * copies * 2 * pieces
            else:
                points = options.steps + (1 if options.quadrature == "trapezoid" else 0)
                parts["--smooth" if options.smooth and copies > points else "--steps"] = n_probes * copies * points
        if convergence:
            parts["--convergence"] = sum(k + 1 for k in (8, 16, 32, 64, 128, 256, 512)) * len(QUADRATURES)
        return parts

    def fits(n_probes: int = n_probes, **changed) -> bool:
        return 3 * sum(parts_of(replace(options, **changed), n_probes).values()) * per_row <= MAX_WORK

    knobs = {
        f"--{name}": Knob(getattr(options, name), name in given, lambda v, name=name: fits(**{name: v}))
        for name in ("samples", "steps", "smooth")
    }
    knobs["the number of probes"] = Knob(n_probes, True, lambda v: fits(v))
    hints: dict[str, str] = {}
    if pieces:
        worst = "--smooth" if options.smooth else "the number of probes"
        right = sum(parts_of(replace(options, quadrature="right")).values())
        fits_right = " and fits" if 3 * right * per_row <= MAX_WORK else ", also too many"
        hints[worst] = (
            f"exact IG takes {pieces:,} linear piece{'' if pieces == 1 else 's'} per path here; "
            f"--quadrature right --steps {options.steps} "
            f"needs {_human(right)} passes{fits_right}"
        )
    check_work(net, parts_of(options), per_row, "these settings", hints, knobs=knobs)
    return chunk_rows(net, options.batch_size, per_row)


def check_cam_work(net, n_probes: int, n_methods: int, smooth: int | None) -> None:
    """`cam`: one forward and backward pass per probe and method, times --smooth's copies (one batch each)."""
    per_row = values_per_row(net)

    def parts_of(smooth: int | None) -> dict[str, int]:
        parts = {"the number of probes": n_probes * n_methods}
        if smooth:
            parts["--smooth"] = n_probes * n_methods * smooth
        return parts

    knobs = {"--smooth": Knob(smooth or 0, True, lambda v: 3 * sum(parts_of(v).values()) * per_row <= MAX_WORK)}
    check_work(net, parts_of(smooth), per_row, "these settings", knobs=knobs)
    # NOTE: the noisy copies of a probe go through as one batch (not chunked).
    if smooth and smooth * per_row > MAX_CHUNK_VALUES:
        raise UserError(
            f"--smooth {smooth} would hold {_human(smooth * per_row)} values at once ({per_row:,} per copy; at most "
            f"{_human(MAX_CHUNK_VALUES)}): use --smooth {MAX_CHUNK_VALUES // per_row} or less"
        )


def check_cost_work(net, methods, steps: int, samples: int, repeats: int, given=(), sized: bool = False) -> None:
    """`cost`: every method runs --repeats + 2 times (timed runs, a warm-up, a traced run), all rows at once
    up to DEFAULT_ROWS per chunk. `given` names the options the user gave; `sized`: --size was given."""
    per_row = values_per_row(net)

    def parts_of(steps: int, samples: int, repeats: int) -> dict[str, int]:
        runs = repeats + 2
        parts = {"--repeats": runs * len(methods) + max(repeats, 5)}
        if "smoothgrad" in methods:
            parts["--samples"] = runs * samples
        if "ig" in methods:
            parts["--steps"] = runs * steps
        return parts

    def chunk_of(steps: int, samples: int) -> int:
        widest = max(samples if "smoothgrad" in methods else 1, steps if "ig" in methods else 1)
        return min(widest, DEFAULT_ROWS)

    def fits(steps: int, samples: int, repeats: int) -> bool:
        work = 3 * sum(parts_of(steps, samples, repeats).values()) * per_row
        return work <= MAX_WORK and chunk_of(steps, samples) * per_row <= MAX_CHUNK_VALUES

    knobs = {
        "--steps": Knob(steps, "steps" in given, lambda v: fits(v, samples, repeats)),
        "--samples": Knob(samples, "samples" in given, lambda v: fits(steps, v, repeats)),
        "--repeats": Knob(repeats, "repeats" in given, lambda v: fits(steps, samples, v)),
    }
    parts = parts_of(steps, samples, repeats)
    hint = "or a smaller --size" if sized else ""
    check_work(net, parts, per_row, "these settings", dict.fromkeys(parts, hint), knobs=knobs)
    chunk = chunk_of(steps, samples)
    if chunk * per_row > MAX_CHUNK_VALUES:
        widest = "--steps" if "ig" in methods and chunk == min(steps, DEFAULT_ROWS) else "--samples"
        raise UserError(
            f"one pass of {chunk} rows would hold {_human(chunk * per_row)} values at once ({per_row:,} per row; "
            f"at most {_human(MAX_CHUNK_VALUES)}): {advice(widest, knobs[widest])}{f' ({hint})' if hint else ''}"
        )


#: Exact IG's pieces per path assumed when bounding `evaluate` up front (its `auto` rule picks exact IG only on
#: networks whose paths have tens of pieces; each path is still stopped at --max-pieces).
EXACT_PIECES_GUESS = 64
#: `evaluate` scores many probes with every method: its bound is 8 x MAX_WORK (its default runs on the shipped
#: models need 0.1-6e9 values and take 5-15 s of CPU; 100,000 probes would need hours).
MAX_EVALUATE_WORK = 8 * MAX_WORK
#: Most bootstrap indices held at once (--resamples x probes): 2^26, 512 MiB as int64.
MAX_BOOTSTRAP = 2**26


def check_evaluate_work(net, n_probes: int, settings) -> int:
    """`evaluate` with `settings` (evaluation.run.Settings): each method's map rows, again on every MPRT model of
    every draw and for another class, plus the deletion/insertion/LeRF curves' rows; refused above MAX_WORK naming
    the option with the most rows. Returns the work (values computed, as `check_work` counts them)."""
    methods, metrics, options, steps = settings.methods, settings.metrics, settings.options, settings.steps
    resamples, draws = settings.resamples, settings.draws
    from ..evaluation.sanity import parameter_layers

    mprt = bool({"mprt", "mprt-signed"} & set(metrics))
    logit = bool({"random-logit", "random-logit-signed"} & set(metrics))
    sanity = mprt * draws * len(parameter_layers(net)) + logit
    # NOTE: the three curves' rows are forward passes only (a third of a forward and backward row each).
    curves = steps + 1 if {"deletion", "insertion", "abpc"} & set(metrics) else 0
    ig = "ig" in methods
    ig_points = 0
    if ig:
        rule = options.ig_quadrature(net)
        ig_points = 2 * EXACT_PIECES_GUESS if rule == "exact" else options.ig_steps + (rule == "trapezoid")
    smooth = options.samples if "smoothgrad" in methods else 0
    plain = sum(1 for m in methods if m not in ("ig", "smoothgrad", "random", "input"))
    per_probe = {
        "--methods": (1 + sanity) * plain,
        "--samples": (1 + sanity) * smooth,
        "--ig-steps" if ig_points and options.ig_quadrature(net) != "exact" else "--methods ig": (1 + sanity)
        * ig_points,
        "--steps": curves * len(methods),
        "--metrics": 0,
    }
    if sanity:
        per_probe["--metrics"] = sanity * (plain + smooth + ig_points)
    rows = sum(per_probe.values())
    most = max(per_probe, key=per_probe.get)
    hint = f"each probe takes {rows:,} passes, most of them from {most}"
    work = check_work(net, {"--probes": n_probes * rows}, None, "these settings", {"--probes": hint}, MAX_EVALUATE_WORK)
    if resamples * n_probes > MAX_BOOTSTRAP:
        raise UserError(
            f"--resamples {resamples} over {n_probes:,} probes would hold {_human(resamples * n_probes)} bootstrap "
            f"indices (at most {_human(MAX_BOOTSTRAP)}): use --resamples {MAX_BOOTSTRAP // n_probes} or fewer probes"
        )
    return work
