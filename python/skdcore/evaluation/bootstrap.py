"""Paired bootstrap over test clips: how sure is a difference in accuracy between two models?"""
from __future__ import annotations

import numpy as np


def paired_bootstrap(correct_a, correct_b, num_resamples: int = 2000, level: float = 0.95,
                     seed: int = 0) -> dict:
    """Accuracy difference b - a with a percentile interval from resampling clips with replacement.

    ``correct_a``, ``correct_b``: per-clip 0/1 (the same clips, same order). The interval says how
    much the difference could move with another draw of test clips of the same kind; it does not
    cover seed-to-seed training variation (see benchmarks/seed_sweep.py for that).
    """
    a = np.asarray(correct_a, dtype=np.float64)
    b = np.asarray(correct_b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1 or a.size == 0:
        raise ValueError(f"paired_bootstrap needs two equally long 1-D per-clip arrays, got {a.shape} and "
                         f"{b.shape}")
    rng = np.random.default_rng(seed)
    diffs = b - a
    samples = rng.integers(0, a.size, size=(num_resamples, a.size))
    resampled = diffs[samples].mean(axis=1)
    tail = (1 - level) / 2
    low, high = np.quantile(resampled, [tail, 1 - tail])
    return {"diff": float(diffs.mean()), "low": float(low), "high": float(high), "level": level,
            "num_resamples": num_resamples, "num_clips": int(a.size)}
