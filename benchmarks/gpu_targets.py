"""The open GPU targets of the project, each measured briefly, each ending in verdict lines.

One target per call (gpu_check.sh runs them as time-boxed stages); every verdict is printed as a line
`VERDICT {"measure": ..., "target": ..., "value": ..., "met": true|false}` that gpu_check.sh collects
into its final table. Short timings: the GPU figures are steady, the full benchmarks
(bench_*.py) stay for longer runs.

    python benchmarks/gpu_targets.py graph-matching|gradient-revision|graph-conv|skd-step [--device cuda]
    python benchmarks/gpu_targets.py graph-matching --device cpu --quick     # smoke run, tiny sizes
"""
from __future__ import annotations

import argparse
import json
import math

import torch

import bench_graph_conv
import bench_graph_matching
from bench_gradient_revision import PARAMETER_SETS, eager_revision
from common import median_seconds
from skdcore.bench_step import bench_train_step
from skdcore.ops import gradient_revision

STAGE = {"name": ""}  # the target being measured: gpu_check.sh matches verdicts to its stages by it


def verdict(measure: str, target: str, value: float, needed: float) -> None:
    print("VERDICT " + json.dumps({"stage": STAGE["name"], "measure": measure, "target": target,
                                   "value": f"{value:.2f}x", "met": bool(value >= needed)}), flush=True)


def graph_matching(args) -> None:
    """fwd+bwd >= 2x eager and >= 1x torch.compile at C=256, P=625 and P=1875 (default gemm path)."""
    shapes = [(32, 256, 25, 25), (32, 256, 75, 25)] if not args.quick else [(2, 16, 5, 5)]
    for shape in shapes:
        times = bench_graph_matching.time_all(shape, args.device, args.min_run_time)
        ours = times[("skdcore", "fwd+bwd")]
        label = f"graph_matching fwd+bwd C={shape[1]} P={shape[2] * shape[3]}"
        verdict(f"{label} vs eager", ">= 2x", times[("eager", "fwd+bwd")] / ours, 2.0)
        verdict(f"{label} vs compile", ">= 1x", times[("compile", "fwd+bwd")] / ours, 1.0)


def gradient_revision_op(args) -> None:
    """The fused op >= 10x the eager revision at 3.1 M parameters (ST-GCN-like, K=3 distill losses)."""
    shapes = PARAMETER_SETS["ST-GCN-like"] if not args.quick else [(64, 32), (32,)]
    torch.manual_seed(0)
    task = [torch.randn(s, device=args.device) for s in shapes]
    distill = [[torch.randn(s, device=args.device) for s in shapes] for _ in range(3)]
    ours = median_seconds(lambda: gradient_revision(task, distill), args.min_run_time)
    eager = median_seconds(lambda: eager_revision(task, distill), args.min_run_time)
    numel = sum(math.prod(s) for s in shapes)
    verdict(f"gradient_revision op, {numel / 1e6:.1f} M params, vs eager", ">= 10x", eager / ours, 10.0)


def graph_conv(args) -> None:
    """fwd+bwd >= 1.2x eager at every benchmark shape (N=32, the default gemm path, one round)."""
    shapes = bench_graph_conv.FULL_SHAPES if not args.quick else bench_graph_conv.QUICK_SHAPES[:1]
    impls = {"skdcore": bench_graph_conv.cuda_path("gemm") if args.device == "cuda" else
             bench_graph_conv.skdcore.ops.graph_conv, "eager": bench_graph_conv.graph_conv_reference}
    N = 32 if not args.quick else 2
    for C_in, C_out, T, V, learn_edges in shapes:
        t = bench_graph_conv.measure(N, C_in, C_out, T, V, learn_edges, args.device, impls, 1,
                                     args.min_run_time)
        label = f"graph_conv fwd+bwd {C_in}->{C_out} T={T} V={V}" + (" +edges" if learn_edges else "")
        verdict(f"{label} vs eager", ">= 1.2x", t[("eager", "fwd+bwd")] / t[("skdcore", "fwd+bwd")], 1.2)


def skd_step(args) -> None:
    """The SKD step with bf16 autocast >= 4x the fp32 reference step (ST-GCN, B=16, T=100)."""
    frames, batch, repeats = (100, 16, 5) if not args.quick else (8, 2, 1)
    model_args = None if not args.quick else {"channels": [8, 16], "strides": [1, 2]}
    r = bench_train_step(frames, batch, "st_gcn", repeats, model_args, args.device, memory=False, amp="bf16")
    verdict(f"SKD step ST-GCN B={batch} T={frames}, bf16 vs fp32 reference", ">= 4x", r["speedup"], 4.0)


TARGETS = {"graph-matching": graph_matching, "gradient-revision": gradient_revision_op,
           "graph-conv": graph_conv, "skd-step": skd_step}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("target", choices=sorted(TARGETS))
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--quick", action="store_true", help="tiny sizes (a smoke run of the script)")
    parser.add_argument("--min-run-time", type=float, default=0.3, help="seconds per timing (median)")
    args = parser.parse_args()
    STAGE["name"] = args.target
    TARGETS[args.target](args)


if __name__ == "__main__":
    main()
