"""The words around the numbers: --max-gap verdicts, the logit-diff header, one coordinate order, number formats."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from saliency_cli.inputs import make_probe
from saliency_cli.render.tables import num, percent, sci


def _ig_check(stdout: str) -> dict:
    return json.loads(stdout)["methods"]["integrated_gradients"]["completeness"]


def test_max_gap_is_the_verdicts_threshold_in_text_json_and_exit_code(run):
    args = ("saliency", "--quadrature", "right", "--steps", "4")
    check = _ig_check(run(*args, "--format", "json").stdout)
    gap = check["gap_rel"]
    assert 0.01 < gap < 0.05 and check["verdict"] == "OK" and check["threshold"] == 0.05  # the default: below 5%

    strict = run(*args, "--max-gap", "0.01", "--format", "json")
    doc = _ig_check(strict.stdout)
    assert strict.exit_code == 1 and doc["verdict"] == "LARGE" and doc["threshold"] == 0.01
    assert doc["threshold_source"] == "--max-gap"
    text = run(*args, "--max-gap", "0.01")
    assert text.exit_code == 1
    shown = f"{gap * 100:.2f}%"  # 3 significant digits: e.g. 3.05%
    assert re.search(rf"\({re.escape(shown)}\) LARGE \(above --max-gap 1%\)", " ".join(text.stdout.split()))
    assert "OK" not in text.stdout.split("IG completeness")[1].split("model weights")[0]
    assert f"IG completeness gap {shown} exceeds --max-gap 1%" in " ".join(text.stderr.split())
    assert str(gap) not in text.stderr and str(gap) not in text.stdout  # no 0.030496276241701495

    loose = run(*args, "--max-gap", "0.04")
    assert loose.exit_code == 0 and "OK (at most --max-gap 4%)" in " ".join(loose.stdout.split())
    assert _ig_check(run(*args, "--max-gap", "0.04", "--format", "json").stdout)["threshold"] == 0.04


def test_the_logit_diff_header_says_which_class_is_predicted(run):
    out = " ".join(run("saliency", "--score", "logit-diff", "--against", "1", "--methods", "vanilla").stdout.split())
    assert "the logit of class 0 (top-left; the predicted class) minus the logit of class 1 (bottom-right)" in out
    assert "class 1, the predicted class" not in out
    forced = " ".join(run("saliency", "--score", "logit-diff", "--against", "0", "-c", "1").stdout.split())
    assert "class 1 (bottom-right; forced with --target) minus the logit of class 0 (top-left)" in forced


def test_unit_is_channel_x_y_as_the_top_pixels_are(run, shipped):
    net = shipped("blobs8x8")
    doc = json.loads(run("saliency", "--format", "json", "--layer", "conv1", "--unit", "2,6,1").stdout)
    e = doc["explained"]
    assert e["unit_at"] == {"channel": 2, "x": 6, "y": 1} and e["unit_index"] == [2, 6, 1]
    assert e["unit"] == np.ravel_multi_index((2, 1, 6), (8, 8, 8))  # array order (c, y, x): row 1, column 6
    x = make_probe(net, "clean").x
    assert e["value"] == pytest.approx(net.forward(x[None], stop=0)[0, 2, 1, 6])
    text = " ".join(run("saliency", "--layer", "conv1", "--unit", "2,6,1", "--methods", "vanilla").stdout.split())
    assert "(c,x,y = 2,6,1) of layer conv1" in text
    bad = run("saliency", "--layer", "conv1", "--unit", "0,8,0")
    assert bad.exit_code == 2 and "x < 8" in bad.stderr
    # the top pixel's x is its column and y its row in the map the JSON gives
    vanilla = np.asarray(json.loads(run("saliency", "--format", "json").stdout)["methods"]["vanilla"]["attribution"])
    top = json.loads(run("saliency", "--format", "json").stdout)["methods"]["vanilla"]["top_k"][0]
    assert vanilla[top["channel"], top["y"], top["x"]] == pytest.approx(np.abs(vanilla).max())


def test_batch_table_names_its_coordinate_order(run, tmp_path):
    from saliency_cli.tasks import TASKS

    x, _, _ = TASKS["blobs8x8"].sample(3, np.random.default_rng(0))
    np.save(tmp_path / "b.npy", x)
    out = run("saliency", "--input", tmp_path / "b.npy", "--methods", "vanilla").stdout
    assert "top c,x,y" in out and "x = column, y = row" in " ".join(out.split())


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1.12, "1.120"),
        (0.8642, "0.8642"),
        (0.841, "0.8410"),
        (15.46, "15.46"),
        (6.375, "6.375"),
        (1.05e-06, "1.050e-06"),
        (-0.00012, "-1.200e-04"),
        (12345.6, "12346"),
        (2.5e7, "2.500e+07"),
        (0.0, "0"),
        (3, "3"),
        (np.int64(7), "7"),
        (None, "—"),
        (float("nan"), "nan"),
    ],
)
def test_num_keeps_the_same_significant_digits(value, text):
    assert num(value) == text


def test_sci_and_percent():
    assert sci(1.04984671049099e-06) == "1.05e-06"
    assert sci(0.030496276241701495) == "3.05e-02"
    assert percent(0.51) == "51%" and percent(None) == "—"


@pytest.mark.parametrize(
    ("mean", "ci", "n", "text"),
    [
        (0.998, (0.9951, 1.0), 200, "0.998 [0.995,1.000]"),  # not "0.998 [1.00,1.00]"
        (0.1774, (0.1762, 0.1787), 200, "0.177 [0.176,0.179]"),
        (0.029, (-0.0021, 0.0604), 200, "0.029 [-0.002,0.060]"),  # one notation, not "[-2e-03,.06]"
        (4.1e-16, (3.4e-16, 4.93e-16), 200, "4.1e-16 [3.4e-16,4.9e-16]"),
        (-0.0002, (-0.0011, 0.02), 200, "0.000 [-0.001,0.020]"),  # no "-0.000"
        (1.0, (1.0, 1.0), 200, "1.000 (all probes)"),
        (0.25, (0.25, 0.25), 1, "0.250 (1 probe)"),
        (0.25, (0.25, 0.25), 5, "0.250 (all probes)"),
        (float("nan"), (float("nan"),) * 2, 0, "n/a"),
    ],
)
def test_a_mean_and_its_interval_read_alike(mean, ci, n, text):
    from saliency_cli.render.numbers import interval

    assert interval(mean, ci, n, 1000, inline=True) == text
    assert interval(mean, ci, n, 1000) == text.replace(" ", "\n", 1) if n else True
    assert interval(0.5, (0.4, 0.6), 10, 0) == "0.500"  # no resamples, no interval


@settings(max_examples=200, deadline=None)
@given(st.floats(-2, 2), st.floats(0, 1), st.floats(0, 1))
def test_a_shown_mean_lies_inside_its_shown_interval(lo, a, b):
    from saliency_cli.render.numbers import interval

    hi = lo + a * 10 ** (-6 * b)
    mean = lo + (hi - lo) * b
    shown = interval(mean, (lo, hi), 10, 100, inline=True)
    if "[" in shown:
        m, rest = shown.split(" ", 1)
        texts = [m, *rest.strip("[]").split(",")]
        low, high = (float(t) for t in texts[1:])
        assert low <= float(m) <= high
        # the same notation and the same number of decimals: 0.123 or 1.2e-05 alike
        shapes = {re.sub(r"\d", "9", t.lstrip("-")).split("e")[0] for t in texts}
        assert len(shapes) == 1 and len({"e" in t for t in texts}) == 1, texts
