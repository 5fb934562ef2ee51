"""Image files (.png, .jpg/.jpeg, .pgm/.ppm) as a model's input: one image, read with Pillow (the `figures`
extra), converted to the model's channels, scaled and, when asked, resized.

- Channels: a model with 1 input channel gets the image as greyscale (Pillow's ITU-R 601-2 luma for a colour
  image), a model with 3 gets RGB (a greyscale image repeated); any other channel count is refused: an image
  file holds 1 or 3, and which image channel would feed which input channel is not the file's to say.
  An alpha channel is dropped (the stored colours are used as they are).
- Values: `0-1` (the default) divides by the format's largest value (255, or 65535 for a 16-bit greyscale
  PNG or PGM); `0-255` keeps 8-bit values as stored (16-bit values are divided by 257).
- Size: the image must have the model's height and width, unless `resize` names a resampling filter
  (Pillow's `Image.resize` on float32 channels: the filters widen when they shrink, so they average).
- Safety: at most MAX_IMAGE_BYTES of a file are read, the pixel count from the header is checked before the
  pixels are decoded (Pillow's decompression-bomb limit is set to the same cap), only the decoder the
  extension names is tried, and a corrupt or truncated file is one line, never a traceback.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass

import numpy as np

from .errors import UserError, one_line
from .extras import import_extra

#: extension -> the Pillow format (decoder) the file must have.
IMAGE_FORMATS: dict[str, str] = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".pgm": "PPM", ".ppm": "PPM"}

#: --resize choice -> Pillow's resampling filter name.
RESAMPLING: dict[str, str] = {
    "nearest": "NEAREST",
    "box": "BOX",
    "bilinear": "BILINEAR",
    "bicubic": "BICUBIC",
    "lanczos": "LANCZOS",
}

#: --input-scale choices: what the largest stored value becomes.
SCALES = ("0-1", "0-255")

#: Largest image file read (bytes) and most pixels decoded (width x height): 4096 x 4096.
MAX_IMAGE_BYTES = 64 * 2**20
MAX_IMAGE_PIXELS = 4096 * 4096

#: Pillow modes of 16-bit (or wider integer) greyscale: values up to 65535.
_WIDE_MODES = ("I", "I;16", "I;16B", "I;16L", "I;16N")


@dataclass(frozen=True)
class ImageOptions:
    """How an image file becomes an input: `scale` one of SCALES, `resize` a RESAMPLING name or None."""

    scale: str = "0-1"
    resize: str | None = None


def is_image(spec: str | None) -> bool:
    """Whether `spec` names an image file by its extension (case-insensitive)."""
    return spec is not None and os.path.splitext(spec)[1].lower() in IMAGE_FORMATS


def read_image(path: str, shape: tuple[int, int, int], options: ImageOptions = ImageOptions()) -> np.ndarray:
    """The image at `path` as a float64 (C, H, W) input for a model whose input is `shape`.

    Raises UserError for every problem of the file or of its fit to the model (see the module's docstring).
    """
    channels, height, width = (int(n) for n in shape)
    if channels not in (1, 3):
        raise UserError(
            f"{path}: the model takes {channels} input channels, and an image file gives 1 (greyscale) or 3 "
            f"(RGB): pass a .npy array of shape {tuple(shape)}"
        )
    image_module = import_extra("PIL.Image", "figures", "reading an image --input")
    fmt = IMAGE_FORMATS[os.path.splitext(path)[1].lower()]
    data = _read_bytes(path)
    values = _decode(image_module, data, path, fmt, channels)
    if values.shape[1:] != (height, width):
        h, w = values.shape[1:]
        if options.resize is None:
            raise UserError(
                f"{path}: the image is {w}x{h} (width x height) and the model takes {width}x{height}: "
                f"add --resize {'|'.join(RESAMPLING)} (or resize it yourself)"
            )
        values = _resize(image_module, values, (width, height), options.resize)
    if options.scale == "0-255":
        values = values * 255.0
    if not np.all(np.isfinite(values)):  # NOTE: never expected (bounded inputs), but a result is checked
        raise UserError(f"{path}: the image gave non-finite values")
    return values


def _read_bytes(path: str) -> bytes:
    """The file's bytes, at most MAX_IMAGE_BYTES (a longer file is refused before it is read whole)."""
    from .reading import read_user_file

    data = read_user_file(path, MAX_IMAGE_BYTES, path, "an image file")
    if not data:
        raise UserError(f"{path}: empty file, expected an image")
    return data


def _decode(Image, data: bytes, path: str, fmt: str, channels: int) -> np.ndarray:
    """The decoded pixels as float64 (C, H, W) in [0, 1]."""
    import io

    # NOTE: set here, not trusted from Pillow's defaults: more than this many pixels raises before decoding
    # (Pillow raises DecompressionBombError past twice the limit, and only warns below it: the warning is
    # an error here too).
    Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
    from PIL import ImageFile

    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=(fmt,))
            width, height = image.size
            if width * height > MAX_IMAGE_PIXELS:
                raise UserError(f"{path}: the image is {width}x{height}, more than {MAX_IMAGE_PIXELS:,} pixels")
            if getattr(image, "n_frames", 1) > 1:
                raise UserError(f"{path}: holds {image.n_frames} frames; give one image")
            image.load()
            return _pixels(Image, image, channels)
    except UserError:
        raise
    except Image.UnidentifiedImageError:
        raise UserError(f"{path}: not a readable {_NAMES[fmt]} image") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise UserError(f"{path}: the image has more than {MAX_IMAGE_PIXELS:,} pixels") from None
    except (OSError, SyntaxError, ValueError, EOFError, MemoryError) as exc:
        # NOTE: Pillow reports a truncated or corrupt file as OSError, SyntaxError (bad PNG chunks) or ValueError
        raise UserError(f"{path}: corrupt or truncated {_NAMES[fmt]} image ({one_line(exc)})") from None


_NAMES = {"PNG": "PNG", "JPEG": "JPEG", "PPM": "PGM/PPM"}


def _pixels(Image, image, channels: int) -> np.ndarray:
    """(C, H, W) float64 in [0, 1] from a loaded Pillow image, as greyscale (C = 1) or RGB (C = 3)."""
    if image.mode in _WIDE_MODES:
        grey = np.asarray(image, dtype=np.float64) / 65535.0
        return np.repeat(grey[None], channels, axis=0)
    if image.mode == "F":
        raise UserError("floating-point images are not read: save it as 8- or 16-bit, or pass a .npy array")
    converted = image.convert("L" if channels == 1 else "RGB")
    values = np.asarray(converted, dtype=np.float64) / 255.0
    return values[None] if channels == 1 else np.moveaxis(values, -1, 0)


def _resize(Image, values: np.ndarray, size: tuple[int, int], name: str) -> np.ndarray:
    """Each channel of `values` (C, h, w) resized to `size` (width, height) with Pillow's filter `name`."""
    resample = getattr(Image.Resampling, RESAMPLING[name])
    out = [
        np.asarray(Image.fromarray(channel.astype(np.float32)).resize(size, resample), dtype=np.float64)
        for channel in values
    ]
    return np.stack(out)
