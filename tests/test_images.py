"""Image files as --input: greyscale/RGB by the model's channels, scaling, resizing, and bad files in one line."""

from __future__ import annotations

import json
import struct
import sys
import zlib

import numpy as np
import pytest
from PIL import Image

from saliency_cli.errors import UserError
from saliency_cli.images import MAX_IMAGE_PIXELS, ImageOptions, read_image


def one_line(result) -> str:
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
    return result.stderr


@pytest.fixture
def grey(tmp_path, rng):
    """A 6x6 8-bit greyscale PNG and its pixel values."""
    pixels = rng.integers(0, 256, size=(6, 6), dtype=np.uint8)
    path = tmp_path / "grey.png"
    Image.fromarray(pixels).save(path)
    return path, pixels


def test_greyscale_png_is_scaled_to_unit_range(grey):
    path, pixels = grey
    x = read_image(str(path), (1, 6, 6))
    assert x.shape == (1, 6, 6) and x.dtype == np.float64
    np.testing.assert_array_equal(x[0], pixels / 255.0)
    np.testing.assert_array_equal(read_image(str(path), (1, 6, 6), ImageOptions(scale="0-255"))[0], pixels)


def test_rgb_model_gets_three_channels_and_grey_model_gets_luma(tmp_path, rng):
    rgb = rng.integers(0, 256, size=(4, 5, 3), dtype=np.uint8)
    path = tmp_path / "colour.png"
    Image.fromarray(rgb).save(path)
    x3 = read_image(str(path), (3, 4, 5))
    np.testing.assert_array_equal(x3, np.moveaxis(rgb, -1, 0) / 255.0)
    x1 = read_image(str(path), (1, 4, 5))
    luma = rgb @ np.array([0.299, 0.587, 0.114])  # ITU-R 601-2, as Pillow's convert("L") (rounded to 8 bits)
    assert np.abs(x1[0] * 255 - luma).max() <= 1.0


def test_greyscale_image_is_repeated_for_an_rgb_model(grey):
    path, pixels = grey
    x = read_image(str(path), (3, 6, 6))
    for channel in x:
        np.testing.assert_array_equal(channel, pixels / 255.0)


def test_sixteen_bit_png_uses_its_full_range(tmp_path):
    pixels = np.array([[0, 257, 65535], [1000, 30000, 65534]], dtype=np.uint16)
    path = tmp_path / "wide.png"
    Image.fromarray(pixels).save(path)
    x = read_image(str(path), (1, 2, 3))
    np.testing.assert_allclose(x[0], pixels / 65535.0, rtol=0, atol=1e-15)


@pytest.mark.parametrize("suffix", [".pgm", ".jpg", ".jpeg", ".ppm"])
def test_other_formats_are_read(tmp_path, suffix):
    pixels = np.full((3, 3), 200, dtype=np.uint8)
    path = tmp_path / f"flat{suffix}"
    Image.fromarray(pixels).convert("RGB" if suffix == ".ppm" else "L").save(path)
    x = read_image(str(path), (1, 3, 3))
    assert np.abs(x - 200 / 255).max() < 2 / 255  # JPEG is lossy, but a flat image stays flat


def test_size_must_match_unless_resized(tmp_path):
    pixels = np.arange(9, dtype=np.uint8).reshape(3, 3) * 20
    path = tmp_path / "small.png"
    Image.fromarray(pixels).save(path)
    with pytest.raises(UserError, match=r"3x3 \(width x height\) and the model takes 6x6: add --resize"):
        read_image(str(path), (1, 6, 6))
    x = read_image(str(path), (1, 6, 6), ImageOptions(resize="nearest"))
    np.testing.assert_allclose(x[0], np.kron(pixels / 255.0, np.ones((2, 2))), atol=1e-7)
    # a box filter shrinking 6x6 to 3x3 averages each 2x2 block
    big = tmp_path / "big.png"
    Image.fromarray(np.kron(pixels, np.ones((2, 2), dtype=np.uint8))).save(big)
    np.testing.assert_allclose(read_image(str(big), (1, 3, 3), ImageOptions(resize="box"))[0], pixels / 255, atol=1e-6)


def test_a_two_channel_model_is_refused(grey):
    with pytest.raises(UserError, match=r"takes 2 input channels.*pass a \.npy array of shape \(2, 8, 8\)"):
        read_image(str(grey[0]), (2, 8, 8))


def _png(width: int, height: int, idat: bytes) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def test_a_decompression_bomb_is_refused_from_its_header(tmp_path):
    path = tmp_path / "bomb.png"
    # 100000 x 100000 pixels (10 GB decoded) in a few bytes: refused before any pixel is decoded
    path.write_bytes(_png(100_000, 100_000, zlib.compress(b"\0" * 1000)))
    with pytest.raises(UserError, match=f"more than {MAX_IMAGE_PIXELS:,} pixels"):
        read_image(str(path), (1, 6, 6))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty file"),
        (b"not an image at all", "not a readable PNG image"),
        (_png(6, 6, zlib.compress(b"\0" * 43)[:-6]), "corrupt or truncated PNG image"),
        (b"\xff\xd8\xff\xe0" + b"\0" * 20, "not a readable PNG image"),  # a JPEG's start, named .png
    ],
)
def test_bad_files_are_one_line(run, tmp_path, data, message):
    path = tmp_path / "bad.png"
    path.write_bytes(data)
    assert message in one_line(run("lrp", "--input", path))


def test_missing_file_and_directory(run, tmp_path):
    assert "no such file" in one_line(run("lrp", "--input", tmp_path / "nope.png"))
    (tmp_path / "dir.png").mkdir()
    assert "is a directory" in one_line(run("lrp", "--input", tmp_path / "dir.png"))


def test_image_input_explains_the_same_array_as_npy(run, tmp_path, grey):
    path, pixels = grey
    npy = tmp_path / "grey.npy"
    np.save(npy, (pixels / 255.0)[None])
    from_image = json.loads(run("lrp", "--input", path, "--format", "json").stdout)
    from_npy = json.loads(run("lrp", "--input", npy, "--format", "json").stdout)
    assert from_image["relevance"] == from_npy["relevance"] and from_image["input"] == from_npy["input"]
    assert from_image["source"] == str(path)


def test_every_probe_command_reads_images(run, grey):
    path, _ = grey
    for command in (["saliency", "--task", "blobs6x6"], ["lrp"]):
        result = run(*command, "--input", path, "--format", "json")
        assert result.exit_code == 0, result.stderr
        assert np.asarray(json.loads(result.stdout)["input"]).shape == (1, 6, 6)


def test_image_options_need_an_image(run, tmp_path):
    assert "--resize applies to an image --input" in one_line(run("lrp", "--resize", "box"))
    npy = tmp_path / "x.npy"
    np.save(npy, np.zeros((1, 6, 6)))
    assert "--input-scale applies to an image" in one_line(run("lrp", "--input", npy, "--input-scale", "0-255"))


def test_without_pillow_it_says_how_to_install_it(run, monkeypatch, grey):
    monkeypatch.setitem(sys.modules, "PIL.Image", None)  # `import PIL.Image` now raises ImportError
    line = one_line(run("lrp", "--input", grey[0]))
    assert "pip install -e '.[figures]'" in line and "pip install 'saliency-cli[figures]'" in line


def test_evaluate_and_explore_read_images_too(run, tmp_path, rng):
    digit = tmp_path / "digit.png"
    Image.fromarray(rng.integers(0, 256, size=(16, 16), dtype=np.uint8)).save(digit)
    args = ["--task", "digits", "--input", digit, "--resize", "box"]
    result = run("evaluate", *args, "--resamples", "20", "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["probes"] == 1
    result = run("explore", *args, "--screenshot", tmp_path / "screen.svg")
    assert result.exit_code == 0 and (tmp_path / "screen.svg").stat().st_size > 0, result.stderr
    unsized = run("explore", "--task", "digits", "--input", digit, "--screenshot", tmp_path / "s.svg")
    assert "the image is 16x16" in one_line(unsized)


def test_an_rgb_model_explains_a_colour_image_and_draws_its_channels(run, tmp_path, rng):
    from saliency_cli.nn.modelfile import save_model
    from tests.netgen import random_network

    model = tmp_path / "rgb.npz"
    save_model(random_network(rng, 3, 6, 6, [(4, 3, 1, 1)], 8), model)
    rgb = rng.integers(0, 256, size=(6, 6, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "colour.png")
    out = tmp_path / "f.png"
    result = run("lrp", "--model", model, "--input", tmp_path / "colour.png", "--figure", out, "--format", "json")
    assert result.exit_code == 0, result.stderr
    np.testing.assert_array_equal(np.asarray(json.loads(result.stdout)["input"]), np.moveaxis(rgb, -1, 0) / 255.0)
    # input and relevance, one panel per channel each: 6 panels of 2 inches at 150 dpi
    assert Image.open(out).size == (6 * 300, round((0.48 + 1.6 + 0.52) * 150))
