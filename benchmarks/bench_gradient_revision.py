"""gradient_revision: the fused op vs eager (flatten, dots, projection) vs torch.compile(eager),
plus achieved bandwidth vs a plain torch copy of the same bytes, all in the same run; then the
whole multi-loss backward of one SKD step: the fast path vs the reference's 4 backward passes.
"""
from __future__ import annotations

import statistics
import time

import torch
import torch.nn.functional as F
from torch import nn

import skdcore  # noqa: F401  (loads the ops)
from common import base_parser, machine_line, markdown_table, median_seconds, synchronize
from skdcore.graph import partition_matrices
from skdcore.ops import gradient_revision
from skdcore.reference.graph_conv import graph_conv_reference
from skdcore.train import RevisedBackward, reference_multi_loss_backward


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
    # NB: compiling a function of ~400 tensor inputs takes many minutes on a busy 2-core machine
    # (--quick implies it: a smoke run must stay short)
    compiled = None if args.no_compile or args.quick else torch.compile(eager_revision)
    run_time = 0.2 if args.quick else 1.0
    sets = {"Shift-GCN-like": PARAMETER_SETS["Shift-GCN-like"]} if args.quick else PARAMETER_SETS
    for name, shapes in sets.items():
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
            "compile": (median_seconds(lambda: compiled(task, distill), run_time) if compiled
                        else float("nan")),
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
    print(f"gradient_revision op on {machine_line()}", flush=True)
    print(markdown_table(
        ["parameter set", "skdcore ms", "skdcore out= ms", "vs eager", "vs compile(eager)",
         "skdcore GB/s", "copy GB/s", "% of copy"],
        rows,
    ), flush=True)


# --- whole backward of one SKD step ---------------------------------------------------------------
class StandInUnit(nn.Module):
    """ST-GCN unit: graph conv (3 partitions) + BN + ReLU, temporal conv (9, 1) + BN, residual, ReLU."""

    def __init__(self, c_in, c_out, A, stride=1):
        super().__init__()
        self.register_buffer("A", A)
        self.weight = nn.Parameter(torch.randn(A.shape[0], c_out, c_in) / c_in ** 0.5)
        self.bias = nn.Parameter(torch.zeros(c_out))
        self.bn1 = nn.BatchNorm2d(c_out)
        self.tcn = nn.Conv2d(c_out, c_out, (9, 1), (stride, 1), (4, 0))
        self.bn2 = nn.BatchNorm2d(c_out)
        projected = c_in != c_out or stride != 1
        self.residual = nn.Conv2d(c_in, c_out, 1, (stride, 1)) if projected else nn.Identity()

    def forward(self, x):
        y = F.relu(self.bn1(graph_conv_reference(x, self.weight, self.A, self.bias)))
        return F.relu(self.bn2(self.tcn(y)) + self.residual(x))


class StandInStudent(nn.Module):
    """Stand-in for the SKD student (skdcore.models is not on main yet): 10 ST-GCN units with
    Shift-GCN's widths and strides, a classifier and SKD's 1x1 adaption conv."""

    def __init__(self, num_classes=60):
        super().__init__()
        A = torch.from_numpy(partition_matrices("ntu25")).float()  # (3, 25, 25), normalised
        widths = [(3, 64, 1), (64, 64, 1), (64, 64, 1), (64, 64, 1), (64, 128, 2), (128, 128, 1),
                  (128, 128, 1), (128, 256, 2), (256, 256, 1), (256, 256, 1)]
        self.units = nn.Sequential(*[StandInUnit(i, o, A, s) for i, o, s in widths])
        self.classifier = nn.Linear(256, num_classes)
        self.adaption = nn.Conv2d(256, 256, 1)

    def forward(self, x):  # x: (N*M, 3, T, V)
        features = self.units(x)
        return self.classifier(features.mean((2, 3))), features


def graph_matching_stand_in(student, teacher):
    """SKD's structural loss, plainly: per-sample node distances normalised by their positive mean."""
    s = student.flatten(2).transpose(1, 2)  # (N, P, C)
    t = teacher.flatten(2).transpose(1, 2)
    d_s, d_t = torch.cdist(s, s), torch.cdist(t, t)
    d_s = d_s / d_s[d_s > 0].mean()
    d_t = d_t / d_t[d_t > 0].mean()
    return F.smooth_l1_loss(d_s, d_t)


def skd_step_losses(model, x, labels, teacher_logits, teacher_features):
    logits, features = model(x)
    adapted = model.adaption(features)
    task = F.cross_entropy(logits, labels)
    kl = F.kl_div(F.log_softmax(logits, -1), F.softmax(teacher_logits, -1), reduction="batchmean")
    mse = F.mse_loss(adapted, teacher_features)
    return task, [kl, mse, graph_matching_stand_in(adapted, teacher_features)], features


def interleaved_medians(fns: dict, repeats: int, device: str) -> dict:
    """Median wall time of each fn, the fns run round-robin so machine noise hits all alike."""
    for fn in fns.values():
        fn()  # warm-up
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            synchronize(device)
            start = time.perf_counter()
            fn()
            synchronize(device)
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def bench_backward(args):
    torch.manual_seed(0)
    batch, persons, frames = 16, 2, (4 if args.quick else args.frames)
    repeats = 2 if args.quick else args.repeats
    model = StandInStudent().to(args.device)
    x = torch.randn(batch * persons, 3, frames, 25, device=args.device)
    labels = torch.randint(0, 60, (batch * persons,), device=args.device)
    with torch.no_grad():
        teacher_logits, teacher_features = [t.detach() for t in model(x)]
    params = [p for p in model.parameters() if p.requires_grad]
    fast = RevisedBackward(params)
    data = (x, labels, teacher_logits, teacher_features)

    def forward_only():
        skd_step_losses(model, *data)

    def reference():
        task, distill, _ = skd_step_losses(model, *data)
        reference_multi_loss_backward(params, task, distill)

    def revised():
        task, distill, _ = skd_step_losses(model, *data)
        fast.backward(task, distill)

    totals = interleaved_medians({
        "forward only": forward_only,
        "reference (4 backward, flatten, float64 projection)": reference,
        "RevisedBackward (4 autograd.grad + fused op)": revised,
    }, repeats, args.device)
    forward = totals.pop("forward only")
    reference_backward = totals["reference (4 backward, flatten, float64 projection)"] - forward
    rows = [[name, f"{total * 1e3:.0f}", f"{(total - forward) * 1e3:.0f}",
             f"{reference_backward / (total - forward):.2f}x"]
            for name, total in totals.items()]
    numel = sum(p.numel() for p in params)
    print(f"\nwhole backward of one SKD step, stand-in student ({numel / 1e6:.2f} M params), batch {batch} x "
          f"{persons} persons, T={frames}, V=25; forward alone {forward * 1e3:.0f} ms; on {machine_line()}")
    header = ["method", "forward+backward ms", "backward ms", "backward speed-up vs reference"]
    print(markdown_table(header, rows))


def main():
    parser = base_parser(__doc__)
    parser.add_argument("--skip-backward", action="store_true", help="only the op benchmark")
    parser.add_argument("--skip-op", action="store_true", help="only the whole-backward benchmark")
    parser.add_argument("--no-compile", action="store_true", help="skip the torch.compile(eager) baseline")
    parser.add_argument("--repeats", type=int, default=7, help="repeats of the whole-backward timings")
    parser.add_argument("--frames", type=int, default=16, help="frames T of the whole-backward benchmark")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: keep the default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if not args.skip_op:
        bench_op(args)
    if not args.skip_backward:
        bench_backward(args)


if __name__ == "__main__":
    main()
