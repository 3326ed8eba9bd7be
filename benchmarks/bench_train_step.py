"""One SKD training step (teacher + student forward, four losses, revised backward, SGD step):
skdcore (fused ops + fast multi-loss backward) vs pure-PyTorch reference (4 backward passes),
same model and inputs, ratio of medians measured in one run, plus peak memory of both.

    python benchmarks/bench_train_step.py                 # B=16, T=100, V=25, M=2, reference Shift-GCN
    python benchmarks/bench_train_step.py --frames 100 300
    python benchmarks/bench_train_step.py --quick         # tiny smoke run
    python benchmarks/bench_train_step.py --model ctr_gcn --batch-size 4 --frames 64   # CTR-GCN step
"""
from __future__ import annotations

import json

import torch

from common import base_parser, machine_line, markdown_table
from skdcore.bench_step import QUICK_MODEL, bench_train_step, format_result


def main() -> None:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, nargs="+", default=[100])
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--model", default="shift_gcn")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    rows = []
    for frames in ([16] if args.quick else args.frames):
        r = bench_train_step(frames, 4 if args.quick else args.batch_size, args.model,
                             2 if args.quick else args.repeats, QUICK_MODEL if args.quick else None,
                             args.device, memory=True)
        print(format_result(r), flush=True)
        print(json.dumps(r), flush=True)
        rows.append([f"B={r['batch_size']} T={r['frames']}", f"{r['skdcore_s'] * 1e3:.0f}",
                     f"{r['reference_s'] * 1e3:.0f}",
                     f"{r['speedup']:.2f}x", f"{r['skdcore_peak_mb']:.0f}", f"{r['reference_peak_mb']:.0f}"])
    print(f"\nSKD train step ({args.model}) on {machine_line()}")
    header = ["shape", "skdcore ms", "reference ms", "speed-up", "skdcore peak MB", "reference peak MB"]
    print(markdown_table(header, rows))


if __name__ == "__main__":
    main()
