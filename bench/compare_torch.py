"""Side by side with PyTorch + Captum (issue 13): same CPU, same weights, interleaved runs, best of several.

Run with `make bench-compare` (ARGS=--quick: fewer sizes and runs; --no-exact: without exact IG, which takes
minutes; --exact64: exact IG at S=64 too; --reports: the report rows only; --imported: the report rows and the
imported ONNX models' rows), which builds the git-ignored
.bench-venv (PyTorch's CPU wheel, Captum without its pins, and this package) and runs this script there.
PyTorch and Captum are never a run-time or test dependency. A benchmark, not a test: it prints a table of
ratios (ours / theirs; below 1 is faster) and asserts only that both sides computed the same maps.

Its first line says which GEMM kernels each side runs. numpy's OpenBLAS takes its core type from
OPENBLAS_CORETYPE when that is set (a machine's environment may pin it), while oneDNN
picks its own: on a CPU with AVX-512, `OPENBLAS_CORETYPE=SkylakeX make bench-compare` runs ours on the
AVX-512 kernels too (the tool itself never overrides the setting).

Rows:
- the machine's BLAS peak (a 2000 x 2000 matmul) and the conv GEMMs' share of it at S=128;
- one saliency report (vanilla + SmoothGrad 16 + IG 50, right rule) on each shipped model, in-process (each side
  five times in a row per round: a millisecond of work measured right after the other library's is cold);
- IG-50 (right rule) on a 1xSxS conv net (3x3 pad 1 to 8, 16, 32 channels, leaky_relu 0.1, GAP, dense 10)
  at S = 32, 64, 128, in float64 and float32, with the peak memory of ours (tracemalloc, separate run);
- exact IG's piece count and time on the conv net at S = 32, 64;
- IG-50 (right rule) on the imported ONNX LeNet and residual network of tests/fixtures/onnx, float64 and float32;
- LRP-epsilon on the imported residual network against Zennit (BatchNorm merged by both), float64;
- the whole process: `saliency-cli saliency --probe clean --format json` against a script that imports
  torch and captum and computes the same three maps.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import torch
from captum.attr import IntegratedGradients, NoiseTunnel, Saliency

from saliency_cli.inputs import make_probe
from saliency_cli.locate import find_default_model
from saliency_cli.methods import integrated as IG
from saliency_cli.nn import blas, ops
from saliency_cli.nn.layers import Conv2d, Dense, GlobalAvgPool, LeakyReLU
from saliency_cli.nn.modelfile import load_model
from saliency_cli.nn.network import Network
from saliency_cli.reports.saliency import saliency_report

ROOT = Path(__file__).resolve().parent.parent
ONNX = ROOT / "tests" / "fixtures" / "onnx"
DTYPES = {"float64": torch.float64, "float32": torch.float32}
ROWS: list[tuple[str, str, float, float, str]] = []


def interleaved(ours, theirs, repeats: int, burst: int = 1) -> tuple[float, float]:
    """Best of `repeats` rounds of each, alternating the two sides so that both see the same machine load.

    Each round runs a side `burst` times in a row and keeps the best: the steady state of a loop over probes.
    NOTE: a millisecond of work right after the other side's is measured cold (its caches evicted by the
    other library): on the blobs8x8 report that costs ours 0.70 -> 1.07 ms and Captum 1.84 -> 1.94 ms.
    """
    best = [float("inf"), float("inf")]
    for _ in range(repeats):
        for i, fn in enumerate((ours, theirs)):
            for _ in range(burst):
                start = time.perf_counter()
                fn()
                best[i] = min(best[i], time.perf_counter() - start)
    return best[0], best[1]


def row(what: str, dtype: str, ours: float, theirs: float, note: str = "") -> None:
    ROWS.append((what, dtype, ours, theirs, note))
    print(f"{what:<48} {dtype:<8} {fmt(ours):>10} {fmt(theirs):>10} {ours / theirs:>7.2f}  {note}", flush=True)


def fmt(seconds: float) -> str:
    return f"{seconds * 1e3:.2f} ms" if seconds < 1 else f"{seconds:.2f} s"


# -- same weights in torch ---------------------------------------------------------------------------------------


def torch_model(net: Network, dtype: str) -> torch.nn.Sequential:
    """Our network up to its logits as a torch module with the same weights (softmax dropped: logits explained)."""
    mods = []
    for layer in net.layers[: net.logit_index + 1]:
        p = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in layer.params.items()}
        match layer.type:
            case "conv2d":
                m = torch.nn.Conv2d(
                    layer.in_channels, layer.out_channels, layer.kernel_size, layer.stride, layer.padding
                )
            case "dense":
                m = torch.nn.Linear(layer.in_features, layer.out_features)
            case "relu":
                m = torch.nn.ReLU()
            case "leaky_relu":
                m = torch.nn.LeakyReLU(layer.negative_slope)
            case "maxpool2d":
                m = torch.nn.MaxPool2d(layer.kernel_size, layer.stride)
            case "flatten":
                m = torch.nn.Flatten()
            case "global_avg_pool":
                m = torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())
            case other:
                raise ValueError(other)
        if p:
            m.weight.data, m.bias.data = p["weight"].clone(), p["bias"].clone()
        mods.append(m)
    return torch.nn.Sequential(*mods).to(DTYPES[dtype]).eval()


def conv_net(size: int, seed: int = 0) -> Network:
    rng = np.random.default_rng(seed)
    layers = [Conv2d(1, 8, 3, padding=1), LeakyReLU(0.1), Conv2d(8, 16, 3, padding=1), LeakyReLU(0.1)]
    layers += [Conv2d(16, 32, 3, padding=1), LeakyReLU(0.1), GlobalAvgPool(), Dense(32, 10)]
    for layer in layers:
        for key, value in layer.params.items():
            scale = np.sqrt(2.0 / np.prod(value.shape[1:])) if value.ndim > 1 else 0.1
            layer.params[key] = rng.normal(0.0, scale, size=value.shape)
    return Network(layers, (1, size, size))


def agree(ours: np.ndarray, theirs, dtype: str) -> str:
    t = theirs.detach().numpy() if hasattr(theirs, "detach") else np.asarray(theirs)
    err = float(np.abs(ours - t).max() / np.abs(t).max())
    # NOTE: the gradients agree to ~1e-16 in float64, but Captum rounds IG's step sizes (and path points) through
    # float32, so float64 maps agree to ~1e-8, or ~1e-4 where a path point lands on the other side of a leaky_relu
    # kink (S=128). A sanity bound: different weights or a wrong engine give differences of order 1.
    assert err < 1e-2, f"maps differ: {err:.1e}"
    return f"maps agree to {err:.0e}"


# -- rows ---------------------------------------------------------------------------------------------------------


def peak() -> dict[str, float]:
    out = {}
    single = blas.single_threaded_blas()  # NOTE: the engine keeps this thread's BLAS single-threaded: undo it here
    blas.restore_blas(blas.cores())
    for dtype in DTYPES:
        a = np.random.default_rng(0).random((2000, 2000)).astype(dtype)
        t = min(_timed(lambda a=a: a @ a) for _ in range(5))
        out[dtype] = 2 * 2000**3 / t / 1e9
    blas.restore_blas(single)
    print(f"BLAS peak (2000x2000 matmul): float64 {out['float64']:.0f} GFLOP/s, float32 {out['float32']:.0f} GFLOP/s")
    return out


def kernels() -> str:
    """Which GEMM kernels each side runs: OpenBLAS's core type (numpy's BLAS picks it at load time, or takes
    OPENBLAS_CORETYPE from the environment) and PyTorch's CPU capability (oneDNN picks its own)."""
    core = blas.openblas_core()
    forced = os.environ.get("OPENBLAS_CORETYPE")
    ours = f"OpenBLAS {core}" + (f" (OPENBLAS_CORETYPE={forced} in the environment)" if forced is not None else "")
    return f"GEMM kernels: ours {ours}; PyTorch {torch.backends.cpu.get_cpu_capability()} (oneDNN, MKL)"


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def reports(repeats: int) -> None:
    for task in ("blobs8x8", "blobs6x6", "blobs8x8-gap"):
        net = load_model(find_default_model(task)[0])
        probe = make_probe(net, "clean")
        for dtype in DTYPES:
            model = torch_model(net, dtype)
            x = torch.from_numpy(probe.x[None]).to(DTYPES[dtype])

            def ours(net=net, probe=probe, dtype=dtype):
                return saliency_report(net, probe, steps=50, quadrature="right", samples=16, dtype=dtype)

            def theirs(model=model, x=x):
                target = int(model(x).argmax())
                sigma = 0.15 * float(x.max() - x.min())
                maps = [Saliency(model).attribute(x, target=target, abs=False)]
                maps.append(
                    NoiseTunnel(Saliency(model)).attribute(
                        x, nt_type="smoothgrad", nt_samples=16, stdevs=sigma, target=target
                    )
                )
                maps.append(
                    IntegratedGradients(model).attribute(
                        x, target=target, n_steps=50, method="riemann_right", return_convergence_delta=True
                    )
                )
                return maps

            report = ours()
            note = agree(report.methods["integrated_gradients"].attribution, theirs()[2][0][0], dtype)
            times = interleaved(ours, theirs, repeats, burst=5)
            row(f"report {task} (vanilla+SG16+IG50), in-process", dtype, *times, note)


def conv_ig(sizes, repeats: int, peaks: dict[str, float] | None = None) -> None:
    for size in sizes:
        net = conv_net(size)
        x = np.random.default_rng(1).uniform(size=(1, size, size))
        for dtype in DTYPES:
            model = torch_model(net, dtype)
            xt = torch.from_numpy(x[None]).to(DTYPES[dtype])
            ig = IntegratedGradients(model)

            def ours(net=net, x=x, dtype=dtype):
                return IG.integrated_gradients(net, x, target=3, steps=50, quadrature="right", dtype=dtype)

            def theirs(ig=ig, xt=xt):
                return ig.attribute(xt, target=3, n_steps=50, method="riemann_right")

            note = agree(ours(), theirs()[0], dtype)
            t_ours, t_theirs = interleaved(ours, theirs, repeats)
            tracemalloc.start()
            ours()
            mem = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            note += f", our peak {mem / 2**20:.0f} MiB"
            if peaks and size == max(sizes):
                rate = gemm_rate(ours, dtype)
                note += f", conv GEMMs at {rate:.0f} GFLOP/s ({rate / peaks[dtype]:.0%} of peak)"
            row(f"IG-50 right, conv net S={size}", dtype, t_ours, t_theirs, note)


def onnx_torch(name: str, dtype: str) -> torch.nn.Module:
    """The fixture's PyTorch module (bench/make_onnx_fixtures.py) with the .onnx file's weights, up to the logits."""
    import onnx
    from make_onnx_fixtures import LeNet, ResNet, exact_float32_attributes
    from onnx import numpy_helper

    model = {"lenet": LeNet, "resnet": ResNet}[name]()
    graph = onnx.load(ONNX / f"{name}.onnx").graph
    stored = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy()) for t in graph.initializer}
    state = model.state_dict()
    missing = [key for key in state if key not in stored and not key.endswith("num_batches_tracked")]
    assert not missing, f"weights not found in {name}.onnx: {missing}"
    model.load_state_dict({k: stored.get(k, v) for k, v in state.items()})
    model = model.to(DTYPES[dtype]).eval()
    exact_float32_attributes(model)

    class Logits(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = model

        def forward(self, x):
            return model.logits(x) if name == "lenet" else model(x)

    return Logits().eval()


def imported_ig(repeats: int) -> None:
    """IG-50 (right rule) on the imported LeNet (a chain: the sequential engine) and residual network (the graph
    engine) against PyTorch + Captum on the same weights."""
    for name in ("lenet", "resnet"):
        net = load_model(ONNX / f"{name}.onnx")
        x = np.load(ONNX / f"{name}.npz")["x"][0]
        for dtype in DTYPES:
            ig = IntegratedGradients(onnx_torch(name, dtype))
            xt = torch.from_numpy(x[None]).to(DTYPES[dtype])

            def ours(net=net, x=x, dtype=dtype):
                return IG.integrated_gradients(net, x, target=0, steps=50, quadrature="right", dtype=dtype)

            def theirs(ig=ig, xt=xt):
                return ig.attribute(xt, target=0, n_steps=50, method="riemann_right")

            note = agree(ours(), theirs()[0], dtype)
            t_ours, t_theirs = interleaved(ours, theirs, repeats)
            row(f"IG-50 right, imported {name} ({type(net).__name__})", dtype, t_ours, t_theirs, note)


def imported_lrp(repeats: int) -> None:
    """LRP-epsilon on the imported residual network (BatchNorm merged: our canonical form against Zennit's
    canonizer, each applied in every run) against Zennit on the same weights, float64."""
    from make_lrp_references import EPS, RESNET_BN, NamedFixedMergeBatchNorm, ResNetLRP, base, load
    from zennit.composites import LayerMapComposite
    from zennit.rules import Epsilon
    from zennit.types import Convolution, Linear

    from saliency_cli.methods.lrp.walk import lrp

    net = load_model(ONNX / "resnet.onnx")
    x = np.load(ONNX / "resnet.npz")["x"][:1]
    model = load(ResNetLRP(), ONNX / "resnet.onnx")
    layer_map = [*base(), (Convolution, Epsilon(EPS)), (Linear, Epsilon(EPS))]
    composite = LayerMapComposite(layer_map, canonizers=[NamedFixedMergeBatchNorm(RESNET_BN)])

    def ours():
        return lrp(net, x, target=0, rule="epsilon", eps=EPS)[0]

    def theirs():
        xt = torch.tensor(x, requires_grad=True)
        with composite.context(model) as modified:
            out = modified(xt)
            seed = torch.zeros_like(out)
            seed[0, 0] = out[0, 0].detach()
            (relevance,) = torch.autograd.grad(out, xt, seed)
        return relevance

    note = agree(ours(), theirs(), "float64")
    t_ours, t_theirs = interleaved(ours, theirs, repeats)
    row("LRP-epsilon, imported resnet (Graph) vs Zennit", "float64", t_ours, t_theirs, note)


def gemm_rate(run, dtype: str) -> float:
    """GFLOP/s of the conv engine's GEMMs during `run()`: each thread's flops over its time in matmul, summed."""
    real = np.matmul
    per_thread: dict[int, list[float]] = {}

    class Timed:
        def __getattr__(self, name):
            return getattr(np, name)

        @staticmethod
        def matmul(a, b, out=None):
            start = time.perf_counter()
            real(a, b, out=out)
            spent = time.perf_counter() - start
            import threading

            acc = per_thread.setdefault(threading.get_ident(), [0.0, 0.0])
            acc[0] += 2.0 * a.shape[0] * a.shape[1] * b.shape[1]
            acc[1] += spent
            return out

    ops.np = Timed()
    try:
        run()
    finally:
        ops.np = np
    return sum(flops / spent for flops, spent in per_thread.values()) / 1e9


def exact_ig(sizes) -> None:
    for size in sizes:
        net = conv_net(size)
        x = np.random.default_rng(1).uniform(size=(1, size, size))
        start = time.perf_counter()
        _, check = IG.integrated_gradients(net, x, target=3, exact=True, return_completeness=True, max_pieces=10**6)
        spent = time.perf_counter() - start
        print(
            f"{'exact IG, conv net S=' + str(size):<48} {'float64':<8} {fmt(spent):>10} {'-':>10} {'-':>7}  "
            f"{int(check.pieces)} pieces, gap {float(check.gap_rel):.1e}",
            flush=True,
        )


_THEIR_SCRIPT = """
import numpy as np, torch
from captum.attr import IntegratedGradients, NoiseTunnel, Saliency
from compare_torch import torch_model
from saliency_cli.inputs import make_probe
from saliency_cli.locate import find_default_model
from saliency_cli.nn.modelfile import load_model
net = load_model(find_default_model("blobs8x8")[0]); probe = make_probe(net, "clean")
model = torch_model(net, "float64"); x = torch.from_numpy(probe.x[None])
t = int(model(x).argmax()); s = 0.15 * float(x.max() - x.min())
a = [Saliency(model).attribute(x, target=t, abs=False),
     NoiseTunnel(Saliency(model)).attribute(x, nt_type="smoothgrad", nt_samples=16, stdevs=s, target=t),
     IntegratedGradients(model).attribute(x, target=t, n_steps=50, method="riemann_right")]
print(sum(float(m.sum()) for m in a))
"""


def whole_process(repeats: int) -> None:
    exe = shutil.which("saliency-cli", path=str(Path(sys.executable).parent)) or "saliency-cli"
    ours_cmd = [exe, "saliency", "--probe", "clean", "--format", "json"]
    theirs_cmd = [sys.executable, "-W", "ignore", "-c", _THEIR_SCRIPT]
    # the floor: the interpreter and the two imports any run of ours needs, timed in the same rounds
    floor_cmd = [sys.executable, "-c", "import numpy, click"]
    # NOTE: ROOT too: the console script's own directory (the venv's bin) is first on its sys.path, so without it
    # ours would run whichever checkout the venv's editable install points at, not this one.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join((str(ROOT / "bench"), str(ROOT)))}
    times: list[list[float]] = [[], [], []]
    for _ in range(repeats):
        for i, cmd in enumerate((ours_cmd, theirs_cmd, floor_cmd)):
            start = time.perf_counter()
            subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, env=env)
            times[i].append(time.perf_counter() - start)
    ours, theirs, floor = (statistics.median(t) for t in times)
    row(
        "whole process: saliency --probe clean --format json",
        "float64",
        ours,
        theirs,
        f"medians (theirs: exact IG -> IG-50); `python -c 'import numpy, click'` {fmt(floor)}",
    )


def main() -> None:
    import warnings

    warnings.filterwarnings("ignore", message="Input Tensor 0 did not already require gradients")
    quick = "--quick" in sys.argv
    print(f"torch {torch.__version__} (threads {torch.get_num_threads()}), numpy {np.__version__}")
    if torch.version.cuda is not None:
        print("note: this torch is a CUDA build; the comparison runs on the CPU all the same")
    print(kernels())
    peaks = peak()
    print(f"{'work':<48} {'dtype':<8} {'ours':>10} {'theirs':>10} {'ratio':>7}")
    reports(3 if quick else 15)
    if "--reports" in sys.argv:  # only the in-process report rows (quick to repeat while tuning them)
        return
    imported_ig(3 if quick else 11)
    imported_lrp(3 if quick else 11)
    if "--imported" in sys.argv:  # only the imported models' rows
        return
    conv_ig((32, 64) if quick else (32, 64, 128), 2 if quick else 4, peaks=peaks)
    # NOTE: exact IG walks its path piece by piece (one pass per piece): ~24,000 pieces at S=32 take minutes,
    # S=64 (about 4x the units) many more; --exact64 adds it.
    if "--no-exact" not in sys.argv:
        exact_ig(() if quick else ((32, 64) if "--exact64" in sys.argv else (32,)))
    whole_process(3 if quick else 11)


if __name__ == "__main__":
    main()
