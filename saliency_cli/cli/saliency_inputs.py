"""What `saliency` explains: the probes (one, or a batch from a .npy file), their targets and the score.

Every user mistake becomes a one-line UserError (exit code 2).
"""

from __future__ import annotations

import numpy as np

from ..errors import UserError, one_line
from ..inputs import Probe, check_array, check_finite_pass, check_shape, make_probe, read_npy, shape_hint
from ..npy import load_npy_bytes


def load_probes(net, probe: str, probe_seed: int, input_path: str | None, stdin) -> tuple[list[Probe], bool]:
    """The probes to explain and whether they came as a batch.

    A (C, H, W) array (or a built-in probe) is one probe; an (N, C, H, W) array is a batch whose
    probes are named `<file>[i]`.
    """
    if input_path is None:
        return [make_probe(net, probe, probe_seed)], False
    name = "stdin" if input_path == "-" else input_path
    array = read_npy(input_path, stdin)
    if array.ndim == len(net.input_shape) + 1:
        if array.shape[1:] != tuple(net.input_shape) or len(array) == 0:
            raise UserError(
                f"{name}: batch of shape {array.shape} does not match the model's input: "
                f"expected (N, {', '.join(map(str, net.input_shape))}) with N >= 1"
                + (shape_hint(array.shape) if len(array) else "")
            )
        check_finite_pass(net, array, name)
        return [Probe(x=x, source=f"{name}[{i}]") for i, x in enumerate(array)], True
    x = check_shape(array, net.input_shape, name)
    check_finite_pass(net, x[None], name)
    return [Probe(x=x, source=name)], False


#: Longest --targets file read (a text list or .npy array of class indices).
_MAX_TARGETS_BYTES = 16 * 2**20


def read_targets(path: str, n: int, num_classes: int) -> np.ndarray:
    """`--targets FILE`: N class indices, from a .npy array of N integers or a text file of N integers
    separated by white space or commas (lines starting with '#' are comments)."""
    # NOTE: read once, so that a pipe (e.g. bash's <(...)) works too; bounded, so that an endless one cannot
    # exhaust memory.
    try:
        with open(path, "rb") as fh:
            data = fh.read(_MAX_TARGETS_BYTES + 1)
    except FileNotFoundError:
        raise UserError(f"--targets {path}: no such file") from None
    except OSError as exc:
        raise UserError(f"--targets {path}: cannot read ({exc.strerror})") from None
    if len(data) > _MAX_TARGETS_BYTES:
        raise UserError(f"--targets {path}: longer than {_MAX_TARGETS_BYTES:,} bytes")
    if data.startswith(np.lib.format.MAGIC_PREFIX):
        try:
            array = check_array(load_npy_bytes(data), f"--targets {path}")
        except (ValueError, OSError, EOFError) as exc:
            raise UserError(f"--targets {path}: unreadable .npy ({one_line(exc)})") from None
        if array.ndim > 1:
            raise UserError(f"--targets {path}: expected a 1-D array of N class indices, got shape {array.shape}")
        values = array.ravel()
    else:
        try:
            text = " ".join(line.split("#")[0] for line in data.decode("utf-8").splitlines())
            values = np.array([float(v) for v in text.replace(",", " ").split()])
        except (UnicodeDecodeError, ValueError):
            raise UserError(f"--targets {path}: not a .npy array nor a text list of integers") from None
    if len(values) != n:
        raise UserError(f"--targets {path}: {len(values)} targets for {n} probes")
    if not np.all(values == np.round(values)):
        raise UserError(f"--targets {path}: class indices must be integers")
    bad = (values < 0) | (values >= num_classes)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise UserError(
            f"--targets {path}: target {values[i]:g} (probe {i}) is out of range: classes 0..{num_classes - 1}"
        )
    return values.astype(np.int64)


def _array_order(net, layer: str, index):
    """--unit c,x,y (x = column, y = row, as everywhere in the CLI) of a (C, H, W) output, as the array's (c, y, x)."""
    from ..methods.scores import LayerUnit

    if not isinstance(index, tuple) or len(index) != 3:
        return index
    shape = net.shapes[LayerUnit(layer).stop(net)]
    if len(shape) != 3:
        return index
    c, x, y = index
    if not (0 <= c < shape[0] and 0 <= x < shape[2] and 0 <= y < shape[1]):
        name = net.layers[LayerUnit(layer).stop(net)].name
        raise UserError(
            f"--unit c,x,y = {c},{x},{y} does not index layer {name}'s output of {shape[0]} channels of "
            f"{shape[1]}x{shape[2]} (c < {shape[0]}, x < {shape[2]}, y < {shape[1]})"
        )
    return (c, y, x)


def make_score(net, score: str, against: int | None, layer: str | None, unit: str | None, score_given: bool):
    """The Score object for `--score`, `--against`, `--layer` and `--unit`, refusing bad combinations."""
    from ..methods.scores import ClassLogit, ClassProbability, LayerUnit, LogitDifference, parse_unit

    if unit is not None or layer is not None:
        if unit is None:
            raise UserError("--layer needs --unit: the unit of that layer's output to explain")
        if layer is None:
            raise UserError("--unit needs --layer: the layer whose output holds the unit")
        if score_given:
            raise UserError("--layer/--unit explain one unit of a layer: drop --score")
        if against is not None:
            raise UserError("--against goes with --score logit-diff, not with --layer/--unit")
        try:
            index = parse_unit(unit)
        except ValueError as exc:
            raise UserError(f"--unit {exc}") from None
        chosen = LayerUnit(layer, _array_order(net, layer, index))
        chosen.check(net)
        return chosen
    if score == "logit-diff":
        if against is None:
            raise UserError("--score logit-diff needs --against C2: the class whose logit is subtracted")
        chosen = LogitDifference(against)
        chosen.check(net)
        return chosen
    if against is not None:
        raise UserError("--against needs --score logit-diff")
    return ClassProbability() if score == "probability" else ClassLogit()
