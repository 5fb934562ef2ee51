"""Class activation maps: CAM, Grad-CAM and Grad-CAM++ on a layer's feature maps, and upsampling.

All three weigh the K feature maps A^k (h, w) of one layer and sum them: raw = sum_k w_k A^k, map =
ReLU(raw). They differ only in the channel weights w_k:

- CAM (Zhou et al. 2016): w_k = the dense weights W[c, k] of a head `global_avg_pool -> dense`.
- Grad-CAM (Selvaraju et al. 2017): w_k = mean over positions of g = d score_c / d A^k.
- Grad-CAM++ (Chattopadhay et al. 2018): w_k = sum_ij alpha_ij relu(g_ij) with
  alpha_ij = g_ij^2 / (2 g_ij^2 + sum_ab A_ab g_ij^3).

The score is the target's logit (the output of `model.logit_index`). Feature maps of a conv layer
are taken after the activation that follows it (conv3 -> lrelu3), as in the Grad-CAM paper: those
are the maps the next layer sees. Name the activation layer to be explicit; name a layer with no
activation after it (e.g. a pooling layer) to use its output as it is.

Functions take `(model, inputs, target=None, **options)` with `inputs` (C, H, W) or (N, C, H, W)
and return maps at the layer's resolution, (h, w) or (N, h, w). Nothing here prints.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .batching import as_batch, check_targets, compute_model, unbatch
from .gradients import noise_sigma, resolve_targets

#: Elementwise activations that belong to the conv layer before them.
ACTIVATIONS = frozenset({"relu", "leaky_relu"})


class CamError(ValueError):
    """A layer or model that a class activation map cannot use (reported to users as one line)."""


# -- which feature maps -------------------------------------------------------------------------


def _is_graph(model) -> bool:
    return hasattr(model, "consumers")


def default_layer(model) -> int:
    """Index of the last conv layer whose output is wider than 1x1; on an imported graph, of the last node whose
    output is feature maps wider than 1x1 (a ResNet's last block, after its Relu)."""
    if _is_graph(model):
        found = [
            i
            for i, shape in enumerate(model.shapes[: model.logit_index])
            if len(shape) == 3 and shape[1] * shape[2] > 1
        ]
        if not found:
            raise CamError(_none_wider("node", model))
        return found[-1]
    found = [
        i
        for i, (layer, shape) in enumerate(zip(model.layers, model.shapes, strict=True))
        if layer.type == "conv2d" and shape[1] * shape[2] > 1
    ]
    if not found:
        raise CamError(_none_wider("conv layer", model))
    return found[-1]


def _none_wider(what: str, model) -> str:
    """Why there is no default layer: --layer can name a 1x1 map, but not a map a model without any lacks."""
    if any(len(shape) == 3 for shape in model.shapes[: model.logit_index + 1]):
        return f"the model has no {what} with a spatial output wider than 1x1; pass --layer"
    return f"the model has no feature maps (no {what} with a spatial output), which class activation maps need"


def maps_index(model, layer: int) -> int:
    """The layer whose output holds the feature maps of `layer`: past a conv's trailing activations."""
    i = layer
    if _is_graph(model):
        return i  # NOTE: an imported graph's maps are the named node's own output (name the Relu after a Conv)
    if model.layers[i].type == "conv2d":
        while i + 1 < model.logit_index and model.layers[i + 1].type in ACTIVATIONS:
            i += 1
    return i


def resolve_layer(model, layer: str | int | None = None) -> tuple[int, int]:
    """(requested layer index, feature-map layer index) for a name, an index or None (the default).

    Raises CamError for an unknown layer or one whose output is not (K, h, w).
    """
    if layer is None:
        index = default_layer(model)
    else:
        try:
            index = model.index(layer)
        except KeyError as exc:
            raise CamError(f"--layer {layer}: {exc.args[0]}") from None
    spatial = [model.layers[i].name for i, s in enumerate(model.shapes) if len(s) == 3]
    if len(model.shapes[index]) != 3:
        raise CamError(
            f"--layer {model.layers[index].name} has no spatial output (shape {model.shapes[index]}); "
            + (f"layers with feature maps: {', '.join(spatial)}" if spatial else "this model has none")
        )
    if index > model.logit_index:
        raise CamError(f"--layer {model.layers[index].name} comes after the logits")
    return index, maps_index(model, index)


def cam_head(model) -> tuple[int, int, int]:
    """(conv, feature-map, dense) layer indices of a CAM-ready head.

    The head is conv -> [activation] -> global_avg_pool -> dense, the dense layer giving the logits.
    Raises CamError naming what is missing.
    """
    if _is_graph(model):
        return _graph_cam_head(model)
    layers, logit = model.layers, model.logit_index
    names = " -> ".join(layer.name for layer in layers[max(0, logit - 3) : logit + 1])
    why = f"CAM needs conv -> [activation] -> global_avg_pool -> dense (the logits); this model ends {names}"
    if logit < 2 or layers[logit].type != "dense" or layers[logit - 1].type != "global_avg_pool":
        raise CamError(why + "; use --method gradcam or gradcam++")
    i = logit - 2
    j = i
    while j >= 0 and layers[j].type in ACTIVATIONS:
        j -= 1
    if j < 0 or layers[j].type != "conv2d" or i - j > 1:
        raise CamError(why + "; use --method gradcam or gradcam++")
    return j, i, logit


#: ops between the global average pooling and the Gemm of a CAM-ready graph head
_RESHAPES = frozenset({"Reshape", "Flatten", "Identity"})


def _graph_cam_head(model) -> tuple[int, int, int]:
    """(maps node, maps node, Gemm) of an imported graph ending Gemm <- [Flatten/Reshape] <- GlobalAveragePool
    (or ReduceMean over the spatial axes) <- the maps."""
    layers = model.layers
    writer = {node.output: i for i, node in enumerate(layers)}
    why = "CAM needs feature maps -> GlobalAveragePool -> [Flatten] -> Gemm (the logits)"
    dense = model.logit_index
    if layers[dense].type != "Gemm":
        raise CamError(
            f"{why}; this graph ends in {layers[dense].type} node {layers[dense].name}; use --method gradcam"
        )
    i = writer.get(layers[dense].inputs[0])
    while i is not None and layers[i].type in _RESHAPES:
        i = writer.get(layers[i].inputs[0])
    pool = None if i is None else layers[i]
    if pool is None or pool.type not in ("GlobalAveragePool", "ReduceMean") or tuple(pool.axes) != (2, 3):
        raise CamError(f"{why}; no global average pooling before Gemm node {layers[dense].name}; use --method gradcam")
    j = writer.get(pool.inputs[0])
    if j is None or len(model.shapes[j]) != 3:
        raise CamError(f"{why}; the pooling reads the input, not feature maps; use --method gradcam")
    return j, j, dense


def head_weights(model, dense: int, targets: np.ndarray) -> np.ndarray:
    """CAM's channel weights W[c, k] of the head's dense layer or Gemm, (N, K)."""
    node = model.layers[dense]
    if _is_graph(model):
        return (node._b[:, targets] * node.alpha).T
    return node.params["weight"][targets]


# -- channel weights ------------------------------------------------------------------------------


def gradcam_weights(a: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Grad-CAM: alpha_k = mean over positions of g. (N, K, h, w) -> (N, K)."""
    return g.mean(axis=(2, 3))


def gradcam_pp_alpha(a: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Grad-CAM++'s per-position coefficients alpha_ij = g^2 / (2 g^2 + sum_ab A_ab g^3), (N, K, h, w).

    NOTE: alpha is 0 wherever the denominator is 0: where g = 0 (0/0) and also where
    2 + g sum_ab A_ab = 0 with g != 0 (a pole of the formula, where no finite weight is right).
    """
    g2 = g * g
    denom = 2.0 * g2 + a.sum(axis=(2, 3), keepdims=True) * g2 * g
    return np.divide(g2, denom, out=np.zeros_like(g), where=denom != 0)


def gradcam_pp_weights(a: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Grad-CAM++: w_k = sum_ij alpha_ij relu(g_ij). (N, K, h, w) -> (N, K)."""
    return (gradcam_pp_alpha(a, g) * np.maximum(g, 0.0)).sum(axis=(2, 3))


@dataclass(frozen=True)
class CamMethod:
    title: str
    #: (A, g) -> channel weights (N, K); g is None for methods that need no backward pass.
    weights: Callable[[np.ndarray, np.ndarray | None], np.ndarray] | None
    needs_gradient: bool
    description: str


#: --method name -> method. CAM's weights come from the model's head, not from (A, g).
CAM_METHODS: dict[str, CamMethod] = {
    "cam": CamMethod("CAM", None, False, "dense weights after global average pooling (no backward pass)"),
    "gradcam": CamMethod("Grad-CAM", gradcam_weights, True, "mean gradient per channel"),
    "gradcam++": CamMethod("Grad-CAM++", gradcam_pp_weights, True, "positive gradients weighted per position"),
}


# -- the maps -------------------------------------------------------------------------------------


@dataclass
class CamMaps:
    """One method's maps for a batch: feature maps, gradients, weights and the maps themselves."""

    method: str
    layer: int  # requested layer index
    maps_layer: int  # layer whose output is A
    targets: np.ndarray  # (N,)
    logits: np.ndarray  # (N, classes)
    activations: np.ndarray  # A, (N, K, h, w)
    gradients: np.ndarray | None  # d logit_c / d A, (N, K, h, w); None for CAM
    weights: np.ndarray  # (N, K)
    raw: np.ndarray  # sum_k w_k A^k before the ReLU, (N, h, w)

    @property
    def map(self) -> np.ndarray:
        """ReLU(raw), (N, h, w)."""
        return np.maximum(self.raw, 0.0)


def layer_gradients(model, x: np.ndarray, targets: np.ndarray, index: int, backward: bool = True):
    """Logits (N, classes), layer `index`'s output A and d logit_c / d A (None without `backward`).

    One forward pass to the logits and, with `backward`, one backward pass of one-hot(c), in the model's
    compute dtype; the results are float64. Parameters are never touched (`param_grads=False`).
    """
    logits = model.forward(x, stop=model.logit_index)
    a = np.asarray(model.outputs[index], dtype=np.float64)
    if not backward:
        return np.asarray(logits, dtype=np.float64), a, None
    onehot = np.zeros_like(logits)
    onehot[np.arange(len(x)), targets] = 1.0
    model.backward(onehot, param_grads=False, keep=True)
    return np.asarray(logits, dtype=np.float64), a, np.asarray(model.output_grads[index], dtype=np.float64)


def class_maps(
    model, inputs, target=None, method: str = "gradcam", layer: str | int | None = None, dtype=None
) -> CamMaps:
    """CAM, Grad-CAM or Grad-CAM++ for a batch, with everything that went into the maps.

    Parameters
    ----------
    model : Network
    inputs : ndarray, shape (C, H, W) or (N, C, H, W)
    target : int or sequence of int, optional
        Class per example (default: the predicted class).
    method : {"cam", "gradcam", "gradcam++"}
    layer : str or int, optional
        Layer name or index (default: the last conv layer wider than 1x1; for CAM, the head's).
    dtype : "float64" (default) or "float32"
        Compute dtype of the network's passes; inputs, maps and weights are float64 arrays either way.

    Returns
    -------
    CamMaps (always batched, N >= 1)
    """
    if method not in CAM_METHODS:
        raise ValueError(f"unknown CAM method {method!r}; choose from {', '.join(CAM_METHODS)}")
    spec = CAM_METHODS[method]
    x, _ = as_batch(model, inputs)
    if method == "cam":
        conv, head_maps, dense = cam_head(model)
        index, maps_at = (conv, head_maps) if layer is None else resolve_layer(model, layer)
        if maps_at != head_maps:
            raise CamError(
                f"CAM is defined on the feature maps that feed global_avg_pool ({model.layers[head_maps].name}), "
                f"not on {model.layers[index].name}; drop --layer or use --method gradcam"
            )
    else:
        index, maps_at = resolve_layer(model, layer)
    compute = compute_model(model, dtype)
    targets = resolve_targets(compute, x, target)
    logits, a, g = layer_gradients(compute, x, targets, maps_at, backward=spec.needs_gradient)
    w = head_weights(model, dense, targets) if method == "cam" else spec.weights(a, g)
    raw = np.einsum("nk,nkhw->nhw", w, a)
    return CamMaps(method, index, maps_at, targets, logits, a, g, w, raw)


def _single(model, inputs, target, method, layer) -> np.ndarray:
    single = np.asarray(inputs).shape == tuple(model.input_shape)
    maps = class_maps(model, inputs, target, method, layer).map
    return maps[0] if single else maps


def class_activation_map(model, inputs, target=None, layer=None) -> np.ndarray:
    """CAM: ReLU(sum_k W[c, k] A^k) on the maps feeding `global_avg_pool -> dense`. (h, w) or (N, h, w)."""
    return _single(model, inputs, target, "cam", layer)


def gradcam(model, inputs, target=None, layer=None) -> np.ndarray:
    """Grad-CAM: ReLU(sum_k mean(d z_c / d A^k) A^k). (h, w) or (N, h, w)."""
    return _single(model, inputs, target, "gradcam", layer)


def gradcam_plus_plus(model, inputs, target=None, layer=None) -> np.ndarray:
    """Grad-CAM++: ReLU(sum_k (sum_ij alpha_ij relu(g_ij)) A^k). (h, w) or (N, h, w)."""
    return _single(model, inputs, target, "gradcam++", layer)


@dataclass
class SmoothedMaps:
    """SmoothGrad over a CAM method: the mean of the per-copy maps (of each example, for a batch)."""

    map: np.ndarray  # mean over copies of ReLU(raw), (h, w) or (N, h, w)
    raw: np.ndarray  # mean over copies of raw, (h, w) or (N, h, w)
    sigma: float | np.ndarray  # one number, or (N,) for a batch
    samples: int
    seed: int
    copies: CamMaps  # the batch of noisy copies, `samples` per example, example by example


def smooth_class_maps(
    model,
    inputs: np.ndarray,
    target,
    method: str = "gradcam",
    layer=None,
    samples: int = 16,
    noise_frac: float = 0.15,
    sigma: float | None = None,
    seed: int = 0,
    dtype=None,
) -> SmoothedMaps:
    """SmoothGrad over CAM / Grad-CAM / Grad-CAM++ for `inputs` (C, H, W) or a batch (N, C, H, W).

    `samples` copies x + sigma * eta (eta ~ N(0, 1), seeded; sigma = noise_frac * (max x - min x) of each
    example unless given) of every example go through the network as one batch, explaining `target`
    (one class, or one per example); the result is the mean of each example's copies' maps. Every
    example gets the same eta, so an example's result does not depend on the others in its batch.
    With sigma 0 it equals the method on `inputs`.
    """
    if int(samples) < 1:
        raise ValueError(f"samples must be at least 1, got {samples}")
    x, single = as_batch(model, inputs)
    sig = noise_sigma(x, noise_frac) if sigma is None else np.full(len(x), float(sigma))
    if not np.all(sig >= 0) or not np.all(np.isfinite(sig)):
        raise ValueError(f"sigma must be finite and >= 0, got {sigma}")
    s = int(samples)
    eta = np.random.default_rng(seed).standard_normal((s, *x.shape[1:]))
    noisy = (x[:, None] + sig[:, None, None, None, None] * eta[None]).reshape(-1, *x.shape[1:])
    copies = class_maps(model, noisy, np.repeat(check_targets(model, target, len(x)), s), method, layer, dtype)
    per_example = (len(x), s, *copies.raw.shape[1:])
    maps, raw = copies.map.reshape(per_example).mean(axis=1), copies.raw.reshape(per_example).mean(axis=1)
    spread = float(sig[0]) if single else sig
    return SmoothedMaps(unbatch(maps, single), unbatch(raw, single), spread, s, int(seed), copies)


# -- upsampling -----------------------------------------------------------------------------------


def nearest_index(out: int, src: int) -> np.ndarray:
    """Source cell of each of `out` output cells: floor((i + 1/2) * src / out) (cell centres).

    For an integer factor f = out / src this repeats every cell f times.
    """
    return np.minimum(((np.arange(out) + 0.5) * src / out).astype(int), src - 1)


def upsample_nearest(maps: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour resize of (..., h, w) to (..., H, W)."""
    h, w = maps.shape[-2:]
    rows, cols = nearest_index(size[0], h), nearest_index(size[1], w)
    return maps[..., rows, :][..., cols]


def _linear_weights(out: int, src: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    # NOTE: align-corners convention: output i sits at source coordinate i * (src - 1) / (out - 1),
    # so the corner cells coincide and a map linear in the cell index stays exactly linear.
    pos = np.zeros(out) if out == 1 or src == 1 else np.arange(out) * (src - 1) / (out - 1)
    lo = np.minimum(np.floor(pos).astype(int), src - 1)
    hi = np.minimum(lo + 1, src - 1)
    return lo, hi, pos - lo


def upsample_bilinear(maps: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of (..., h, w) to (..., H, W), align-corners convention (see `_linear_weights`)."""
    h, w = maps.shape[-2:]
    r0, r1, tr = _linear_weights(size[0], h)
    c0, c1, tc = _linear_weights(size[1], w)
    rows = maps[..., r0, :] * (1.0 - tr)[:, None] + maps[..., r1, :] * tr[:, None]
    return rows[..., c0] * (1.0 - tc) + rows[..., c1] * tc


UPSAMPLERS: dict[str, Callable[[np.ndarray, tuple[int, int]], np.ndarray]] = {
    "nearest": upsample_nearest,
    "bilinear": upsample_bilinear,
}
