"""gradient_revision: the fused op vs eager (flatten, dots, projection) vs torch.compile(eager),
plus achieved bandwidth vs a plain torch copy of the same bytes, all in the same run; then the
whole multi-loss backward of one SKD step: the fast path vs the reference's 4 backward passes.
"""
from __future__ import annotations

import torch

from common import base_parser, machine_line, markdown_table, median_seconds

import skdcore  # noqa: F401  (loads the ops)
from skdcore.ops import gradient_revision


def stgcn_like_shapes(channels, V=25, partitions=3, temporal_kernel=9, num_classes=60):
    """Parameter shapes of an ST-GCN style backbone: per unit a graph conv (partitions * C_out, C_in),
    a temporal conv (C_out, C_out, 9, 1), two BatchNorms, a residual conv where the width changes,
    and a learnable edge importance (partitions, V, V); then a linear classifier."""
    shapes = [(3 * V,), (3 * V,)]  # data BatchNorm
    for c_in, c_out in zip(channels[:-1], channels[1:]):
        shapes += [(partitions * c_out, c_in, 1, 1), (partitions * c_out,), (c_out,), (c_out,),
                   (c_out, c_out, temporal_kernel, 1), (c_out,), (c_out,), (c_out,), (partitions, V, V)]
        if c_in != c_out:
            shapes += [(c_out, c_in, 1, 1), (c_out,), (c_out,), (c_out,)]
    shapes += [(num_classes, channels[-1]), (num_classes,)]
    return shapes


def shiftgcn_like_shapes(channels, V=25, num_classes=60):
    """Shift-GCN style: per unit a spatial linear (C_in, C_out) + mask (1, V, C_in) + BN over V*C,
    a pointwise temporal conv (C_out, C_out, 1, 1) + BN, a residual conv where the width changes."""
    shapes = [(3 * V * 2,), (3 * V * 2,)]
    for c_in, c_out in zip(channels[:-1], channels[1:]):
        shapes += [(c_in, c_out), (1, 1, c_out), (1, V, c_in), (V * c_out,), (V * c_out,),
                   (c_out, c_out, 1, 1), (c_out,), (c_out,), (c_out,)]
        if c_in != c_out:
            shapes += [(c_out, c_in, 1, 1), (c_out,), (c_out,), (c_out,)]
    shapes += [(num_classes, channels[-1]), (num_classes,)]
    return shapes


PARAMETER_SETS = {
    "Shift-GCN-like": shiftgcn_like_shapes([3, 64, 64, 64, 64, 128, 128, 128, 256, 256, 256]),
    "ST-GCN-like": stgcn_like_shapes([3, 64, 64, 64, 64, 128, 128, 128, 256, 256, 256]),
}


def eager_revision(task, distill, eps=1e-12):
    """Straightforward eager version (what the SKD reference does, branch-free so it compiles)."""
    t = torch.cat([g.reshape(-1) for g in task])
    task_sq = t.dot(t)
    total = t.clone()
    for grads in distill:
        g = torch.cat([x.reshape(-1) for x in grads])
        dot = g.dot(t)
        total += g - torch.clamp(dot, max=0) / (task_sq + eps) * t
    return [c.view_as(g) for c, g in zip(torch.split(total, [g.numel() for g in task]), task)]


def bench_op(args, K=3):
    rows = []
    compiled = torch.compile(eager_revision)
    run_time = 0.2 if args.quick else 1.0
    for name, shapes in PARAMETER_SETS.items():
        torch.manual_seed(0)
        task = [torch.randn(s, device=args.device) for s in shapes]
        distill = [[torch.randn(s, device=args.device) for s in shapes] for _ in range(K)]
        out = [torch.empty_like(t) for t in task]
        numel = sum(t.numel() for t in task)
        # the op's minimum traffic: pass 1 reads K+1 vectors, pass 2 reads K+1 and writes 1
        op_bytes = (2 * (K + 1) + 1) * numel * task[0].element_size()
        src = torch.empty(op_bytes // 2 // 4, device=args.device)
        dst = torch.empty_like(src)
        times = {
            "skdcore": median_seconds(lambda: gradient_revision(task, distill), run_time),
            "skdcore out=": median_seconds(lambda: gradient_revision(task, distill, out=out), run_time),
            "eager": median_seconds(lambda: eager_revision(task, distill), run_time),
            "compile": median_seconds(lambda: compiled(task, distill), run_time),
            "copy": median_seconds(lambda: dst.copy_(src), run_time),
        }
        op_gbs = op_bytes / times["skdcore out="] / 1e9
        copy_gbs = 2 * src.numel() * 4 / times["copy"] / 1e9
        rows.append([
            f"{name}: {numel / 1e6:.2f} M params, {len(shapes)} tensors, K={K}",
            f"{times['skdcore'] * 1e3:.2f}", f"{times['skdcore out='] * 1e3:.2f}",
            f"{times['eager'] / times['skdcore']:.2f}x", f"{times['compile'] / times['skdcore']:.2f}x",
            f"{op_gbs:.1f}", f"{copy_gbs:.1f}", f"{100 * op_gbs / copy_gbs:.0f}%",
        ])
    print(f"gradient_revision op on {machine_line()}")
    print(markdown_table(
        ["parameter set", "skdcore ms", "skdcore out= ms", "vs eager", "vs compile(eager)",
         "skdcore GB/s", "copy GB/s", "% of copy"],
        rows,
    ))


def main():
    parser = base_parser(__doc__)
    parser.add_argument("--skip-backward", action="store_true", help="only the op benchmark")
    args = parser.parse_args()
    bench_op(args)


if __name__ == "__main__":
    main()
