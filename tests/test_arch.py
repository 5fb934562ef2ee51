"""The --arch language: every layer type, inferred input sizes, defaults, and one-line refusals naming the layer."""

from __future__ import annotations

import pytest

from saliency_cli.nn.arch import ArchError, default_arch, parse_arch
from saliency_cli.nn.layers import LAYER_TYPES
from saliency_cli.nn.network import Network


def test_every_layer_type_with_its_options_and_inferred_sizes():
    spec = "conv6:3:s1:p0,leaky_relu:0.2,conv4:1,lrelu,maxpool2:s1,relu,gap,dense5,relu,flatten,dense3,softmax"
    configs = parse_arch(spec, (2, 9, 7), 3)
    assert [c["type"] for c in configs] == [
        "conv2d", "leaky_relu", "conv2d", "leaky_relu", "maxpool2d", "relu", "global_avg_pool", "dense", "relu",
        "flatten", "dense", "softmax",
    ]  # fmt: skip
    assert configs[0] == {"type": "conv2d", "in_channels": 2, "out_channels": 6, "kernel_size": 3, "stride": 1,
                          "padding": 0}  # fmt: skip
    assert configs[1]["negative_slope"] == 0.2 and configs[3]["negative_slope"] == 0.01
    assert configs[2]["in_channels"] == 6 and configs[2]["padding"] == 0  # 1 // 2
    assert configs[4] == {"type": "maxpool2d", "kernel_size": 2, "stride": 1}
    assert configs[7]["in_features"] == 4 and configs[10] == {"type": "dense", "in_features": 5, "out_features": 3}
    assert set(LAYER_TYPES) == {c["type"] for c in configs}  # the language covers every layer of the engine
    net = Network([LAYER_TYPES[c["type"]].from_config(c) for c in configs], (2, 9, 7))
    assert net.num_classes == 3


def test_the_default_padding_keeps_the_size_and_a_softmax_is_added():
    configs = parse_arch("conv8:3,relu,maxpool2,flatten,dense32,relu,dense10", (1, 8, 8), 10)
    assert configs[0]["padding"] == 1 and configs[4]["in_features"] == 8 * 4 * 4 and configs[-1]["type"] == "softmax"
    assert parse_arch(" conv8:5 , relu,flatten , dense2", (1, 8, 8), 2)[0]["padding"] == 2


@pytest.mark.parametrize(
    "shape, classes, expected",
    [
        ((1, 8, 8), 10, "conv8:3,relu,maxpool2,flatten,dense32,relu,dense10"),
        ((3, 32, 32), 4, "conv8:3,relu,maxpool2,flatten,dense32,relu,dense4"),
        ((5, 2, 9), 2, "flatten,dense32,relu,dense2"),
    ],
)
def test_the_default_network_fits_the_shape(shape, classes, expected):
    assert default_arch(shape, classes) == expected
    assert parse_arch(expected, shape, classes)[-1]["type"] == "softmax"


@pytest.mark.parametrize(
    "spec, shape, message",
    [
        ("conv8:3,relu,maxpool2,dense32,relu,dense10", (1, 8, 8), "layer 4 (dense32) gets shape (8, 4, 4)"),
        ("conv8:9:p0,flatten,dense10", (1, 8, 8), "layer 1 (conv8:9:p0) does not fit the shape (1, 8, 8)"),
        ("maxpool9,flatten,dense10", (1, 8, 8), "layer 1 (maxpool9) does not fit the shape (1, 8, 8)"),
        ("flatten,conv8:3,dense10", (1, 8, 8), "layer 2 (conv8:3) gets shape (64,)"),
        ("flatten,dense32", (1, 8, 8), "gives 32 scores and the data has 10 classes"),
        ("conv10:3", (1, 8, 8), "not a score per class"),
        ("flatten,softmax,dense10", (1, 8, 8), "softmax can only be the last layer"),
        ("flatten,dense10,sigmoid", (1, 8, 8), "unknown layer 'sigmoid'"),
        ("flatten,,dense10", (1, 8, 8), "comma-separated layers"),
        ("conv8:3:s0,flatten,dense10", (1, 8, 8), "stride must be 1 or more"),
        ("conv8:3:p1:p2,flatten,dense10", (1, 8, 8), "'p' given twice"),
        ("leaky_relu:1e999,flatten,dense10", (1, 8, 8), "finite number"),
        ("flatten,dense99999,dense99999,dense10", (1, 8, 8), "up to layer 3 (dense99999)"),
        (",".join(["relu"] * 65), (1, 8, 8), "at most 64"),
    ],
)
def test_a_spec_that_does_not_parse_or_fit_is_refused_naming_the_layer(spec, shape, message):
    with pytest.raises(ArchError) as err:
        parse_arch(spec, shape, 10)
    assert message in str(err.value) and "\n" not in str(err.value)
