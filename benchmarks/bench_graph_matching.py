"""Benchmark skdcore.graph_matching_loss vs the eager reference and torch.compile(reference).

Times forward (no grad) and forward+backward (student grad) with torch.utils.benchmark (medians,
all three implementations in the same run so the ratios are fair on a noisy machine), then the
peak extra memory of one forward+backward at P = 1875.

Memory method (CPU): each implementation runs in a fresh subprocess; after warm-up (and, for the
compiled reference, compilation) the kernel's peak-RSS counter is reset (`echo 5 >
/proc/self/clear_refs`), the resident set is read (VmRSS), one forward+backward runs, and the peak
(VmHWM) minus that baseline is the extra memory the loss needed. torch's CPU allocator returns
large blocks to the OS, so this is the real high-water mark of the op. On CUDA it is
torch.cuda.max_memory_allocated after reset_peak_memory_stats.

On CUDA the op has two paths (SKDCORE_GRAPH_MATCHING_CUDA): "skdcore" is the default cuBLAS
Gram-chunk path (gemm), "fused" the shared-memory kernels; both are timed in the same run.

    python benchmarks/bench_graph_matching.py [--quick] [--device cpu|cuda] [--tf32-matmuls]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys

import torch

import skdcore
from common import base_parser, machine_line, markdown_table, median_seconds, on_path
from skdcore.reference.graph_matching import graph_matching_loss_reference

# (N, C, T, V): SKD's size (batch 16 x 2 persons, 256 channels, 25 frames x 25 joints), longer clips,
# and fewer channels.
SHAPES = [(32, 256, 25, 25), (32, 256, 75, 25), (32, 64, 25, 25)]
QUICK_SHAPES = [(8, 256, 25, 25), (4, 256, 75, 25), (8, 64, 25, 25)]
MEMORY_SHAPE = (32, 256, 75, 25)
QUICK_MEMORY_SHAPE = (8, 256, 75, 25)
# --large: P = 5000 at a batch whose P x P matrices (~0.8 GB per sample for eager) exceed an 80 or
# 141 GB GPU (~200 GB); skdcore needs O(P * C) per sample.
LARGE_SHAPE = (256, 256, 200, 25)


def cuda_path(path):
    return on_path("graph_matching_cuda", path, skdcore.ops.graph_matching_loss)


def implementations(device):
    torch._dynamo.reset()  # a fresh compiled reference per shape (no recompile-limit surprises)
    compiled = torch.compile(graph_matching_loss_reference, dynamic=False)
    ours = {"skdcore": skdcore.ops.graph_matching_loss}
    if device == "cuda":
        ours = {"skdcore": cuda_path("gemm"), "fused": cuda_path("fused")}
    return {**ours, "eager": graph_matching_loss_reference, "compile": compiled}


def make_inputs(shape, device, requires_grad):
    generator = torch.Generator().manual_seed(0)
    student = torch.randn(shape, generator=generator).to(device).requires_grad_(requires_grad)
    teacher = torch.randn(shape, generator=generator).to(device)
    return student, teacher


def forward_backward(fn, student, teacher):
    student.grad = None
    fn(student, teacher).backward()


def forward_only(fn, student, teacher):
    with torch.no_grad():
        fn(student, teacher)


def time_all(shape, device, min_run_time):
    student, teacher = make_inputs(shape, device, requires_grad=True)
    rows = {}
    for name, fn in implementations(device).items():
        for mode, body in (("fwd", forward_only), ("fwd+bwd", forward_backward)):
            body(fn, student, teacher)  # warm-up (compiles the reference)
            rows[(name, mode)] = median_seconds(
                lambda body=body, fn=fn: body(fn, student, teacher), min_run_time
            )
    return rows


def _rss_kib(field):
    with open("/proc/self/status") as status:
        return int(re.search(rf"{field}:\s+(\d+)", status.read()).group(1))


def measure_memory_child(name, shape, device):
    """Runs in a subprocess: prints the peak extra bytes of one forward+backward of `name`
    (or {"oom": true} when it runs out of memory)."""
    fn = implementations(device)[name]
    student, teacher = make_inputs(shape, device, requires_grad=True)
    try:
        forward_backward(fn, student, teacher)
    except torch.OutOfMemoryError:
        print(json.dumps({"oom": True}))
        return
    student.grad = None
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        forward_backward(fn, student, teacher)
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() - base
    else:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")  # resets VmHWM to the current RSS
        base = _rss_kib("VmRSS")
        forward_backward(fn, student, teacher)
        peak = (_rss_kib("VmHWM") - base) * 1024
    print(json.dumps({"peak_extra_bytes": peak}))


def measure_memory(name, shape, device):
    result = subprocess.run(
        [
            sys.executable,
            __file__,
            "--memory-child",
            name,
            "--shape",
            ",".join(map(str, shape)),
            "--device",
            device,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    return None if answer.get("oom") else answer["peak_extra_bytes"]


def run_large(device):
    """P = 5000 at LARGE_SHAPE: skdcore's time and peak memory, and whether eager fits at all."""
    N, C, T, V = LARGE_SHAPE
    functions = implementations(device)
    ours = [name for name in functions if name not in ("eager", "compile")]
    student, teacher = make_inputs(LARGE_SHAPE, device, requires_grad=True)
    def step(fn, s=student, t=teacher):
        return lambda: forward_backward(fn, s, t)

    seconds = {name: median_seconds(step(functions[name]), 1.0) for name in ours}
    del step, student, teacher  # NB: step's defaults hold the inputs too
    peaks = {name: measure_memory(name, LARGE_SHAPE, device) for name in ours + ["eager"]}
    print(f"\nP={T * V} (N={N} C={C} T={T} V={V}) on {machine_line()}: fwd+bwd "
          + ", ".join(f"{name} {t * 1e3:.0f} ms" for name, t in seconds.items()))
    for name, peak in peaks.items():
        print(f"  {name}: " + ("out of memory" if peak is None else f"peak extra {peak / 2**20:.0f} MiB"))


def main():
    parser = base_parser(__doc__)
    parser.add_argument("--memory-child", help=argparse.SUPPRESS)
    parser.add_argument("--shape", help=argparse.SUPPRESS)
    parser.add_argument("--large", action="store_true",
                        help=f"only the P=5000 run at {LARGE_SHAPE} (GPU-sized: eager needs >140 GB)")
    parser.add_argument("--tf32-matmuls", action="store_true",
                        help="CUDA: allow TF32 matmuls (torch.backends.cuda.matmul.allow_tf32) for eager and "
                             "compile; skdcore's gemm path keeps its own Gram products in fp32")
    args = parser.parse_args()
    if args.tf32_matmuls:
        torch.backends.cuda.matmul.allow_tf32 = True
    if args.memory_child:
        measure_memory_child(args.memory_child, tuple(int(x) for x in args.shape.split(",")), args.device)
        return
    if args.large:
        run_large(args.device)
        return

    shapes = QUICK_SHAPES if args.quick else SHAPES
    # GPU timings are steady: half a second per measurement is plenty there
    min_run_time = 0.5 if args.quick or args.device == "cuda" else 3.0
    ours = [name for name in implementations(args.device) if name not in ("eager", "compile")]
    rows = []
    for shape in shapes:
        times = time_all(shape, args.device, min_run_time)
        for mode in ("fwd", "fwd+bwd"):
            eager, compiled = times[("eager", mode)], times[("compile", mode)]
            row = [f"N={shape[0]} C={shape[1]} T={shape[2]} V={shape[3]} (P={shape[2] * shape[3]})", mode]
            row += [f"{times[(name, mode)] * 1e3:.1f}" for name in ours]
            row += [f"{eager * 1e3:.1f}", f"{compiled * 1e3:.1f}"]
            for name in ours:
                row += [f"{eager / times[(name, mode)]:.2f}x", f"{compiled / times[(name, mode)]:.2f}x"]
            rows.append(row)
            print(" | ".join(row), flush=True)
    print(f"\ngraph_matching_loss on {machine_line()}, float32")
    ratio_headers = [f"{name} vs {other}" if len(ours) > 1 else f"vs {other}"
                     for name in ours for other in ("eager", "compile")]
    print(markdown_table(["shape", "pass"] + [f"{name} ms" for name in ours] + ["eager ms", "compile ms"]
                         + ratio_headers, rows))

    memory_shape = QUICK_MEMORY_SHAPE if args.quick else MEMORY_SHAPE
    peaks = {name: measure_memory(name, memory_shape, args.device) for name in ours + ["eager", "compile"]}
    print(
        f"\nPeak extra memory of one fwd+bwd, N={memory_shape[0]} C={memory_shape[1]} "
        f"T={memory_shape[2]} V={memory_shape[3]} (P={memory_shape[2] * memory_shape[3]}):"
    )
    print(
        markdown_table(
            ["impl", "peak extra MiB", "skdcore / impl"],
            [
                [name, "out of memory", "-"] if peak is None else
                [name, f"{peak / 2**20:.1f}", f"{peaks['skdcore'] / max(peak, 1):.3f}"]
                for name, peak in peaks.items()
            ],
        )
    )


if __name__ == "__main__":
    main()
