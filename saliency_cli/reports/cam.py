"""The class-activation-map report for one probe: the map at layer and input resolution, its peak,
whether the peak lies on the explained class's blob, optional SmoothGrad, and the JSON document.

Nothing here prints or knows about Click/Rich.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..methods import cam as C
from ..methods.batching import default_rows, row_chunks
from ..tasks import task_of
from .probe import ProbeReport, probe_document, probe_fields


@dataclass
class Peak:
    """The largest cell of a map (first in row-major order on ties); x = column, y = row."""

    x: int
    y: int
    value: float
    in_blob: bool | None  # None when no ground truth is known


@dataclass
class CamReport(ProbeReport):
    method: str
    layer: dict  # the requested layer: index, name, type
    maps_layer: dict  # the layer whose output A was used: index, name, type, shape (K, h, w)
    weights: np.ndarray | None  # (K,) channel weights; None when smoothed (one set per copy)
    raw: np.ndarray  # (h, w) before the ReLU (mean over copies when smoothed)
    map: np.ndarray  # (h, w) after the ReLU (mean over copies of the ReLU maps when smoothed)
    upsampled: dict[str, np.ndarray]  # upsampler name -> (H, W)
    blob: np.ndarray | None  # (H, W) footprint of the explained class's blob, when known
    peak_layer: Peak | None  # None when the map is zero everywhere
    peak_input: Peak | None  # of the bilinear map at input resolution
    smooth: dict | None  # samples, sigma, noise_frac, seed
    dtype: str = "float64"  # compute dtype of the network's passes


def class_blob(net, target: int) -> np.ndarray | None:
    """Where the explained class's blob is, (H, W), on the model's known task; None otherwise."""
    task = task_of(net)
    mask = None if task is None else task.mask(target)
    return None if mask is None else mask.any(axis=0)


def find_peak(values: np.ndarray, blob: np.ndarray | None = None, footprint=None) -> Peak | None:
    """The peak of an (h, w) map, or None when it is not positive anywhere.

    `footprint(y, x)` gives the input rows and columns a cell covers; the peak is on the blob when
    any of those input pixels is.
    """
    if values.size == 0 or not values.max() > 0:
        return None
    y, x = np.unravel_index(int(np.argmax(values)), values.shape)
    in_blob = None
    if blob is not None:
        rows, cols = footprint(y, x) if footprint else ([y], [x])
        in_blob = bool(blob[np.ix_(rows, cols)].any())
    return Peak(int(x), int(y), float(values[y, x]), in_blob)


def _nearest_footprint(shape_in: tuple[int, int], shape_layer: tuple[int, int]):
    """Input rows and columns that nearest-neighbour upsampling fills from layer cell (y, x)."""
    rows = C.nearest_index(shape_in[0], shape_layer[0])
    cols = C.nearest_index(shape_in[1], shape_layer[1])
    return lambda y, x: (np.flatnonzero(rows == y), np.flatnonzero(cols == x))


def _layer_info(net, i: int) -> dict:
    layer = net.layers[i]
    return {"index": i, "name": layer.name, "type": layer.type, "shape": list(net.shapes[i])}


def cam_report(net, probe, **options) -> CamReport:
    """Compute the whole report for one probe (`probe.x` (C, H, W); `label` when known).

    With `smooth` = N, the map is SmoothGrad's mean over N noisy copies (see `cam.smooth_class_maps`).
    Options as in `cam_reports`.
    """
    return cam_reports(net, [probe], **options)[0]


def cam_block(net, probes, methods, options: dict) -> list[list[CamReport]]:
    """`cam_reports` of a block of probes for every method in `methods` (a batch's unit of work)."""
    return [cam_reports(net, probes, method=m, **options) for m in methods]


def cam_reports(
    net,
    probes,
    *,
    method: str = "gradcam",
    layer=None,
    target=None,
    smooth: int | None = None,
    noise_frac: float = 0.15,
    sigma: float | None = None,
    seed: int = 0,
    batch_size: int | None = None,
    dtype: str = "float64",
    progress=None,
) -> list[CamReport]:
    """`cam_report` for many probes, batched: each pass takes up to `batch_size` rows (default
    `default_rows(net)`; with `smooth`, the copies of `batch_size // smooth` probes, at least one probe's).

    `target` is None (each probe's predicted class), one class for all or one per probe; `dtype` is the
    compute dtype of the network's passes ("float32" is faster on large maps; results stay float64);
    `progress(done, total)`, when given, is called with the numbers of probes done and in all after each chunk.
    """
    rows_per_probe = int(smooth) if smooth else 1
    per_chunk = max(1, (batch_size or default_rows(net)) // rows_per_probe)
    per_probe = target is not None and np.ndim(target) > 0
    size = tuple(net.input_shape[1:])
    before = net.params_hash()
    reports: list[CamReport] = []
    for rows in row_chunks(len(probes), per_chunk):
        chunk = probes[rows]
        x = np.stack([np.asarray(p.x, dtype=np.float64) for p in chunk])
        clean = C.class_maps(net, x, np.asarray(target)[rows] if per_probe else target, method, layer, dtype)
        raw, cmap, weights, sm = clean.raw, clean.map, clean.weights, None
        if smooth:
            sm = C.smooth_class_maps(net, x, clean.targets, method, layer, smooth, noise_frac, sigma, seed, dtype)
            raw, cmap, weights = sm.raw, sm.map, None
        after = net.params_hash()
        resized = {name: fn(cmap, size) for name, fn in C.UPSAMPLERS.items()}  # the whole chunk at once
        for i, probe in enumerate(chunk):
            tgt = int(clean.targets[i])
            upsampled = {name: maps[i] for name, maps in resized.items()}
            blob = class_blob(net, tgt)
            reports.append(
                CamReport(
                    **probe_fields(net, x[i], probe.source, probe.label, clean.logits[i], tgt, target is not None),
                    method=method,
                    layer=_layer_info(net, clean.layer),
                    maps_layer=_layer_info(net, clean.maps_layer),
                    weights=None if weights is None else weights[i],
                    raw=raw[i],
                    map=cmap[i],
                    upsampled=upsampled,
                    blob=blob,
                    peak_layer=find_peak(cmap[i], blob, _nearest_footprint(size, cmap[i].shape)),
                    peak_input=find_peak(upsampled["bilinear"], blob),
                    smooth=None if sm is None else _smooth_settings(sm, i, noise_frac, sigma),
                    params_before=before,
                    params_after=after,
                    dtype=str(np.dtype(dtype)),
                )
            )
        if progress is not None:
            progress(len(reports), len(probes))
    return reports


def _smooth_settings(sm, i: int, noise_frac: float, sigma: float | None) -> dict:
    frac = None if sigma is not None else noise_frac
    return {"samples": sm.samples, "sigma": float(sm.sigma[i]), "noise_frac": frac, "seed": sm.seed}


def _peak_doc(peak: Peak | None) -> dict | None:
    return None if peak is None else {"x": peak.x, "y": peak.y, "value": peak.value, "in_blob": peak.in_blob}


#: Every top-level key a CAM document can have (for `--fields`), in document order.
FIELDS = (
    "command", "model", "input", "source", "label", "prediction", "target", "score", "dtype", "method", "layer",
    "maps_layer",
    "channel_weights", "map_raw", "map", "upsampled", "upsampling", "blob", "peak", "smooth", "weights_unchanged",
    "params_sha256",
)  # fmt: skip


def cam_document(report: CamReport) -> dict:
    """The JSON document of `saliency-cli cam --format json` (numpy arrays left for the encoder)."""
    return {
        "command": "cam",
        **probe_document(report),
        "score": "logit",
        "dtype": report.dtype,
        "method": report.method,
        "layer": report.layer,
        "maps_layer": report.maps_layer,
        "channel_weights": report.weights,
        "map_raw": report.raw,
        "map": report.map,
        "upsampled": report.upsampled,
        "upsampling": {"bilinear": "align corners", "nearest": "cell centres: floor((i + 1/2) * h / H)"},
        "blob": report.blob,
        "peak": {"layer": _peak_doc(report.peak_layer), "input": _peak_doc(report.peak_input)},
        "smooth": report.smooth,
        "weights_unchanged": report.weights_unchanged,
        "params_sha256": report.params_after,
    }
