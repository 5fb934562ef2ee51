"""Make the committed Grad-CAM references of the imported residual network with PyTorch forward hooks (float64).

    .bench-venv/bin/python bench/make_gradcam_references.py

The fixture's PyTorch module (bench/make_onnx_fixtures.py) with the weights of tests/fixtures/onnx/resnet.onnx in
float64. For each (ONNX node, module) pair below, a forward hook keeps the module's output A; g = d logit_target /
d A by autograd; Grad-CAM's raw map is sum_k mean(g_k) A_k, Grad-CAM++'s sum_k (sum_ij alpha_ij relu(g_ij)) A_k with
alpha = g^2 / (2 g^2 + sum_ab A_ab g^3) (0 where that denominator is 0). Written to
tests/fixtures/onnx/resnet_gradcam.npz as `x`, `targets`, `nodes` and `gradcam/<node>`, `gradcam++/<node>`.
"""

from __future__ import annotations

import numpy as np
import torch
from make_lrp_references import OUT, load
from make_onnx_fixtures import ResNet

#: ONNX node name -> the module whose output it is
NODES = {
    "/stem/stem.2/Relu": "stem.2",
    "/l1/c2/Conv": "l1.c2",
    "/l2/b1/BatchNormalization": "l2.b1",
    "/l2/down/down.0/Conv": "l2.down.0",
    "/l2/Relu_1": "l2",
}


def maps(model, module, x, targets):
    kept = {}
    handle = module.register_forward_hook(lambda _m, _i, out: kept.setdefault("a", out))
    try:
        logits = model(torch.tensor(x))
    finally:
        handle.remove()
    a = kept["a"]
    (g,) = torch.autograd.grad(logits[torch.arange(len(x)), torch.tensor(targets)].sum(), a)
    a, g = a.detach(), g.detach()
    gradcam = torch.einsum("nk,nkhw->nhw", g.mean(dim=(2, 3)), a)
    g2 = g * g
    den = 2 * g2 + a.sum(dim=(2, 3), keepdim=True) * g2 * g
    alpha = torch.where(den != 0, g2 / torch.where(den != 0, den, 1.0), 0.0)
    plus = torch.einsum("nk,nkhw->nhw", (alpha * g.clamp(min=0)).sum(dim=(2, 3)), a)
    return gradcam.numpy(), plus.numpy()


def main():
    torch.set_default_dtype(torch.float64)
    model = load(ResNet(), OUT / "resnet.onnx")
    fixture = np.load(OUT / "resnet.npz")
    x, targets = fixture["x"].astype(np.float64), fixture["targets"].astype(np.int64)
    lookup = dict(model.named_modules())
    out = {"x": x, "targets": targets, "nodes": np.array(list(NODES))}
    for node, name in NODES.items():
        out[f"gradcam/{node}"], out[f"gradcam++/{node}"] = maps(model, lookup[name], x, targets)
        print(f"{node:28s} Grad-CAM raw range {out[f'gradcam/{node}'].min():.4g} .. {out[f'gradcam/{node}'].max():.4g}")
    np.savez(OUT / "resnet_gradcam.npz", **out)


if __name__ == "__main__":
    main()
