"""Work and memory bounds, checked from the options and the network's size before any work starts.

A command's cost is about (rows through the network) x (values one row computes in every layer); one
chunk of rows must also fit in memory. Both are bounded here, from the settings alone, with a message
that names the option to lower. (Exact IG's walk is bounded separately by --max-pieces.)
"""

from __future__ import annotations

import math

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

    shape = tuple(net.input_shape)
    total = math.prod(shape)
    for layer, out in zip(net.layers, net.shapes, strict=True):
        total += layer_values(layer, shape, tuple(out))[0]
        shape = tuple(out)
    return total


def _human(n: float) -> str:
    return f"{n:.3g}" if n >= 1e6 else f"{int(n):,}"


def check_work(
    net,
    parts: dict[str, int],
    per_row: int | None = None,
    what: str = "this run",
    hints: dict | None = None,
    limit: int = MAX_WORK,
) -> None:
    """Refuse when the rows of `parts` (option text -> network rows, each a forward and a backward pass)
    times the values per row exceed MAX_WORK; the message names the option with the most rows."""
    per_row = values_per_row(net) if per_row is None else per_row
    hints = hints or {}
    rows = sum(parts.values())
    work = 3 * rows * per_row  # a forward pass and a backward pass (about two forward passes)
    if work <= limit:
        return
    worst = max(parts, key=parts.get)
    allowed = limit // (3 * per_row)
    hint = f" ({hint})" if (hint := hints.get(worst)) else ""
    raise UserError(
        f"{what} would need {_human(rows)} passes through the network ({per_row:,} values each, {_human(work)} in "
        f"all; the limit is {_human(limit)}, about {_human(allowed)} passes): lower {worst}{hint}"
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


def check_saliency_work(net, probes, options, convergence: bool = False):
    """`saliency`'s rows per probe from its options; refused above MAX_WORK. Returns the chunk size."""
    from ..methods.integrated import QUADRATURES

    n_probes = len(probes)
    per_row = values_per_row(net)
    hints: dict[str, str] = {}
    parts = {"the number of probes": n_probes}
    if "smoothgrad" in options.methods:
        parts["--samples"] = n_probes * options.samples
    if "ig" in options.methods:
        copies = max(1, options.smooth)
        if options.quadrature == "exact":
            # NOTE: per path, one walk step and one gradient row per linear piece; the pieces are known only by
            # walking (each path stops at --max-pieces), so the first probe's path stands for all of them.
            pieces = exact_pieces_estimate(net, probes[0].x, options, n_probes * copies, per_row)
            worst = "--smooth" if options.smooth else "the number of probes"
            parts[worst] = n_probes * copies * 2 * pieces
            hints[worst] = f"exact IG takes {pieces:,} linear pieces per path here; or use --quadrature right --steps K"
        else:
            points = options.steps + (1 if options.quadrature == "trapezoid" else 0)
            parts["--smooth" if options.smooth and copies > points else "--steps"] = n_probes * copies * points
    if convergence:
        parts["--convergence"] = sum(k + 1 for k in (8, 16, 32, 64, 128, 256, 512)) * len(QUADRATURES)
    check_work(net, parts, per_row, "these settings", hints)
    return chunk_rows(net, options.batch_size, per_row)


def check_cam_work(net, n_probes: int, n_methods: int, smooth: int | None) -> None:
    """`cam`: one forward and backward pass per probe and method, times --smooth's copies (one batch each)."""
    per_row = values_per_row(net)
    parts = {"the number of probes": n_probes * n_methods}
    if smooth:
        parts["--smooth"] = n_probes * n_methods * smooth
    check_work(net, parts, per_row, "these settings")
    # NOTE: the noisy copies of a probe go through as one batch (not chunked).
    if smooth and smooth * per_row > MAX_CHUNK_VALUES:
        raise UserError(
            f"--smooth {smooth} would hold {_human(smooth * per_row)} values at once ({per_row:,} per copy; at most "
            f"{_human(MAX_CHUNK_VALUES)}): use --smooth {MAX_CHUNK_VALUES // per_row} or less"
        )


def check_cost_work(net, methods, steps: int, samples: int, repeats: int) -> None:
    """`cost`: every method runs --repeats + 2 times (timed runs, a warm-up, a traced run), all rows at once
    up to DEFAULT_ROWS per chunk."""
    per_row = values_per_row(net)
    runs = repeats + 2
    parts = {"--repeats": runs * len(methods) + max(repeats, 5)}
    if "smoothgrad" in methods:
        parts["--samples"] = runs * samples
    if "ig" in methods:
        parts["--steps"] = runs * steps
    check_work(net, parts, per_row, "these settings")
    widest = max(samples if "smoothgrad" in methods else 1, steps if "ig" in methods else 1)
    chunk = min(widest, DEFAULT_ROWS)
    if chunk * per_row > MAX_CHUNK_VALUES:
        raise UserError(
            f"one pass of {chunk} rows would hold {_human(chunk * per_row)} values at once ({per_row:,} per row; "
            f"at most {_human(MAX_CHUNK_VALUES)}): lower --size, --steps or --samples"
        )


#: Exact IG's pieces per path assumed when bounding `evaluate` up front (its `auto` rule picks exact IG only on
#: networks whose paths have tens of pieces; each path is still stopped at --max-pieces).
EXACT_PIECES_GUESS = 64
#: `evaluate` scores many probes with every method: its bound is 8 x MAX_WORK (its default runs on the shipped
#: models need 0.1-6e9 values and take 5-15 s of CPU; 100,000 probes would need hours).
MAX_EVALUATE_WORK = 8 * MAX_WORK
#: Most bootstrap indices held at once (--resamples x probes): 2^26, 512 MiB as int64.
MAX_BOOTSTRAP = 2**26


def check_evaluate_work(net, n_probes: int, methods, metrics, options, steps: int, resamples: int) -> None:
    """`evaluate`: each method's map rows, again on every MPRT model and for another class, plus the
    deletion/insertion/LeRF curves' rows; refused above MAX_WORK naming the option with the most rows."""
    from ..evaluation.sanity import parameter_layers

    sanity = ("mprt" in metrics) * len(parameter_layers(net)) + ("random-logit" in metrics)
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
    check_work(net, {"--probes": n_probes * rows}, None, "these settings", {"--probes": hint}, MAX_EVALUATE_WORK)
    if resamples * n_probes > MAX_BOOTSTRAP:
        raise UserError(
            f"--resamples {resamples} over {n_probes:,} probes would hold {_human(resamples * n_probes)} bootstrap "
            f"indices (at most {_human(MAX_BOOTSTRAP)}): use --resamples {MAX_BOOTSTRAP // n_probes} or fewer probes"
        )
