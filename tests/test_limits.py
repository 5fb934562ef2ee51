"""The format's size limits: tiny files asking for gigabytes are refused at load time, from their settings alone."""

from __future__ import annotations

import json
import time
import tracemalloc

import numpy as np
import pytest

from saliency_cli.errors import ModelFileError
from saliency_cli.nn.layers import param_shapes
from saliency_cli.nn.limits import MAX_LAYERS, MAX_PARAMETERS, MAX_VALUES_PER_SAMPLE
from saliency_cli.nn.modelfile import load_model


def write_model(path, input_shape, layers) -> None:
    meta = {"format": "saliency-cli-model", "version": 1, "input_shape": list(input_shape), "layers": layers}
    arrays = {"meta": np.array(json.dumps(meta))}
    for i, cfg in enumerate(layers):
        for key, shape in param_shapes(cfg).items():
            if np.prod(shape, dtype=object) <= 10**6:
                arrays[f"{i}.{key}"] = np.full(shape, 0.5)
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)


def conv(c_in, c_out, k, stride=1, padding=0):
    return {
        "type": "conv2d",
        "in_channels": c_in,
        "out_channels": c_out,
        "kernel_size": k,
        "stride": stride,
        "padding": padding,
    }


HEAD = [{"type": "global_avg_pool"}, {"type": "dense", "in_features": 1, "out_features": 2}]


def refused_cheaply(path, match: str) -> None:
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(ModelFileError, match=match):
            load_model(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 32 * 2**20 and time.perf_counter() - start < 2


def test_padding_and_stride_of_12000_on_a_1x1_input(tmp_path, run):
    path = tmp_path / "m.npz"
    write_model(path, (1, 1, 1), [conv(1, 1, 1, stride=12000, padding=12000), *HEAD])
    assert path.stat().st_size < 3000
    refused_cheaply(path, r"layer 0 \(conv2d\) would need 576,048,001 values per sample for its padded input")
    result = run("saliency", "--model", path, "--input", "-", input=b"")
    assert result.exit_code == 2 and result.stderr.count("\n") == 1


def test_padding_of_2_31_minus_1(tmp_path, run):
    path = tmp_path / "m.npz"
    write_model(path, (1, 1, 1), [conv(1, 1, 1, padding=2**31 - 1), *HEAD])
    refused_cheaply(path, r"layer 0 \(conv2d\) would need [\d,]+ values per sample")
    result = run("models", path)
    assert result.exit_code == 2 and "Traceback" not in result.stderr


def test_a_maxpool_of_kernel_128_stride_1_on_256x256(tmp_path):
    path = tmp_path / "m.npz"
    pool = {"type": "maxpool2d", "kernel_size": 128, "stride": 1}
    write_model(path, (1, 256, 256), [pool, *HEAD])
    assert path.stat().st_size < 3000
    refused_cheaply(path, r"layer 0 \(maxpool2d\) would need 272,646,144 values per sample for its pooling windows")


def test_conv_windows_are_bounded(tmp_path):
    path = tmp_path / "m.npz"
    write_model(path, (16, 128, 128), [conv(16, 1, 16, padding=8), *HEAD])  # 16*16*16 * 129*129 unfolded
    refused_cheaply(path, "for its unfolded windows")


def test_the_largest_allowed_layer_loads(tmp_path):
    # A pooling layer whose windows are exactly at the bound loads (the bound is inclusive).
    side = 2048  # 1 x 2048 x 2048 input, kernel 2 stride 2: 4 * 1024 * 1024 window values = 2^22
    path = tmp_path / "m.npz"
    write_model(path, (1, side, side), [{"type": "maxpool2d", "kernel_size": 2, "stride": 2}, *HEAD])
    assert load_model(path).shapes[0] == (1, 1024, 1024)
    assert 4 * 1024 * 1024 <= MAX_VALUES_PER_SAMPLE


def test_the_layer_count_is_capped(tmp_path):
    path = tmp_path / "m.npz"
    write_model(path, (1, 1, 2), [{"type": "flatten"}] + [{"type": "relu"}] * MAX_LAYERS)
    refused_cheaply(path, f"{MAX_LAYERS + 1} layers; a model may have at most {MAX_LAYERS}")
    write_model(path, (1, 1, 2), [{"type": "flatten"}] + [{"type": "relu"}] * (MAX_LAYERS - 1))
    assert len(load_model(path).layers) == MAX_LAYERS


def test_the_parameter_count_is_capped_before_any_weight_is_read(tmp_path):
    path = tmp_path / "m.npz"
    dense = {"type": "dense", "in_features": 4096, "out_features": 4097}
    write_model(path, (1, 1, 4096), [{"type": "flatten"}, dense])
    refused_cheaply(path, f"the layers have 16,785,409 parameters; a model may have at most {MAX_PARAMETERS:,}")


def test_an_input_shape_over_the_bound(tmp_path):
    path = tmp_path / "m.npz"
    write_model(path, (1, 5000, 5000), [{"type": "global_avg_pool"}])
    refused_cheaply(path, "input_shape \\[1, 5000, 5000\\] has 25,000,000 values")


def test_the_model_format_page_documents_the_limits_enforced():
    from pathlib import Path

    from saliency_cli.inputs import MAX_INPUT_VALUES
    from saliency_cli.nn.limits import MAX_FILE_BYTES, MAX_META_BYTES
    from saliency_cli.npy import MAX_HEADER_BYTES

    readme = Path(__file__).parent.parent.joinpath("docs", "model-format.md").read_text()
    assert f"| layers | at most {MAX_LAYERS} |" in readme
    assert f"at most 2^24 = {MAX_PARAMETERS:,}" in readme and MAX_VALUES_PER_SAMPLE == 2**24
    assert f"at most {MAX_FILE_BYTES // 2**20} MiB" in readme
    assert f"at most {MAX_META_BYTES // 2**20} MiB" in readme
    assert f"at most {MAX_HEADER_BYTES:,} bytes" in readme
    assert f"at most 2^25 = {MAX_INPUT_VALUES:,} values" in readme and MAX_INPUT_VALUES == 2**25
