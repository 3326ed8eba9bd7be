"""One SKD training step (teacher + student forward, four losses, revised backward, SGD step):
skdcore (fused ops + fast multi-loss backward) vs pure-PyTorch reference (4 backward passes),
same model and inputs, ratio of medians measured in one run, plus peak memory of both.

    python benchmarks/bench_train_step.py                 # B=16, T=100, V=25, M=2, reference Shift-GCN
    python benchmarks/bench_train_step.py --frames 100 300
    python benchmarks/bench_train_step.py --amp bf16 --compile --model st_gcn
    python benchmarks/bench_train_step.py --quick         # tiny smoke run
    python benchmarks/bench_train_step.py --model ctr_gcn --batch-size 4 --frames 64   # CTR-GCN step

--amp / --compile apply to the skdcore step only (as train.amp / train.compile); the reference stays
float32 and eager, and the float32 eager skdcore step is timed in the same run as well.
"""
from __future__ import annotations

import json

import torch

from common import base_parser, machine_line, markdown_table
from skdcore.bench_step import QUICK_MODEL, bench_train_step, format_result, variant_label
from skdcore.train.amp import AMP_MODES


def main() -> None:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, nargs="+", default=[100])
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--model", default="shift_gcn")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch default)")
    parser.add_argument("--amp", choices=AMP_MODES, default="off",
                        help="mixed precision of the skdcore step's forward passes (train.amp)")
    parser.add_argument("--compile", action="store_true",
                        help="torch.compile the skdcore step's student and teacher (train.compile)")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory subprocesses")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    rows = []
    for frames in ([16] if args.quick else args.frames):
        r = bench_train_step(frames, 4 if args.quick else args.batch_size, args.model,
                             2 if args.quick else args.repeats, QUICK_MODEL if args.quick else None,
                             args.device, memory=not args.no_memory, amp=args.amp, compile=args.compile)
        print(format_result(r), flush=True)
        print(json.dumps(r), flush=True)
        row = [f"B={r['batch_size']} T={r['frames']}", f"{r['skdcore_s'] * 1e3:.0f}",
               f"{r['reference_s'] * 1e3:.0f}", f"{r['speedup']:.2f}x"]
        if "skdcore_fp32_s" in r:
            row += [f"{r['skdcore_fp32_s'] * 1e3:.0f}", f"{r['fp32_speedup']:.2f}x"]
        if not args.no_memory:
            row += [f"{r['skdcore_peak_mb']:.0f}", f"{r['reference_peak_mb']:.0f}"]
        rows.append(row)
    label = variant_label(r)
    print(f"\nSKD train step ({args.model}, {label}) on {machine_line()}")
    header = ["shape", f"{label} ms", "reference ms", "speed-up"]
    if "skdcore_fp32_s" in r:
        header += ["skdcore fp32 ms", "fp32 speed-up"]
    if not args.no_memory:
        header += [f"{label} peak MB", "reference peak MB"]
    print(markdown_table(header, rows))


if __name__ == "__main__":
    main()
