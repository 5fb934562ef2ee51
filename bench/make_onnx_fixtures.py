"""Make the committed ONNX test fixtures and their PyTorch references (run in the benchmark venv).

    .bench-venv/bin/python bench/make_onnx_fixtures.py

Writes tests/fixtures/onnx/<name>.onnx and <name>.npz for: a LeNet-5 on 1x28x28, a small residual network on
3x32x32 (BatchNorm kept as nodes), an MLP with Tanh and Sigmoid on vectors, a model normalising its input in
the graph (Sub/Div), one with AveragePool, Concat, a depthwise dilated convolution and LeakyReLU, and a
Keras-style NHWC graph built with onnx.helper (Transpose, asymmetric pads, ceil_mode, a Shape/Gather/Concat/
Reshape flattening chain, MatMul + Add). PyTorch exports with `torch.onnx.export(..., dynamo=False)`.

Each .npz holds float64 references computed by PyTorch autograd on the file's weights (float32 values, used
exactly; float32 attributes such as BatchNorm's eps and LeakyReLU's slope at their float32 values):
`x` (N, *input), `targets` (N,), `logits` (N, K), `grad` (N, *input, d logit_target / d x), and IG maps with
the zero baseline for the quadratures `ig_right_16` and `ig_gauss-legendre_8` (nodes and weights as the tool's
rules). The tests compare the tool with these without needing torch.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper
from torch import nn
from torch.nn import functional as F

from saliency_cli.methods.integrated import quadrature_rule

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "onnx"


def f32(value: float) -> float:
    return float(np.float32(value))


class LeNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1, self.c2 = nn.Conv2d(1, 4, 5, padding=2), nn.Conv2d(4, 8, 5)
        self.f1, self.f2, self.f3 = nn.Linear(8 * 5 * 5, 24), nn.Linear(24, 16), nn.Linear(16, 10)

    def logits(self, x):
        x = F.max_pool2d(F.relu(self.c1(x)), 2)
        x = F.max_pool2d(F.relu(self.c2(x)), 2)
        x = F.relu(self.f2(F.relu(self.f1(torch.flatten(x, 1)))))
        return self.f3(x)

    def forward(self, x):
        return torch.softmax(self.logits(x), dim=1)


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.c1, self.b1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout)
        self.c2, self.b2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout)
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = self.b2(self.c2(F.relu(self.b1(self.c1(x)))))
        return F.relu(y + (x if self.down is None else self.down(x)))


class ResNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU())
        self.l1, self.l2 = Block(4, 4, 1), Block(4, 6, 2)
        self.fc = nn.Linear(6, 5)

    def forward(self, x):
        x = self.l2(self.l1(self.stem(x)))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b, self.c = nn.Linear(20, 16), nn.Linear(16, 12), nn.Linear(12, 3)

    def forward(self, x):
        return self.c(torch.sigmoid(self.b(torch.tanh(self.a(x)))))


class Normalised(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).reshape(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).reshape(1, 3, 1, 1))
        self.conv, self.fc = nn.Conv2d(3, 4, 3, stride=2), nn.Linear(4 * 3 * 3, 4)

    def forward(self, x):
        x = (x - self.mean) / self.std
        x = F.max_pool2d(F.relu(self.conv(x)), 2)
        return self.fc(x.reshape(x.shape[0], -1))


class AvgConcat(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Conv2d(2, 3, 3, padding=1), nn.Conv2d(2, 2, 1)
        self.dw = nn.Conv2d(5, 5, 3, padding=2, dilation=2, groups=5)
        self.act = nn.LeakyReLU(0.2)
        self.fc = nn.Linear(5 * 4 * 4, 6)

    def forward(self, x):
        x = torch.cat([F.relu(self.a(x)), torch.tanh(self.b(x))], dim=1)
        x = F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False)
        x = F.avg_pool2d(self.act(self.dw(x)), 2, count_include_pad=True)
        return self.fc(torch.flatten(x, 1))


def randomise_batchnorm(model, gen):
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            with torch.no_grad():
                m.weight.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
                m.bias.copy_(torch.randn(m.num_features, generator=gen) * 0.2)
                m.running_mean.copy_(torch.randn(m.num_features, generator=gen) * 0.2)
                m.running_var.copy_(torch.rand(m.num_features, generator=gen) + 0.5)


def exact_float32_attributes(model):
    """The double reference computes with the float32 values the file stores."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.eps = f32(m.eps)
        if isinstance(m, nn.LeakyReLU):
            m.negative_slope = f32(m.negative_slope)


def references(fn, x: np.ndarray, targets=None) -> dict:
    """logits, gradients and IG maps of `fn` (float64 torch function of a batch) at x."""
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    z = fn(xt)
    targets = z.argmax(dim=1).numpy() if targets is None else targets
    rows = torch.arange(len(x))
    (grad,) = torch.autograd.grad(z[rows, torch.tensor(targets)].sum(), xt)
    out = {"x": x, "targets": targets.astype(np.int64), "logits": z.detach().numpy(), "grad": grad.numpy()}
    for rule, steps in (("right", 16), ("gauss-legendre", 8)):
        alphas, weights = quadrature_rule(rule, steps)
        total = torch.zeros_like(xt)
        for a, w in zip(alphas, weights, strict=True):
            p = (float(a) * torch.tensor(x)).requires_grad_(True)
            zp = fn(p)
            (g,) = torch.autograd.grad(zp[rows, torch.tensor(targets)].sum(), p)
            total += float(w) * g
        out[f"ig_{rule}_{steps}"] = (torch.tensor(x) * total).numpy()
    return out


def export(name, model, shape, gen, n=2, **kwargs):
    model.eval()
    x = torch.rand((n, *shape), generator=gen, dtype=torch.float32)
    path = OUT / f"{name}.onnx"
    torch.onnx.export(
        model,
        (x[:1],),
        str(path),
        dynamo=False,
        input_names=["input"],
        output_names=["output"],
        dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
        **kwargs,
    )
    double = model.double()
    exact_float32_attributes(double)
    fn = double.logits if isinstance(model, LeNet) else double
    np.savez(OUT / f"{name}.npz", **references(fn, x.double().numpy()))


def keras_nhwc(gen):
    """A Keras-style NHWC graph: Transpose to NCHW, Conv with asymmetric pads, Relu, MaxPool with ceil_mode,
    the Shape/Gather/Unsqueeze/Concat/Reshape flatten chain, MatMul + Add."""
    rng = np.random.default_rng(7)
    w = rng.normal(size=(3, 2, 3, 3)).astype(np.float32) * 0.5
    b = rng.normal(size=3).astype(np.float32) * 0.1
    m = rng.normal(size=(3 * 6 * 6, 4)).astype(np.float32) * 0.2
    c = rng.normal(size=4).astype(np.float32) * 0.1
    inits = [numpy_helper.from_array(a, n) for a, n in ((w, "W"), (b, "B"), (m, "M"), (c, "C"))]
    inits += [
        numpy_helper.from_array(np.array([0], np.int64), "zero"),
        numpy_helper.from_array(np.array([-1], np.int64), "minus_one"),
    ]
    nodes = [
        helper.make_node("Transpose", ["input"], ["nchw"], perm=[0, 3, 1, 2], name="to_nchw"),
        helper.make_node("Conv", ["nchw", "W", "B"], ["conv"], pads=[0, 0, 1, 1], name="conv"),
        helper.make_node("Relu", ["conv"], ["relu"], name="relu"),
        helper.make_node("MaxPool", ["relu"], ["pool"], kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1, name="pool"),
        helper.make_node("Shape", ["pool"], ["shape"], name="shape"),
        helper.make_node("Gather", ["shape", "zero"], ["n"], axis=0, name="gather"),
        helper.make_node("Concat", ["n", "minus_one"], ["target"], axis=0, name="target"),
        helper.make_node("Reshape", ["pool", "target"], ["flat"], name="flatten"),
        helper.make_node("MatMul", ["flat", "M"], ["mm"], name="dense"),
        helper.make_node("Add", ["mm", "C"], ["logits"], name="bias"),
        helper.make_node("Softmax", ["logits"], ["output"], axis=-1, name="softmax"),
    ]
    graph = helper.make_graph(
        nodes,
        "keras_nhwc",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 12, 12, 2])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", 4])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="onnx.helper")
    onnx.checker.check_model(model)
    onnx.save(model, OUT / "keras_nhwc.onnx")
    W, B, M, C = (torch.tensor(a, dtype=torch.float64) for a in (w, b, m, c))

    def fn(t):  # t: NCHW (the tool reads the NHWC input as (C, H, W))
        y = F.relu(F.conv2d(F.pad(t, (0, 1, 0, 1)), W, B))
        y = F.max_pool2d(y, 2, ceil_mode=True)
        return y.reshape(len(y), -1) @ M + C

    x = torch.rand((2, 2, 12, 12), generator=gen, dtype=torch.float32).double().numpy()
    np.savez(OUT / "keras_nhwc.npz", **references(fn, x))


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    export("lenet", LeNet(), (1, 28, 28), gen)
    resnet = ResNet()
    randomise_batchnorm(resnet, gen)
    export("resnet", resnet, (3, 32, 32), gen, training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False)
    export("mlp", MLP(), (20,), gen)
    export("normalised", Normalised(), (3, 16, 16), gen)
    export("avgconcat", AvgConcat(), (2, 16, 16), gen)
    keras_nhwc(gen)
    for path in sorted(OUT.glob("*.onnx")):
        model = onnx.load(path)
        print(f"{path.name}: {path.stat().st_size:,} bytes, ops {sorted({n.op_type for n in model.graph.node})}")


if __name__ == "__main__":
    main()
