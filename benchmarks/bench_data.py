"""Data-side throughput: LQ imputation (C++ vs numpy), prepare, and PairedSkeletonDataset loading.

Usage: python benchmarks/bench_data.py [--samples 1024] [--frames 100] [--repeats 5]
Prints medians and ratios measured in the same run (the machine is shared and noisy).
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import numpy as np
import torch

from common import machine_line
from skdcore.data import PairedSkeletonDataset, make_loader, prepare_dataset
from skdcore.data import lq as lqmod


def median_time(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


class PerItem(torch.utils.data.Dataset):
    """The dataset without its batched ``__getitems__``: one memmap read per sample."""

    def __init__(self, ds):
        self.ds = ds

    def __len__(self):
        return len(self.ds)

    def __getitem__(self, i):
        return self.ds[i]


def loader_rate(ds, batch_size, workers, repeats):
    loader = make_loader(ds, batch_size=batch_size, shuffle=True, workers=workers, pin_memory=False)

    def one_epoch():
        for _ in loader:
            pass

    one_epoch()  # warm the page cache and start workers
    return len(ds) / median_time(one_epoch, repeats)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1024)
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"bench_data on {machine_line()}")

    # 1. imputation of one reference-sized clip (3, 300, 25, 2) at 60% occlusion
    rng = np.random.default_rng(0)
    clip = rng.normal(size=(3, 300, 25, 2)).astype(np.float32)
    clip[rng.random(clip.shape) < 0.6] = np.nan
    def reference():
        return np.moveaxis(lqmod.impute_window_mean_reference(np.moveaxis(clip, 1, -1), 3), -1, 1)

    t_ref = median_time(lambda: [reference() for _ in range(20)], args.repeats) / 20
    compiled = lqmod._compiled_kernel() is not None
    t_cpp = median_time(lambda: [lqmod.impute_clip(clip, 3) for _ in range(20)], args.repeats) / 20
    print(f"imputation (3,300,25,2): numpy {t_ref * 1e3:.3f} ms, C++ _prep {t_cpp * 1e3:.3f} ms "
          f"(compiled={compiled}), speed-up {t_ref / t_cpp:.1f}x")
    occl = lqmod.SKDOcclusion()
    full = rng.normal(size=(3, 300, 25, 2)).astype(np.float32)
    t_lq = median_time(lambda: [occl(full, lqmod.sample_rng(0, i)) for i in range(20)], args.repeats) / 20
    def steps():
        return [occl.reference(full, occl.occlusion_mask(full.shape, lqmod.sample_rng(0, i)))
                for i in range(20)]

    t_steps = median_time(steps, args.repeats) / 20
    print(f"SKD reference LQ per (3,300,25,2) clip incl. mask draw: fused C++ {t_lq * 1e3:.3f} ms, "
          f"numpy steps + C++ imputation {t_steps * 1e3:.3f} ms, speed-up {t_steps / t_lq:.1f}x")

    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        prepare_dataset(tmp, "synthetic", {"num_samples": args.samples, "clip_frames": 64},
                        num_frames=args.frames, progress=False)
        t_prep = time.perf_counter() - start
        print(f"prepare synthetic: {args.samples / t_prep:.0f} clips/s ({args.samples} clips, "
              f"T={args.frames}, 1 process)")
        ds = PairedSkeletonDataset(tmp)
        rows = []
        for name, dataset, workers in (
            ("fixed LQ, per-item", PerItem(ds), 0),
            ("fixed LQ, batched __getitems__", ds, 0),
            ("fixed LQ, batched, 2 workers", ds, 2),
            ("random LQ per epoch, batched", PairedSkeletonDataset(tmp, lq="random"), 0),
            ("random LQ per epoch, batched, 2 workers", PairedSkeletonDataset(tmp, lq="random"), 2),
        ):
            rate = loader_rate(dataset, 16, workers, max(1, args.repeats // 2))
            rows.append((name, rate))
        base = rows[0][1]
        print(f"\nPairedSkeletonDataset + DataLoader, batch 16, sample (3, {args.frames}, 25, 2) x2:")
        print(f"{'path':45s} {'samples/s':>10s} {'vs per-item':>12s}")
        for name, rate in rows:
            print(f"{name:45s} {rate:10.0f} {rate / base:11.2f}x")


if __name__ == "__main__":
    main()
