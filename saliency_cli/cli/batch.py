"""What the explaining commands (saliency, lrp, cam, features) share for batches.

An `--input` of shape (N, C, H, W) is a batch of probes; `--targets FILE` gives one class per probe;
`--format jsonl` prints one document per probe; `--fields`/`--compact` choose the top-level keys of
the JSON documents; long batches show a progress bar on a terminal's stderr. Every user mistake is a
one-line UserError (exit code 2).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click
import numpy as np

from ..errors import UserError

if TYPE_CHECKING:
    from ..inputs import Probe

#: Batches of more probes than this show a progress bar (on a terminal).
PROGRESS_FROM = 100

#: What `--compact` leaves out of every document: the blocks every line of a batch repeats.
COMPACT_DROPS = ("model", "input")


def targets_option(func):
    """--targets FILE."""
    return click.option(
        "--targets",
        "targets_path",
        type=str,
        default=None,
        help="With a batch --input: a file of N classes, one per probe (a .npy array of N integers, or a text "
        "file of N integers separated by spaces, commas or newlines). Instead of --target.",
    )(func)


def batch_size_option(rows: str = "probes"):
    """--batch-size: rows per pass, where `rows` says what the rows are."""
    return click.option(
        "--batch-size",
        type=click.IntRange(min=1),
        default=None,
        help=f"Rows per forward/backward pass (across {rows}), to bound memory.  "
        "[default: 1024, fewer for large activations]",
    )


def _parse_fields(ctx, param, value: str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    names = tuple(dict.fromkeys(v.strip() for v in value.split(",") if v.strip()))
    if not names:
        raise click.BadParameter(f"{value!r}: give a comma-separated list of top-level keys")
    return names


def document_options(func):
    """--fields / --compact."""
    fields = click.option(
        "--fields",
        default=None,
        callback=_parse_fields,
        help="With --format json/jsonl: keep only these top-level keys of each probe's document "
        "(comma-separated; `version`, `schema` and a batch's `index` are always kept).",
    )
    compact = click.option(
        "--compact",
        is_flag=True,
        help="With --format json/jsonl: leave the model and input blocks out of each probe's document "
        "(a batch's --format json names the model once, at the top).",
    )
    return fields(compact(func))


def check_document_options(fmt: str, fields: tuple[str, ...] | None, compact: bool, known) -> None:
    """Refuse --fields/--compact with text output, and --fields naming a key the documents never have."""
    if fmt == "text" and (fields is not None or compact):
        raise UserError("--fields and --compact choose JSON keys: add --format json or jsonl")
    from ..render.schema import STAMP_KEYS

    unknown = [f for f in fields or () if f not in known and f != "index" and f not in STAMP_KEYS]
    if unknown:
        raise UserError(f"--fields {','.join(unknown)}: no such key; choose from {','.join(known)}")


def select_fields(document: dict, fields: tuple[str, ...] | None, compact: bool) -> dict:
    """`document` with only the keys in `fields` (and `index`), without `COMPACT_DROPS` when `compact`."""
    drop = COMPACT_DROPS if compact else ()
    return {k: v for k, v in document.items() if k not in drop and (fields is None or k in fields or k == "index")}


def emit_documents(
    fmt: str, command: str, documents: list[dict], batch: bool, fields=None, compact: bool = False
) -> None:
    """Print the documents as `fmt` asks: JSON Lines, one JSON document (a batch as {"probes": [...]}).

    Every line of JSON Lines, a batch's document and each of its probes carry "version" and "schema" (a
    batch's `.probes[]` are the lines of its JSON Lines), whatever --fields and --compact leave out.
    """
    from ..render.schema import stamped
    from .common import emit_json, emit_jsonl

    if batch:
        documents = [{**doc, "index": i} for i, doc in enumerate(documents)]
    selected = [select_fields(doc, fields, compact) for doc in documents]
    if fmt == "jsonl":
        emit_jsonl(command, selected)
    elif batch:
        # NOTE: the model object heads a batch's document as it heads every command's JSON (named once).
        head = {"model": documents[0]["model"]} if "model" in documents[0] else {}
        emit_json(command, {"command": command, **head, "probes": [stamped(command, doc) for doc in selected]})
    else:
        emit_json(command, selected[0])


def show_reports(
    fmt: str, command: str, reports, batch: bool, *, document, views, fields, compact, no_color, export
) -> None:
    """Print a command's reports: JSON documents (`document(report)`), else the batch's summary table or
    the one probe's full view; the text view is also saved to `--export` when given (with any format).

    `views` is ("module.function" of a batch view, of a single-probe view), both in `render/` and
    imported only when drawn, so that JSON output never loads Rich.
    """
    from .common import require_finite
    from .export import print_report, save_export

    documents = [document(r) for r in reports]
    # NOTE: checked for every format, before anything is printed: a NaN or infinity is never a success.
    require_finite(documents if batch else documents[0])

    def view(color: bool):
        from importlib import import_module

        module, name = views[0 if batch else 1].rsplit(".", 1)
        draw = getattr(import_module(f"..render.{module}", __package__), name)
        return draw(reports) if batch else draw(reports[0], color)

    title = f"saliency-cli {command}"
    if fmt == "text":
        print_report(view, title, no_color, export)
        return
    save_export(view, title, no_color, export)
    emit_documents(fmt, command, documents, batch, fields, compact)


def load_probes(
    net, probe: str, probe_seed: int, input_path: str | None, stdin, dtype: str = "float64"
) -> tuple[list[Probe], bool]:
    """The probes to explain and whether they came as a batch.

    A (C, H, W) array (or an image file, or a built-in probe) is one probe; an (N, C, H, W) array is a
    batch whose probes are named `<file>[i]`. Each must pass through the network in `dtype` (and float64).
    """
    from ..inputs import Probe, check_finite_pass, check_shape, make_probe, model_layout, read_input, shape_hint
    from .options import image_choice

    image = image_choice(input_path)
    if input_path is None:
        return [make_probe(net, probe, probe_seed)], False
    name = "stdin" if input_path == "-" else input_path
    array = model_layout(net, read_input(input_path, stdin, net.input_shape, image))
    if array.ndim == len(net.input_shape) + 1:
        if array.shape[1:] != tuple(net.input_shape) or len(array) == 0:
            raise UserError(
                f"{name}: batch of shape {array.shape} does not match the model's input: "
                f"expected (N, {', '.join(map(str, net.input_shape))}) with N >= 1"
                + (shape_hint(array.shape) if len(array) else "")
            )
        check_finite_pass(net, array, name, dtype)
        return [Probe(x=x, source=f"{name}[{i}]") for i, x in enumerate(array)], True
    x = check_shape(array, net.input_shape, name)
    check_finite_pass(net, x[None], name, dtype)
    return [Probe(x=x, source=name)], False


def choose_targets(net, target: int | None, targets_path: str | None, n: int, batch: bool):
    """The class(es) to explain from --target / --targets: None (predicted), one class, or (N,) int64."""
    if target is not None and targets_path is not None:
        raise UserError("give --target (one class for all) or --targets FILE (one per probe), not both")
    if target is not None and not 0 <= target < net.num_classes:
        raise UserError(f"--target {target} is out of range: the model has classes 0..{net.num_classes - 1}")
    if targets_path is None:
        return target
    if not batch:
        raise UserError("--targets needs a batch --input of shape (N, C, H, W); for one probe use --target")
    from .params import option_name

    return read_targets(targets_path, n, net.num_classes, option_name(click.get_current_context(), "targets_path"))


def read_input_array(net, input_path: str) -> tuple[np.ndarray, str]:
    """--input's array or image file (one input or a batch), in the tool's layout or an imported model's own
    (`inputs.model_layout`), and its name in messages ("stdin" for '-')."""
    from ..inputs import model_layout, read_input
    from .common import stdin_bytes
    from .options import image_choice

    x = model_layout(net, read_input(input_path, stdin_bytes(), net.input_shape, image_choice(input_path)))
    return x, "stdin" if input_path == "-" else input_path


def read_labels(net, x: np.ndarray, path: str) -> np.ndarray:
    """--labels: the true class of each input of `x` (a batch, or one input), read by `read_targets`."""
    from .params import option_name

    n = len(x) if x.ndim == len(net.input_shape) + 1 else 1
    return read_targets(path, n, net.num_classes, option_name(click.get_current_context(), "labels_path"))


#: Longest --targets/--labels file read (a text list or .npy array of class indices).
_MAX_TARGETS_BYTES = 16 * 2**20


def read_targets(path: str, n: int, num_classes: int, option: str) -> np.ndarray:
    """N class indices from the file given as `option` (`--targets` or `--labels`, named by every error): a
    .npy array of N integers or a text file of N integers separated by white space or commas (lines
    starting with '#' are comments)."""
    from ..errors import one_line
    from ..inputs import check_array
    from ..npy import load_npy_bytes
    from ..reading import read_user_file

    # NOTE: read once, so that a pipe (e.g. bash's <(...)) works too; bounded, so that an endless one cannot
    # exhaust memory.
    data = read_user_file(path, _MAX_TARGETS_BYTES, f"{option} {path}", "a file of classes")
    if data.startswith(np.lib.format.MAGIC_PREFIX):
        try:
            array = check_array(load_npy_bytes(data), f"{option} {path}")
        except (ValueError, OSError, EOFError) as exc:
            raise UserError(f"{option} {path}: unreadable .npy ({one_line(exc)})") from None
        if array.ndim > 1:
            raise UserError(f"{option} {path}: expected a 1-D array of N class indices, got shape {array.shape}")
        values = array.ravel()
    else:
        try:
            text = " ".join(line.split("#")[0] for line in data.decode("utf-8").splitlines())
            values = np.array([float(v) for v in text.replace(",", " ").split()])
        except (UnicodeDecodeError, ValueError):
            raise UserError(f"{option} {path}: not a .npy array nor a text list of integers") from None
    noun = option.lstrip("-").rstrip("s")  # target, label
    if len(values) != n:
        raise UserError(f"{option} {path}: {len(values)} {noun}s for {n} probes")
    if not np.all(values == np.round(values)):
        raise UserError(f"{option} {path}: class indices must be integers")
    bad = (values < 0) | (values >= num_classes)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise UserError(
            f"{option} {path}: {noun} {values[i]:g} (probe {i}) is out of range: classes 0..{num_classes - 1}"
        )
    return values.astype(np.int64)


def with_progress(label: str, n: int, compute):
    """`compute(progress)` with a progress bar over `n` probes on a terminal's stderr for batches of more
    than PROGRESS_FROM probes (see `progress.progress_bar`); `progress(done, total)` takes the numbers of
    probes done and in all (None for shorter batches)."""
    if n <= PROGRESS_FROM:
        return compute(None)
    from .progress import progress_bar

    with progress_bar(f"{label}: probes", n) as update:
        return compute(update)
