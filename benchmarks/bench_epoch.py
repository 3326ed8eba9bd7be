"""One SKD epoch as users train it: a prepared memmap directory -> DataLoader -> teacher + student step.

NTU-60-sized clips (3, 100, 25, 2), written by the project's prepare code (synthetic motions), ST-GCN
teacher and student at their default size, batch 64, `train.amp: bf16` (where the device has it). The
DataLoader uses the batched memmap path, pinned memory on CUDA and non-blocking copies; it is timed
alone for each worker count, and the fastest feeds the whole step. Prints clips/s of the loader, of
the step on a resident batch (the model's ceiling) and of the whole loop, and the projected NTU-60
X-Sub training epoch (40,091 clips). The last line, `EPOCH {...}`, is what gpu_check.sh reads.

    python benchmarks/bench_epoch.py --device cuda                  # GPU: a short run
    python benchmarks/bench_epoch.py --device cpu --batches 3      # CPU: a few batches
    python benchmarks/bench_epoch.py --data /tmp/epoch_set         # reuse a prepared set
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import torch

from common import machine_line, markdown_table
from skdcore.data import PairedSkeletonDataset, make_loader, prepare_dataset
from skdcore.data.manifest import load_manifest
from skdcore.distill import Distiller
from skdcore.models import build_model
from skdcore.train.amp import MixedPrecision
from skdcore.train.ops_select import select_ops

NTU60_XSUB_TRAIN_CLIPS = 40_091
GOAL_CLIPS_PER_S = 445  # one H200: an NTU-60 X-Sub epoch in <= 90 s


def prepared_set(path: Path, clips: int, workers: int) -> Path:
    """A prepared directory of `clips` synthetic clips (3, 100, 25, 2); reused when already there."""
    if not (path / "manifest.json").exists() or load_manifest(path)["counts"]["samples"] < clips:
        start = time.perf_counter()
        prepare_dataset(path, "synthetic", {"num_samples": clips, "clip_frames": 100}, num_frames=100,
                        progress=False, force=True, workers=workers)
        print(f"prepared {clips} clips in {time.perf_counter() - start:.1f} s -> {path}", flush=True)
    return path


def batches(loader, count: int):
    """`count` batches, cycling through epochs of `loader` as needed."""
    produced = 0
    while produced < count:
        for batch in loader:
            yield batch
            produced += 1
            if produced == count:
                return


def to_device(batch, device):
    return [t.to(device, non_blocking=True) for t in batch]


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def loader_rate(dataset, workers, args, device) -> float:
    loader = make_loader(dataset, args.batch_size, shuffle=True, workers=workers,
                         pin_memory=device.type == "cuda", drop_last=True)
    it = batches(loader, args.batches + 1)
    to_device(next(it), device)  # workers started, page cache warm
    sync(device)
    start = time.perf_counter()
    for batch in it:
        to_device(batch, device)
    sync(device)
    return args.batches * args.batch_size / (time.perf_counter() - start)


def make_step(args, device):
    """The trainer's distill step (train/trainer.py train_step): forward passes under autocast, the four
    losses in float32, SKD's revised backward, an SGD step."""
    selection = select_ops("fused", "st_gcn", "fast")
    model_args = dict(num_class=60, num_person=2, ops="fused")
    torch.manual_seed(0)
    teacher = build_model("st_gcn", **model_args).to(device).eval()
    student = build_model("st_gcn", adaption_channels=teacher.feature_channels, **model_args).to(device)
    optimizer = torch.optim.SGD(student.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-4)
    amp = MixedPrecision(args.amp, device)
    distiller = Distiller(teacher, student, ops="fused", revision_scheme=selection.revision)

    def step(hq, lq, labels):
        student.train()
        optimizer.zero_grad(set_to_none=True)
        with amp.autocast():
            teacher_out = distiller.teacher_forward(hq)
            student_out = distiller.student_forward(lq)
        distiller.backward(distiller.losses(student_out, teacher_out, labels), amp.scaler)
        amp.step(optimizer)

    return step


def timed_steps(step, feed, count, batch_size, device) -> float:
    """clips/s of `count` steps, each on the batch `feed()` gives (after one warm-up step)."""
    step(*feed())
    sync(device)
    start = time.perf_counter()
    for _ in range(count):
        step(*feed())
    sync(device)
    return count * batch_size / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batches", type=int, default=40, help="timed batches per measurement")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--clips", type=int, default=0,
                        help="clips in the prepared set (default 512: the loader cycles through it, as "
                             "through a page-cached NTU-60 set)")
    parser.add_argument("--workers", type=int, nargs="+", default=None,
                        help="DataLoader workers to try (default: 0 2 4 8 up to the CPU count)")
    parser.add_argument("--amp", default=None, help="train.amp (default bf16; off where autocast lacks it)")
    parser.add_argument("--data", type=Path, default=None, help="prepared directory to use or create")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = parser.parse_args()
    device = torch.device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    args.amp = args.amp or "bf16"
    cpus = len(os.sched_getaffinity(0))
    workers = args.workers or [w for w in (0, 2, 4, 8) if w <= max(cpus - 1, 0)]
    clips = args.clips or 512
    with tempfile.TemporaryDirectory() as tmp:
        data = prepared_set(args.data or Path(tmp) / "prepared", clips, workers=min(8, cpus - 1))
        dataset = PairedSkeletonDataset(data)  # every clip: the rate, not the split, matters here
        if len(dataset) < args.batch_size:
            raise SystemExit(f"{data}: {len(dataset)} clips, fewer than one batch of {args.batch_size}")
        rates = {w: loader_rate(dataset, w, args, device) for w in workers}
        for w, rate in rates.items():
            print(f"loader alone, {w} workers: {rate:.0f} clips/s", flush=True)
        best = max(rates, key=rates.get)

        step = make_step(args, device)
        resident = to_device(next(iter(make_loader(dataset, args.batch_size, workers=0))), device)

        step_rate = timed_steps(step, lambda: resident, args.batches, args.batch_size, device)
        print(f"step on a resident batch: {step_rate:.1f} clips/s", flush=True)

        loader = make_loader(dataset, args.batch_size, shuffle=True, workers=best,
                             pin_memory=device.type == "cuda", drop_last=True)
        it = batches(loader, args.batches + 1)

        epoch_rate = timed_steps(step, lambda: to_device(next(it), device), args.batches, args.batch_size,
                                 device)
    epoch_s = NTU60_XSUB_TRAIN_CLIPS / epoch_rate
    print(f"\nbench_epoch: ST-GCN teacher + student, batch {args.batch_size}, amp {args.amp}, "
          f"clips (3, 100, 25, 2), {args.batches} timed batches, on {machine_line()}")
    print(markdown_table(
        ["loader alone clips/s (workers)", "step alone clips/s", "whole step clips/s",
         "projected NTU-60 X-Sub epoch s"],
        [[f"{rates[best]:.0f} ({best})", f"{step_rate:.1f}", f"{epoch_rate:.1f}", f"{epoch_s:.0f}"]]))
    print("EPOCH " + json.dumps({"device": str(device), "loader_clips_per_s": rates[best], "workers": best,
                                 "step_clips_per_s": step_rate, "epoch_clips_per_s": epoch_rate,
                                 "ntu60_xsub_epoch_s": epoch_s, "goal_clips_per_s": GOAL_CLIPS_PER_S}))


if __name__ == "__main__":
    main()
