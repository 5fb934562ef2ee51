"""Make the committed LRP references of the imported LeNet, residual and AveragePool/Concat networks with Zennit
(benchmark venv).

    .bench-venv/bin/python -m pip install --no-deps zennit==0.5.1
    .bench-venv/bin/python bench/make_lrp_references.py

Zennit imports torchvision at load time; `bench/stand_in` provides the two classes it reads from
`torchvision.models.resnet` (no torchvision wheel is needed beside torch's CPU wheel).

The networks are the PyTorch modules of bench/make_onnx_fixtures.py with the weights of the committed .onnx files,
in float64, with two changes that leave the function as it is but give Zennit a module to hook: the residual sum
is a `zennit.layer.Sum` and the global average pooling an `AdaptiveAvgPool2d` module (both take the `Norm` rule);
the AveragePool/Concat network's activations and poolings are modules (`Pass`, `Norm`). Its two convolutions both
read the input, so both take the first-layer rule (a `NameLayerMapComposite`; the tool's first position), where
Zennit's `SpecialFirstLayerMapComposite` would take the first in module order only.
BatchNorm is merged into the preceding convolution by Zennit's `MergeBatchNorm`, fixed as upstream did later:
the emptied BatchNorm is an exact identity (eps set to 0 while merged; 0.5.1 leaves it computing x / sqrt(1 + eps)).

Rules and settings match the tool's: epsilon (eps 0.01); gamma as Montavon et al. 2019 write it (weights and bias
w + gamma w+, z-rule with the stabiliser eps 0.01), written as a Zennit `BasicHook` because Zennit 0.5.1's `Gamma`
is its generalisation to negative outputs, another rule; alpha-beta (2, 1), z+, flat and the Norm of sums and
average pooling with a stabiliser of 1e-300 (the tool's are exact or of round-off size); z-box with the stabiliser
0.01 and bounds given as numbers. Each map is confirmed against an independent float64 epsilon walk written here
(`own_epsilon`), and written to tests/fixtures/onnx/<name>_lrp.npz as `x`, `targets`, `low`, `high` and one
(N, *input) array per rule or composite.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from torch import nn
from torch.nn import functional as F

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE / "stand_in"), str(HERE)]

from make_onnx_fixtures import AvgConcat, Block, LeNet, ResNet, exact_float32_attributes  # noqa: E402
from zennit.canonizers import MergeBatchNorm  # noqa: E402
from zennit.composites import LayerMapComposite, NameLayerMapComposite, SpecialFirstLayerMapComposite  # noqa: E402
from zennit.core import BasicHook, Stabilizer  # noqa: E402
from zennit.layer import Sum  # noqa: E402
from zennit.rules import AlphaBeta, Epsilon, Flat, Norm, Pass, ZBox, ZPlus  # noqa: E402
from zennit.types import Activation, AvgPool, Convolution, Linear  # noqa: E402

OUT = HERE.parent / "tests" / "fixtures" / "onnx"
EPS, GAMMA, TINY = 1e-2, 0.25, 1e-300


class SumBlock(Block):
    """The fixture's residual block with its sum as a module."""

    def __init__(self, *args):
        super().__init__(*args)
        self.sum = Sum()

    def forward(self, x):
        y = self.b2(self.c2(F.relu(self.b1(self.c1(x)))))
        skip = x if self.down is None else self.down(x)
        return F.relu(self.sum(torch.stack([y, skip], dim=-1)))


class ResNetLRP(ResNet):
    def __init__(self):
        super().__init__()
        self.l1, self.l2 = SumBlock(4, 4, 1), SumBlock(4, 6, 2)
        self.pool = nn.AdaptiveAvgPool2d(1)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.l2(self.l1(self.stem(x)))), 1))


class AvgConcatLRP(AvgConcat):
    """The fixture's AveragePool/Concat network with its activations and poolings as modules (Pass and Norm)."""

    def __init__(self):
        super().__init__()
        self.relu, self.tanh = nn.ReLU(), nn.Tanh()
        self.pool1 = nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)
        self.pool2 = nn.AvgPool2d(2, count_include_pad=True)

    def forward(self, x):
        x = torch.cat([self.relu(self.a(x)), self.tanh(self.b(x))], dim=1)
        x = self.pool2(self.act(self.dw(self.pool1(x))))
        return self.fc(torch.flatten(x, 1))


class LeNetLogits(LeNet):
    def forward(self, x):
        return self.logits(x)


class FixedMergeBatchNorm(MergeBatchNorm):
    """Zennit's merge, with the emptied BatchNorm an exact identity (eps 0 while merged)."""

    def register(self, linears, batch_norm):
        super().register(linears, batch_norm)
        self.eps, batch_norm.eps = batch_norm.eps, 0.0

    def remove(self):
        super().remove()
        self.batch_norm.eps = self.eps

    def apply(self, root_module):  # instances are registered by NamedFixedMergeBatchNorm
        raise NotImplementedError


class NamedFixedMergeBatchNorm(FixedMergeBatchNorm):
    def __init__(self, name_map):
        super().__init__()
        self.name_map = name_map

    def apply(self, root_module):
        lookup, instances = dict(root_module.named_modules()), []
        for linear, batch_norm in self.name_map:
            instance = FixedMergeBatchNorm()
            instance.register([lookup[linear]], lookup[batch_norm])
            instances.append(instance)
        return instances

    def copy(self):
        return NamedFixedMergeBatchNorm(self.name_map)


RESNET_BN = [
    ("stem.0", "stem.1"),
    ("l1.c1", "l1.b1"),
    ("l1.c2", "l1.b2"),
    ("l2.c1", "l2.b1"),
    ("l2.c2", "l2.b2"),
    ("l2.down.0", "l2.down.1"),
]


class OriginalGamma(BasicHook):
    """LRP-gamma of Montavon et al. 2019: w + gamma w+ and b + gamma b+, then the z-rule with a stabiliser."""

    def __init__(self, gamma=GAMMA, stabilizer=EPS):
        stabilize = Stabilizer.ensure(stabilizer)
        from zennit.core import ParamMod

        super().__init__(
            input_modifiers=[lambda input: input],
            param_modifiers=[ParamMod(lambda param, _: param + gamma * param.clamp(min=0))],
            output_modifiers=[lambda output: output],
            gradient_mapper=lambda out_grad, outputs: out_grad / stabilize(outputs[0]),
            reducer=lambda inputs, gradients: inputs[0] * gradients[0],
        )


def base():
    return [(Activation, Pass()), (Sum, Norm(TINY)), (AvgPool, Norm(TINY))]


def composites(low, high) -> dict:
    """Reference name -> (Zennit layer map, first-layer map or None)."""
    eps = Epsilon(EPS)
    return {
        "epsilon": ([(Convolution, eps), (Linear, Epsilon(EPS))], None),
        "gamma": ([(Convolution, OriginalGamma()), (Linear, OriginalGamma())], None),
        "alpha-beta": ([(Convolution, AlphaBeta(2.0, 1.0, TINY)), (Linear, AlphaBeta(2.0, 1.0, TINY))], None),
        "zplus": ([(Convolution, ZPlus(TINY)), (Linear, ZPlus(TINY))], None),
        "epsilon-plus": ([(Convolution, ZPlus(TINY)), (Linear, Epsilon(EPS))], None),
        "epsilon-alpha2-beta1": ([(Convolution, AlphaBeta(2.0, 1.0, TINY)), (Linear, Epsilon(EPS))], None),
        "epsilon-plus-flat": ([(Convolution, ZPlus(TINY)), (Linear, Epsilon(EPS))], Flat(TINY)),
        "epsilon-alpha2-beta1-flat": ([(Convolution, AlphaBeta(2.0, 1.0, TINY)), (Linear, Epsilon(EPS))], Flat(TINY)),
        "epsilon-gamma-box": (
            [(Convolution, OriginalGamma()), (Linear, Epsilon(EPS))],
            ZBox(low, high, stabilizer=EPS),
        ),
    }


def load(model: nn.Module, path: Path) -> nn.Module:
    weights = {
        t.name: torch.from_numpy(numpy_helper.to_array(t).astype(np.float64)) for t in onnx.load(path).graph.initializer
    }
    state = model.state_dict()
    missing = [k for k in state if k not in weights and not k.endswith("num_batches_tracked")]
    if missing:
        raise SystemExit(f"{path.name}: no initializer for {missing}")
    model.load_state_dict({k: weights.get(k, v) for k, v in state.items()})
    exact_float32_attributes(model)
    return model.double().eval()


def zennit_map(model, x, targets, layer_map, first, canonizers, first_names=None) -> np.ndarray:
    """The relevance of `targets` with `layer_map`, and `first` on the first convolution (Zennit's choice: the
    first in module order) or, given `first_names`, on each module named there."""
    if first is None:
        composite = LayerMapComposite(base() + layer_map, canonizers=canonizers)
    elif first_names is not None:
        composite = NameLayerMapComposite([(first_names, first)], base() + layer_map, canonizers=canonizers)
    else:
        composite = SpecialFirstLayerMapComposite(base() + layer_map, [(Convolution, first)], canonizers=canonizers)
    x = torch.tensor(x, requires_grad=True)
    with composite.context(model) as modified:
        out = modified(x)
        seed = torch.zeros_like(out)
        rows = torch.arange(len(x))
        seed[rows, targets] = out[rows, targets].detach()
        (relevance,) = torch.autograd.grad(out, x, seed)
    with torch.no_grad():
        plain = model(x)
    # the merged BatchNorms are exact identities: the canonized network computes what the file's does
    gap = float((out.detach() - plain).abs().max() / plain.abs().max())
    assert gap <= 1e-13, f"the canonized network's logits differ by {gap:.3g} (relative)"
    return relevance.detach().numpy()


def _merged(conv, bn):
    s = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    b = torch.zeros(len(s), dtype=s.dtype) if conv.bias is None else conv.bias
    return conv.weight * s[:, None, None, None], (b - bn.running_mean) * s + bn.bias


def _eps_step(a, fn, r):
    """R_a = a * grad_a(sum z * R / (z + eps sign z)) for z = fn(a) (one linear layer)."""
    a = a.detach().requires_grad_(True)
    z = fn(a)
    s = r / (z + EPS * torch.where(z >= 0, 1.0, -1.0).to(z))
    (c,) = torch.autograd.grad(z, a, s)
    return (a * c).detach()


def _share(r, total):
    """r / total, 0 where the total is exactly 0 (nothing to share by)."""
    return torch.where(total != 0, r / torch.where(total != 0, total, 1.0), 0.0)


def _norm_step(parts, r):
    s = _share(r, sum(parts))
    return [p * s for p in parts]


def own_epsilon(model: ResNetLRP, x, targets) -> np.ndarray:
    """LRP-epsilon on the residual network written out layer by layer (BatchNorm merged here), for checking."""
    conv = {}
    for c, b in RESNET_BN:
        lookup = dict(model.named_modules())
        w, bias = _merged(lookup[c], lookup[b])
        conv[c] = (lookup[c], w.detach(), bias.detach())

    def run(name, a):
        m, w, b = conv[name]
        return F.conv2d(a, w, b, m.stride, m.padding)

    with torch.no_grad():
        x = torch.tensor(x)
        a0 = x
        a1 = F.relu(run("stem.0", a0))
        h1 = F.relu(run("l1.c1", a1))
        y1 = run("l1.c2", h1)
        a2 = F.relu(y1 + a1)
        h2 = F.relu(run("l2.c1", a2))
        y2 = run("l2.c2", h2)
        d2 = run("l2.down.0", a2)
        a3 = F.relu(y2 + d2)
        p = a3.mean(dim=(2, 3))
        out = model.fc(p)
    rows = torch.arange(len(x))
    r = torch.zeros_like(out)
    r[rows, targets] = out[rows, targets]
    r = _eps_step(p, model.fc, r)
    r = a3 * _share(r, a3.sum(dim=(2, 3)))[:, :, None, None]
    ry2, rd2 = _norm_step([y2, d2], r)
    r2 = _eps_step(a2, lambda a: run("l2.down.0", a), rd2)
    rh2 = _eps_step(h2, lambda a: run("l2.c2", a), ry2)
    r2 = r2 + _eps_step(a2, lambda a: run("l2.c1", a), rh2)
    ry1, ra1 = _norm_step([y1, a1], r2)
    rh1 = _eps_step(h1, lambda a: run("l1.c2", a), ry1)
    r1 = ra1 + _eps_step(a1, lambda a: run("l1.c1", a), rh1)
    return _eps_step(a0, lambda a: run("stem.0", a), r1).numpy()


def main():
    torch.set_default_dtype(torch.float64)
    for name, model, canonizers, first_names in (
        ("lenet", load(LeNetLogits(), OUT / "lenet.onnx"), [], None),
        ("resnet", load(ResNetLRP(), OUT / "resnet.onnx"), [NamedFixedMergeBatchNorm(RESNET_BN)], None),
        # both convolutions read the input: both are first (Zennit's SpecialFirstLayerMapComposite takes `a` only)
        ("avgconcat", load(AvgConcatLRP(), OUT / "avgconcat.onnx"), [], ("a", "b")),
    ):
        fixture = np.load(OUT / f"{name}.npz")
        x, targets = fixture["x"].astype(np.float64), fixture["targets"].astype(np.int64)
        low, high = float(x.min()), float(x.max())
        out = {"x": x, "targets": targets, "low": np.float64(low), "high": np.float64(high)}
        for key, (layer_map, first) in composites(low, high).items():
            out[key] = zennit_map(model, x, targets, layer_map, first, canonizers, first_names)
        with torch.no_grad():
            logits = model(torch.tensor(x)).numpy()
        if name == "resnet":
            mine = own_epsilon(model, x, targets)
            gap = np.abs(mine - out["epsilon"]).max()
            print(f"resnet: Zennit's epsilon vs the walk written here: max |difference| {gap:.3g}")
            assert gap <= 1e-12 * np.abs(mine).max(), gap
        for key in composites(low, high):
            total = out[key].reshape(len(x), -1).sum(axis=1)
            logit = logits[np.arange(len(x)), targets]
            print(f"{name} {key:22s} sum R = {np.array2string(total, precision=6)} logit {logit}")
        np.savez(OUT / f"{name}_lrp.npz", **out)


if __name__ == "__main__":
    main()
