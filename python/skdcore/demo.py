"""`skd demo`: shows the compiled core working on built-in skeleton graphs and a sample clip."""
from __future__ import annotations

import time

import numpy as np
import torch

import skdcore
from skdcore.graph import partitions
from skdcore.prep import impute_window_mean
from skdcore.reference.normalize_adjacency import normalize_adjacency_reference


def _median_us(fn, repeats: int = 200) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times) * 1e6)


def run_demo(args=None) -> int:
    print("skdcore build:", skdcore.build_info())
    A = torch.from_numpy(partitions("ntu25", "spatial"))
    normalised = skdcore.normalize_adjacency(A, "in_degree")
    print(f"NTU-25 spatial partitions {tuple(A.shape)}: edges per partition {A.sum((1, 2)).tolist()}, "
          f"in-degree of joint 'spine_shoulder' after normalisation {normalised[:, :, 20].sum(1).tolist()}")
    torch.testing.assert_close(normalised, normalize_adjacency_reference(A))

    rng = np.random.default_rng(0)
    clip = rng.normal(size=(3, 100, 25, 2)).astype(np.float32)  # (C, T, V, M)
    occluded = np.where(rng.random((1, 100, 25, 2)) < 0.6, np.nan, clip)
    imputed = impute_window_mean(occluded, window=3, axis=1)
    print(f"occluded {np.isnan(occluded).mean():.1%} of coordinates; after window-3 imputation "
          f"{np.isnan(imputed).mean():.2%} remain missing")

    fused = _median_us(lambda: skdcore.normalize_adjacency(A))
    eager = _median_us(lambda: normalize_adjacency_reference(A))
    print(f"normalize_adjacency (3, 25, 25): skdcore {fused:.1f} us, eager PyTorch {eager:.1f} us "
          f"({eager / fused:.1f}x)")
    return 0
