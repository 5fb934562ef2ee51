"""Attribution methods, all with one signature: `method(model, inputs, target=None, **options)`.

`inputs` is (C, H, W) or a batch (N, C, H, W); the result is shaped like `inputs`.
"""

import importlib

_EXPORTS = {
    "saliency": ".gradients",
    "smoothgrad": ".gradients",
    "integrated_gradients": ".gradients",
    "lrp": ".lrp_walk",
    "class_activation_map": ".cam",
    "gradcam": ".cam",
    "gradcam_plus_plus": ".cam",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    raise AttributeError(name)
