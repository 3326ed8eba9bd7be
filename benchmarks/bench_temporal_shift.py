"""Benchmark skdcore.temporal_shift vs the eager reference and torch.compile(reference).

Shapes are those Shift-GCN feeds the op inside an SKD step (N*M = 32 series batches, V = 25 joints,
C/T per stage, stride 1 and 2) plus V = 18. Prints medians (torch.utils.benchmark) and the ratios
measured in the same run: speed-up = time(baseline) / time(skdcore).

    python benchmarks/bench_temporal_shift.py [--device cuda] [--quick]
"""
from __future__ import annotations

import argparse

import torch
import torch.utils.benchmark as benchmark

from skdcore.ops import temporal_shift
from skdcore.reference.temporal_shift import temporal_shift_reference

SHAPES = [  # (N, C, T, V, stride)
    (32, 64, 100, 25, 1),
    (32, 128, 100, 25, 2),
    (32, 128, 50, 25, 1),
    (32, 256, 50, 25, 2),
    (32, 256, 25, 25, 1),
    (32, 64, 100, 18, 1),
]


def forward_backward(fn):
    def run(x, shift, stride, grad):
        y = fn(x, shift, stride)
        torch.autograd.grad(y, (x, shift), grad)
    return run


def median_ms(fn, args, min_run_time):
    timer = benchmark.Timer(stmt="fn(*args)", globals={"fn": fn, "args": args})
    return timer.blocked_autorange(min_run_time=min_run_time).median * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--quick", action="store_true", help="two shapes, short timing (smoke test)")
    parser.add_argument("--no-compile", action="store_true", help="skip torch.compile(reference)")
    args = parser.parse_args()
    shapes = SHAPES[:2] if args.quick else SHAPES
    min_run_time = 0.2 if args.quick else 1.0
    print(f"torch {torch.__version__}, device {args.device}, threads {torch.get_num_threads()}")
    header = (f"{'N,C,T,V,s':>20} | {'pass':>7} | {'eager ms':>9} | {'compile ms':>10} | {'skdcore ms':>10} |"
              f" {'x eager':>7} | {'x compile':>9}")
    print(header)
    print("-" * len(header))
    for N, C, T, V, stride in shapes:
        x = torch.randn(N, C, T, V, device=args.device, requires_grad=True)
        shift = ((torch.rand(C, device=args.device) - 0.5) * 6).requires_grad_(True)
        grad = torch.randn(N, C, T // stride, V, device=args.device)
        expected = temporal_shift_reference(x, shift, stride)
        torch.testing.assert_close(temporal_shift(x, shift, stride), expected)
        for name in ("fwd", "fwd+bwd"):
            # A fresh compiled function per shape and pass: no recompile-limit fallback to eager.
            torch._dynamo.reset()
            compiled_reference = None if args.no_compile else torch.compile(temporal_shift_reference)
            wrap = (lambda f: f) if name == "fwd" else forward_backward
            call_args = (x, shift, stride) if name == "fwd" else (x, shift, stride, grad)
            with torch.no_grad() if name == "fwd" else torch.enable_grad():
                eager = median_ms(wrap(temporal_shift_reference), call_args, min_run_time)
                ours = median_ms(wrap(temporal_shift), call_args, min_run_time)
                compiled = (median_ms(wrap(compiled_reference), call_args, min_run_time)
                            if compiled_reference is not None else float("nan"))
            label = f"{N},{C},{T},{V},{stride}"
            print(f"{label:>20} | {name:>7} | {eager:9.3f} | {compiled:10.3f} | {ours:10.3f} |"
                  f" {eager / ours:7.2f} | {compiled / ours:9.2f}")


if __name__ == "__main__":
    main()
