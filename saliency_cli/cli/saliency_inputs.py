"""What `saliency` explains: the score (the probes and their targets are read by `batch`).

Every user mistake becomes a one-line UserError (exit code 2).
"""

from __future__ import annotations

from ..errors import UserError


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
