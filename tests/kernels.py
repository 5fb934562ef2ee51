"""`python -m tests.kernels`: the engine, determinism and method tests again under other OpenBLAS kernels
(`make test-kernels`, run by `.ci/run` after `make test`).

The tests must hold whichever kernel numpy's OpenBLAS picks (see tests/roundoff.py). This runs them under at
least two other core types this CPU can run, each in its own pytest process with OPENBLAS_CORETYPE set in that
process's environment only (neither the tool nor the tests ever set it):

- x86-64: Prescott (SSE2, no fused multiply-add) on every CPU, plus the newest of SkylakeX (AVX-512), Haswell
  (AVX2 + FMA), Sandybridge (AVX), Nehalem that the CPU runs and that differs from the kernel of the first pass
  (`make test`, in this environment): an AVX-512 CPU gets Haswell, an AVX2 CPU Sandybridge.
- aarch64: the generic ARMV8 kernels and CORTEXA57 (plain ARMv8-A NEON, which every aarch64 CPU runs), or the
  machine's own core type, named, where one of those is the first pass's.

Then once more under an emulated kernel (tests/splitk.c, built with the C compiler `cc` and loaded with
LD_PRELOAD; skipped with a note where there is no compiler or numpy's BLAS is not its bundled OpenBLAS): it sums
each product's terms in an order chosen by the product's shape, so a test that compares products of different
shapes bit for bit fails on any CPU, as it would on the AVX-512 kernels.

The passes run side by side: all start at once, each one pytest process without pytest-xdist (a worker a core
in each pass would repeat the start-up and collection, ~3 s of CPU a process), and the OS shares the cores out.
On a 2-core AMD EPYC (AVX2; numpy's OpenBLAS 0.3.31) a pass took 30-36 s of CPU and the three 95-105 s, so
about 50 s on two idle cores; one after the other with a worker a core they took ~115 s of CPU. Other processes
on the cores stretch the wall time, not the CPU time: re-measure with `/usr/bin/time python -m tests.kernels`.
Each pass is reported as it ends, with its wall and CPU time (its subprocesses' included) and pytest's last
line, after all its output when it fails.

Prints the kernel of the first pass and each core type run (as OpenBLAS reports it); exit code 1 when a pass
fails, 0 with a note when numpy's BLAS is not OpenBLAS (OPENBLAS_CORETYPE then means nothing).

`python -m tests.kernels --measure [N]` measures instead how far the maps users get move from one kernel to
another (docs/portability.md): the shipped models' saliency (vanilla, SmoothGrad, exact IG), LRP (gamma) and
Grad-CAM JSON Lines on N probes (default 40), computed under the default kernel and each other core type; per
map, max |a - b| / max |b|, the largest over the probes, and how many maps are the same bytes.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: The modules run again: the tests whose numbers come out of BLAS products. The engine and the layers; the methods,
#: checked against finite differences and their axioms at a round-off bound; and the determinism of files, new
#: processes and --workers, which holds only while every run does the same products on the same shapes (the
#: emulated kernel rounds by shape, as the AVX-512 kernels do; a kernel may also take another path by a buffer's
#: alignment, which differs from process to process). The CLI's options and messages, the renderers' layout and
#: the handling of files are left to the first pass: they do not depend on a product's last bits.
MODULES = [
    "tests/test_conv_engine.py",
    "tests/test_layers.py",
    "tests/test_network.py",
    "tests/test_maxpool.py",
    "tests/test_dtype.py",
    "tests/test_linear_prefix.py",
    "tests/test_gradients.py",
    "tests/test_exact_ig.py",
    "tests/test_lrp.py",
    "tests/test_lrp_conv.py",
    "tests/test_cam.py",
    "tests/test_scores.py",
    "tests/test_report_batch.py",
    "tests/test_train.py::test_train_reaches_held_out_accuracy_and_is_byte_identical_for_a_seed[blobs6x6]",
    "tests/test_determinism.py",
    "tests/test_cli_saliency_batch.py::test_workers_share_the_batch_and_give_the_same_bytes[blobs8x8-gap-args1]",
    "tests/test_cli_evaluate.py::test_same_bytes_for_a_seed_and_any_workers",
]

#: A slow case of those modules, a case repeated at a larger size (~6 s of CPU, a fifth of a pass): left to the
#: first pass. Its smaller cases (blobs8x8, blobs6x6) and exact IG on the blobs8x8-gap model run under every kernel.
DESELECT = [
    "tests/test_exact_ig.py::test_paths_walked_side_by_side_have_each_paths_own_breakpoints[blobs8x8-gap-2]",
]

#: x86-64 core types, newest first, with the /proc/cpuinfo flags their kernels need.
X86 = [
    ("SkylakeX", {"avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"}),
    ("Haswell", {"avx2", "fma"}),
    ("Sandybridge", {"avx"}),
    ("Nehalem", {"sse4_2"}),
]

#: Core names OpenBLAS reports that run the kernels of another core type (its own name, lower case).
FAMILY = {"zen": "haswell", "cooperlake": "skylakex", "sapphirerapids": "skylakex", "katmai": "prescott"}

CORENAME = (
    "import numpy, ctypes\n"
    "from saliency_cli.nn.blas import openblas_function\n"
    "fn = openblas_function('openblas_get_corename', 'scipy_openblas_get_corename64_')\n"
    "if fn is not None:\n"
    "    fn.restype = ctypes.c_char_p\n"
    "print(fn().decode() if fn is not None else '')\n"
)


def corename(env: dict) -> str | None:
    """The core type numpy's OpenBLAS runs with in a process of `env` ('' when it is not OpenBLAS), or None
    when that process fails (an instruction this CPU lacks)."""
    done = subprocess.run([sys.executable, "-c", CORENAME], env=env, capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else None


def family(name: str) -> str:
    return FAMILY.get(name.lower(), name.lower())


def cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith(("flags", "Features")):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def core_types(machine: str, flags: set[str], first: str) -> list[str]:
    """The core types of the second pass for a CPU of `machine` (platform.machine()) and `flags`, whose first
    pass ran `first` (OpenBLAS's name)."""
    if machine in ("x86_64", "AMD64"):
        newer = [name for name, need in X86 if need <= flags and family(name) != family(first)]
        return ["Prescott", *newer[:1]] if family(first) != "prescott" else newer[:2]
    if machine in ("aarch64", "arm64"):
        generic = [name for name in ("ARMV8", "CORTEXA57") if family(name) != family(first)]
        return generic if len(generic) == 2 else [*generic, first.upper()]
    return []


#: (command, task, options): the JSON Lines documents compared by --measure, and the maps they hold.
MEASURED = [
    ("saliency", "blobs6x6", ["--samples", "8"]),
    ("saliency", "blobs8x8", ["--samples", "8"]),
    ("saliency", "blobs8x8-gap", ["--samples", "8"]),
    ("saliency", "digits", ["--samples", "8"]),
    ("lrp", "blobs6x6", ["--rule", "gamma"]),
    ("lrp", "blobs8x8", ["--rule", "gamma"]),
    ("lrp", "digits", ["--rule", "gamma"]),
    ("cam", "blobs8x8-gap", ["--methods", "gradcam"]),
    ("cam", "digits", ["--methods", "gradcam"]),
]


def _probes(task, count: int):
    """`count` probes of a task: drawn by a synthetic task's generator, else its first held-out images."""
    import numpy as np

    if hasattr(task, "sample"):
        return task.sample(count, np.random.default_rng(2024), noise=0.3)[0]
    return task.held_out()[0][:count]


def _maps(command: str, doc: dict) -> dict[str, list]:
    if command == "saliency":
        # (exact IG's count of linear pieces too: a kink within round-off of a piece's end may count or not)
        pieces = {"pieces": doc["methods"]["integrated_gradients"]["pieces"]}
        return {name: m["attribution"] for name, m in doc["methods"].items()} | pieces
    return {"relevance": doc["relevance"]} if command == "lrp" else {"map": doc["map_raw"]}


def measure(count: int) -> int:
    import tempfile

    import numpy as np

    from saliency_cli.tasks import TASKS

    env = dict(os.environ)
    first = corename(env)
    if not first:
        print("measure: numpy's BLAS is not OpenBLAS")
        return 1
    machine, flags = platform.machine(), cpu_flags()
    every = [name for name, need in X86 if need <= flags] + ["Prescott"] if machine in ("x86_64", "AMD64") else []
    every = every or core_types(machine, flags, first)
    cores = [core for core in every if family(core) != family(first) and corename({**env, "OPENBLAS_CORETYPE": core})]
    print(f"measure: {count} probes per model; default kernel {first}, against {', '.join(cores)}", flush=True)
    with tempfile.TemporaryDirectory() as folder:
        for command, task, options in MEASURED:
            x = _probes(TASKS[task], count)
            np.save(os.path.join(folder, "x.npy"), x)
            args = [sys.executable, "-m", "saliency_cli", command, "--task", task, "--input", "x.npy", *options]
            args += ["--format", "jsonl"]
            outputs = {}
            for core in [None, *cores]:
                child = env if core is None else {**env, "OPENBLAS_CORETYPE": core}
                done = subprocess.run(args, env=child, cwd=folder, capture_output=True, text=True, check=True)
                outputs[core] = [_maps(command, json.loads(line)) for line in done.stdout.splitlines()]
            for core in cores:
                worst, same, total, pieces = {}, 0, 0, 0
                for a_doc, b_doc in zip(outputs[core], outputs[None], strict=True):
                    pieces += a_doc.pop("pieces", 0) != b_doc.get("pieces", 0)
                    for name, a in a_doc.items():
                        a, b = np.asarray(a, dtype=float), np.asarray(b_doc[name], dtype=float)
                        rel = float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-300))
                        worst[name] = max(worst.get(name, 0.0), rel)
                        same, total = same + int(a.tobytes() == b.tobytes()), total + 1
                spread = ", ".join(f"{name} {rel:.1e}" for name, rel in worst.items())
                counts = f"{same}/{total} maps the same bytes" + (f", IG pieces differ on {pieces}" if pieces else "")
                print(f"{command} {task} {core} vs {first}: max rel. diff {spread}; {counts}", flush=True)
    return 0


SPLITK = Path(__file__).with_name("splitk.c")

#: Run under the emulated kernel: prints how many products it took.
SPLITK_CHECK = (
    "import ctypes, numpy as np\n"
    "a = np.arange(12.0).reshape(3, 4)\n"
    "a @ a.T.copy()\n"
    "print(ctypes.c_long.in_dll(ctypes.CDLL(None), 'splitk_calls').value)\n"
)


def _command() -> list[str]:
    """One pass: the modules in one pytest process (no xdist: the passes run side by side instead)."""
    deselect = [arg for test in DESELECT for arg in ("--deselect", test)]
    return [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist", *MODULES, *deselect]


def splitk_env(env: dict, folder: str) -> dict | None:
    """`env` with the emulated kernel built in `folder` and preloaded, or None when it cannot be built or take
    numpy's products here."""
    cc = shutil.which(env.get("CC", "cc"))
    if cc is None or not sys.platform.startswith("linux"):
        return None
    lib = os.path.join(folder, "splitk.so")
    if subprocess.run([cc, "-O2", "-fPIC", "-shared", "-o", lib, str(SPLITK), "-ldl"]).returncode != 0:
        return None
    child = {**env, "LD_PRELOAD": ":".join(filter(None, [lib, env.get("LD_PRELOAD")]))}
    check = subprocess.run([sys.executable, "-c", SPLITK_CHECK], env=child, capture_output=True, text=True)
    if check.returncode != 0 or not check.stdout.strip().isdigit() or int(check.stdout) == 0:
        return None  # numpy calls a BLAS of other names: nothing to take over
    return child


def run_side_by_side(passes: dict[str, dict], command: list[str]) -> dict[str, int]:
    """Start `command` once per pass (label: environment) all at once, the CPU shared out by the OS, then report
    each as it ends: its wall and CPU time (its subprocesses included) and its output's last line, or all its
    output when it fails. The exit code of each."""
    started, running, codes = time.perf_counter(), {}, {}
    for label, env in passes.items():
        output = tempfile.TemporaryFile()
        proc = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
        running[proc.pid] = (label, proc, output)
    while running:
        time.sleep(0.1)
        for pid in list(running):
            done, status, usage = os.wait4(pid, os.WNOHANG)  # (usage: the pass's and its subprocesses')
            if done:
                label, proc, output = running.pop(pid)
                proc.returncode = codes[label] = os.waitstatus_to_exitcode(status)
                _report(label, proc.returncode, output, usage, time.perf_counter() - started)
    return codes


def _report(label: str, code: int, output, usage, seconds: float) -> None:
    """One line for a pass that ended (after all its output when it failed)."""
    output.seek(0)
    lines = output.read().decode("utf-8", "replace").rstrip().splitlines() or [""]
    output.close()
    if code != 0:
        print("\n".join(lines), flush=True)
    print(f"test-kernels: {label}: exit {code} in {seconds:.0f} s "
          f"({usage.ru_utime + usage.ru_stime:.0f} s of CPU): {lines[-1].strip('= ')}", flush=True)  # fmt: skip


def main() -> int:
    if sys.argv[1:2] == ["--measure"]:
        return measure(int(sys.argv[2]) if len(sys.argv) > 2 else 40)
    env = {key: value for key, value in os.environ.items()}
    first = corename(env)
    if not first:
        print("test-kernels: numpy's BLAS is not OpenBLAS: OPENBLAS_CORETYPE does not apply; nothing to run")
        return 0
    chosen = core_types(platform.machine(), cpu_flags(), first)
    print(f"test-kernels: first pass ran OpenBLAS {first}; again under {', '.join(chosen) or 'none'}", flush=True)
    passes = {}
    for core in chosen:
        child = {**env, "OPENBLAS_CORETYPE": core}
        runs = corename(child)
        if runs is None or family(runs) != family(core):
            # (a library built without that core type runs another in its place, maybe the first pass's)
            print(f"test-kernels: {core}: OpenBLAS runs {runs or 'nothing (the process failed)'}; skipped")
            continue
        passes[f"OPENBLAS_CORETYPE={core} (OpenBLAS {runs})"] = child
    with tempfile.TemporaryDirectory() as folder:
        emulated = splitk_env(env, folder)
        if emulated is None:
            print(
                "test-kernels: emulated kernel (tests/splitk.c) skipped: no C compiler, or not numpy's bundled OpenBLAS"
            )
        else:
            passes["emulated kernel (tests/splitk.c, sums split by shape)"] = emulated
        print(f"test-kernels: {len(passes)} passes side by side, one pytest process each", flush=True)
        codes = run_side_by_side(passes, _command())
    return 1 if any(codes.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
