"""JSON documents: arrays of every dtype become plain lists, and NaN or infinity becomes null wherever it is."""

from __future__ import annotations

import numpy as np

from saliency_cli.render.jsonout import dumps, to_jsonable


def test_arrays_of_each_kind_become_plain_json_values():
    document = {
        "floats": np.array([[1.5, -0.25], [0.1, 2.0]]),
        "float32": np.array([0.1], dtype=np.float32),
        "ints": np.arange(3, dtype=np.int16),
        "unsigned": np.array([255], dtype=np.uint8),
        "bools": np.array([True, False]),
        "scalars": [np.float64(0.5), np.int64(7), np.bool_(True)],
    }
    assert dumps(document) == (
        '{"floats":[[1.5,-0.25],[0.1,2.0]],"float32":[0.10000000149011612],"ints":[0,1,2],"unsigned":[255],'
        '"bools":[true,false],"scalars":[0.5,7,true]}'
    )
    plain = to_jsonable(document)
    assert type(plain["ints"][0]) is int and type(plain["bools"][0]) is bool and type(plain["float32"][0]) is float


def test_non_finite_values_become_null_in_arrays_and_scalars():
    document = {"map": np.array([[1.0, np.nan], [np.inf, -np.inf]]), "gap": float("nan"), "x": np.float32(np.inf)}
    assert dumps(document) == '{"map":[[1.0,null],[null,null]],"gap":null,"x":null}'
    assert (
        dumps({"rows": [np.array([np.nan]), np.array([2.0])]}, indent=2)
        == '{\n  "rows": [\n    [null],\n    [2.0]\n  ]\n}'
    )
