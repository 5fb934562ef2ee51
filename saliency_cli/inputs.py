"""Reading and checking the arrays a user hands in (.npy files or stdin) and the probes to explain."""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

from .errors import UserError, one_line
from .npy import MAGIC, NpyError
from .npy import read_npy as read_npy_stream
from .tasks import PROBE_SEED, TASKS, no_task_for, task_of


@dataclass
class Probe:
    """What is explained: an input (C, H, W), its label and ground-truth mask when known."""

    x: np.ndarray
    source: str
    label: int | None = None
    mask: np.ndarray | None = None


#: Most values an array handed in (--input, --baseline, stdin) may hold: 2^25, i.e. 256 MiB as float64.
MAX_INPUT_VALUES = 2**25


def read_npy(spec: str, stdin: io.BufferedIOBase | None = None) -> np.ndarray:
    """Read one array from a .npy file, or from `stdin` when `spec` is '-'. Never unpickles.

    At most the bytes the header promises (and no more than MAX_INPUT_VALUES values) are read, plus one
    byte to refuse trailing data: an endless stream (/dev/zero, a pipe that never ends) is refused quickly.
    """
    name = "standard input" if spec == "-" else spec
    if spec == "-":
        if stdin is None:
            raise UserError("no standard input to read from")
        if getattr(stdin, "isatty", lambda: False)():
            raise UserError(
                "standard input is a terminal: pipe a .npy array into '-' (e.g. from `saliency-cli sample`)"
            )
        return _read_stream(
            stdin, name, empty="standard input is empty: expected a .npy array (e.g. from `saliency-cli sample`)"
        )
    try:
        with open(spec, "rb") as fh:
            return _read_stream(fh, name, empty=f"{spec}: empty file, expected a .npy array")
    except FileNotFoundError:
        raise UserError(f"{spec}: no such file") from None
    except IsADirectoryError:
        raise UserError(f"{spec}: is a directory, not a .npy file") from None
    except OSError as exc:
        raise UserError(f"{spec}: cannot read ({exc.strerror or one_line(exc)})") from None


def read_input(spec: str, stdin, shape: tuple[int, ...], image=None) -> np.ndarray:
    """An --input: an image file (by its extension) converted to the model's input `shape` (C, H, W) with
    `image` (an `images.ImageOptions`), else a .npy array as it is (`read_npy`)."""
    from .images import ImageOptions, is_image, read_image

    if spec != "-" and is_image(spec):
        return read_image(spec, tuple(shape), image or ImageOptions())
    return read_npy(spec, stdin)


def read_baseline(spec: str, net, stdin=None, image=None, dtype: str = "float64") -> np.ndarray:
    """An IG --baseline file read as one --input probe is: a .npy array ('-': `stdin`) or an image file (with
    `image`, the --input image's conversion), in the tool's (C, H, W) or an imported model's own layout (see
    `model_layout`), of the model's input shape and finite (its forward pass too, in `dtype`); each refusal one
    line naming --baseline."""
    name = "stdin" if spec == "-" else spec
    try:
        array = read_input(spec, stdin, net.input_shape, image)
    except UserError as exc:
        message = str(exc)
        raise UserError(f"--baseline {message if message.startswith(f'{spec}:') else f'{spec}: {message}'}") from None
    x = check_shape(model_layout(net, array), net.input_shape, f"--baseline {name}", hint=False)
    check_finite_pass(net, x[None], f"--baseline {name}", dtype)
    return x


def model_layout(net, array: np.ndarray) -> np.ndarray:
    """An array laid out as an imported model's own input (a vector (D,), or NHWC (H, W, C); one example or a
    batch) as the tool's (C, H, W) rows; any other array as it is. The import records the graph's own input in
    the model's training record ("input": {"shape", "layout"})."""
    spec = net.training.get("input") if isinstance(getattr(net, "training", None), dict) else None
    own = tuple(spec.get("shape", ())) if isinstance(spec, dict) else ()
    tool = tuple(net.input_shape)
    if not own or own == tool or array.ndim not in (len(own), len(own) + 1) or array.shape[-len(own) :] != own:
        return array
    if array.ndim >= 3 and array.shape[-3:] == tool:
        return array
    if spec.get("layout") == "nhwc":
        return np.moveaxis(array, -1, -3)
    return array.reshape(*array.shape[: array.ndim - len(own)], *tool)


def _read_stream(stream, name: str, empty: str) -> np.ndarray:
    first = stream.read(len(MAGIC))
    if not first:
        raise UserError(empty)
    if first != MAGIC:
        raise UserError(f"{name}: not a .npy array file")
    try:
        array = read_npy_stream(_Prefixed(first, stream), max_bytes=MAX_INPUT_VALUES * 8, max_values=MAX_INPUT_VALUES)
    except NpyError as exc:
        raise UserError(f"{name}: unreadable .npy ({one_line(exc)})") from None
    return check_array(array, name)


class _Prefixed:
    """A read-only stream that first gives back `prefix` (bytes already read), then `stream`."""

    def __init__(self, prefix: bytes, stream):
        self._prefix, self._stream = prefix, stream

    def read(self, n: int) -> bytes:
        if self._prefix:
            out, self._prefix = self._prefix[:n], self._prefix[n:]
            return out
        return self._stream.read(n)


def check_array(array: np.ndarray, name: str) -> np.ndarray:
    """A real, finite float64 copy of `array`, or a UserError naming the problem."""
    if array.dtype.kind not in "biuf":
        raise UserError(f"{name}: dtype {array.dtype} is not a real number type")
    array = array.astype(np.float64)
    if not np.all(np.isfinite(array)):
        bad = int(np.size(array) - np.isfinite(array).sum())
        raise UserError(f"{name}: contains {bad} NaN or infinite value(s)")
    return array


def check_shape(array: np.ndarray, shape: tuple[int, ...], name: str, hint: bool = True) -> np.ndarray:
    """`array` if its shape is `shape`; else a UserError that names the tasks whose input it fits."""
    if array.shape != tuple(shape):
        fits = shape_hint(array.shape) if hint else ""
        raise UserError(f"{name}: shape {array.shape} does not match the model's input {tuple(shape)} (C, H, W){fits}")
    return array


def fitting_tasks(shape: tuple[int, ...]) -> list[str]:
    """The built-in tasks whose input is `shape` (C, H, W), or whose input is one item of a batch `shape`."""
    shape = tuple(shape)
    return sorted(name for name, task in TASKS.items() if tuple(task.input_shape) in (shape, shape[1:]))


def shape_hint(shape: tuple[int, ...]) -> str:
    """'; it fits --task A or --task B (or a --model trained on one)' for a shape built-in tasks take, else ''."""
    tasks = fitting_tasks(shape)
    if not tasks:
        return "; no built-in task takes that shape: pass --model with a model trained on it"
    names = " or ".join(f"--task {name}" for name in tasks)
    return f"; that shape fits {names} (or a --model trained on such input)"


def make_probe(net, probe: str | None, probe_seed: int = PROBE_SEED, input_path=None, stdin=None) -> Probe:
    """The probe to explain: a user's array when `input_path` is given, else the task's built-in probe
    `probe` (None: the task's default one)."""
    if input_path is not None:
        name = "stdin" if input_path == "-" else input_path
        x = check_shape(model_layout(net, read_input(input_path, stdin, net.input_shape)), net.input_shape, name)
        check_finite_pass(net, x[None], name)
        return Probe(x=x, source=name)
    task = task_of(net)
    if task is None:
        raise UserError(f"{no_task_for(net, 'built-in probes')}; pass --input FILE.npy")
    probe = task.default_probe if probe is None else probe
    x, label, mask = task.probe(probe, probe_seed)
    check_finite_pass(net, x[None], f"probe {probe}")
    return Probe(x=x, source=task.probe_source(probe, probe_seed), label=label, mask=mask)


def check_finite_pass(net, x: np.ndarray, name: str, dtype: str = "float64") -> None:
    """Refuse inputs (N, C, H, W) whose forward pass overflows float64 somewhere in the network, or, computing
    in float32 (`dtype`), float32: there an input beyond 3.4e38 is infinite, and a ReLU turns the NaN of inf - inf
    into 0, so that another input would be explained without a word."""
    for model in dict.fromkeys([net, net.astype(dtype)]):
        with np.errstate(over="ignore", invalid="ignore"):
            model.forward(x)
            for layer, out in zip(model.layers, model.outputs, strict=False):
                bad = ~np.isfinite(out.reshape(len(out), -1)).all(axis=1)
                if bad.any():
                    which = f"{name}[{int(np.argmax(bad))}]" if len(x) > 1 else name
                    raise UserError(
                        f"{which}: the network's activations overflow {model.dtype} at layer {layer.name} "
                        f"({layer.type}); values this large cannot be explained"
                        + (" in float32: drop --dtype float32" if model is not net else "")
                    )


def check_target(net, target: int | None) -> None:
    if target is not None and not 0 <= target < net.num_classes:
        raise UserError(f"--target {target} is out of range: the model has classes 0..{net.num_classes - 1}")
