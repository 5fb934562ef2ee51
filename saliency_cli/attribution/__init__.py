"""The public attribution API, one signature for all: `method(model, inputs, target=None, **options)`.

`inputs` is (C, H, W) or a batch (N, C, H, W); the result is shaped like `inputs`. The implementations
live in `saliency_cli.methods`; this module gathers their entry points under one stable name.
"""

import importlib

_EXPORTS = {
    "saliency": "saliency_cli.methods.gradients",
    "smoothgrad": "saliency_cli.methods.gradients",
    "integrated_gradients": "saliency_cli.methods.integrated",
    "smooth_integrated_gradients": "saliency_cli.methods.integrated",
    "lrp": "saliency_cli.methods.lrp.walk",
    "class_activation_map": "saliency_cli.methods.cam",
    "gradcam": "saliency_cli.methods.cam",
    "gradcam_plus_plus": "saliency_cli.methods.cam",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    # Lazy: importing the API does not import every method family.
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(name)
