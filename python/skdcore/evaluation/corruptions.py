"""LQ corruptions applied to a whole batch of clips at once, for robustness curves.

Each corruption takes HQ clips ``x`` (N, C, T, V, M) float32, a severity and a numpy Generator and
returns new corrupted clips; severity 0 returns the clips unchanged. They are the batched forms of
the generators of :mod:`skdcore.data.lq` (the SKD occlusion + imputation runs in ONE call of the
compiled kernel ``skdcore._prep.skd_occlude_impute`` for the whole batch):

| name             | severity                                  | what                                     |
|------------------|-------------------------------------------|------------------------------------------|
| occlusion        | p, probability per (frame, joint, person) | SKD reference LQ (window-3 imputation)   |
| jitter           | sigma, data units (metres for NTU)        | Gaussian noise on present joints         |
| frame_drop       | p, probability per frame                  | dropped frames refilled linearly         |
| quantise         | step, data units                          | coordinates rounded to multiples of step |
| joint_dropout    | p, probability per (clip, joint)          | a joint missing for the whole clip (0)   |
| confidence_noise | sigma, data units                         | noise with std sigma * (1 - confidence)  |

Absent joints (all channels exactly 0: padding, missing persons) stay 0 under every corruption but
occlusion, whose imputation fills zeros within 3 frames of real values, as SKD's reference does.
Confidence noise reads the confidences from the data's score channel when it has one (2D layouts,
channels x, y, score); 3D data has none, so a confidence per (frame, joint, person) is drawn
uniformly in [0, 1] (a detector whose certainty varies), and all three coordinates are noised.
"""
from __future__ import annotations

from typing import Callable, Dict, Optional

import numpy as np

from ..data.lq import SKD_IMPUTATION_WINDOW, SKDOcclusion, compiled_prep_kernel, resample_at
from ..did_you_mean import did_you_mean

# Six severities per corruption (the first is always "none").
DEFAULT_GRID: Dict[str, tuple] = {
    "occlusion": (0.0, 0.2, 0.4, 0.6, 0.8, 0.9),
    "jitter": (0.0, 0.01, 0.02, 0.05, 0.1, 0.2),
    "frame_drop": (0.0, 0.2, 0.4, 0.6, 0.8, 0.9),
    "quantise": (0.0, 0.02, 0.05, 0.1, 0.2, 0.4),
    "joint_dropout": (0.0, 0.1, 0.2, 0.4, 0.6, 0.8),
    "confidence_noise": (0.0, 0.02, 0.05, 0.1, 0.2, 0.4),
}
SEVERITY_LABEL = {
    "occlusion": "occlusion probability p (per frame, joint, person; SKD imputation)",
    "jitter": "Gaussian jitter sigma (data units)",
    "frame_drop": "frame drop probability (linear refill)",
    "quantise": "quantisation step (data units)",
    "joint_dropout": "joint dropout probability (joint missing for the whole clip)",
    "confidence_noise": "confidence noise sigma (x (1 - confidence))",
}

# Severities each corruption accepts: probabilities in [0, 1], noise and step sizes >= 0 (finite).
PROBABILITY = (0.0, 1.0)
SIZE = (0.0, float("inf"))
SEVERITY_RANGE = {"occlusion": PROBABILITY, "jitter": SIZE, "frame_drop": PROBABILITY, "quantise": SIZE,
                  "joint_dropout": PROBABILITY, "confidence_noise": SIZE}


def check_severities(name: str, severities) -> None:
    """ValueError naming the corruption and the first severity it cannot take (NaN, inf, out of range)."""
    if name not in SEVERITY_RANGE:
        raise ValueError(f"{name!r} is no corruption{did_you_mean(name, SEVERITY_RANGE)}; corruptions: "
                         f"{list(SEVERITY_RANGE)}")
    low, high = SEVERITY_RANGE[name]
    for severity in severities:
        if not np.isfinite(severity):
            raise ValueError(f"{name}: severity {severity} is not a finite number")
        if not low <= severity <= high:
            allowed = f"in [{low:g}, {high:g}] (a probability)" if high < np.inf else f">= {low:g}"
            raise ValueError(f"{name}: severity {severity:g} must be {allowed}")


def _present(x: np.ndarray) -> np.ndarray:
    """(N, 1, T, V, M) bool: joints that exist (some channel non-zero)."""
    return np.any(x != 0, axis=1, keepdims=True)


def occlusion(x: np.ndarray, p: float, rng: np.random.Generator,
              window: int = SKD_IMPUTATION_WINDOW) -> np.ndarray:
    """SKD's reference LQ for every clip of the batch in one compiled call."""
    if p <= 0:
        return x.copy()
    N, C, T, V, M = x.shape
    mask = rng.random((N, T, V, M)) < p
    generator = SKDOcclusion(p, window)
    # (N, C, T, V, M) -> (C, T, N*V*M): the clip layout the kernel reads, with the batch folded inward.
    folded = np.ascontiguousarray(x.transpose(1, 2, 0, 3, 4)).reshape(C, T, N, V, M)
    folded_mask = np.ascontiguousarray(mask.transpose(1, 0, 2, 3))  # (T, N, V, M)
    out = _occlude_folded(generator, folded, folded_mask)
    return np.ascontiguousarray(out.reshape(C, T, N, V, M).transpose(2, 0, 1, 3, 4))


def _occlude_folded(generator: SKDOcclusion, folded: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``folded`` (C, T, N, V, M) read as one clip with N*V joints: the per-series maths is the same."""
    C, T, N, V, M = folded.shape
    clip = folded.reshape(C, T, N * V, M)
    fused = compiled_prep_kernel("skd_occlude_impute")
    if clip.dtype in (np.float32, np.float64):
        return np.asarray(fused(clip.reshape(C, T, -1), mask.reshape(T, -1), generator.window))
    return generator.reference(clip, mask.reshape(T, N * V, M))


def jitter(x: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    if sigma <= 0:
        return x.copy()
    noise = rng.standard_normal(x.shape, dtype=np.float32) * np.float32(sigma)
    return x + noise * _present(x)


def frame_drop(x: np.ndarray, p: float, rng: np.random.Generator) -> np.ndarray:
    if p <= 0:
        return x.copy()
    N, _, T = x.shape[:3]
    kept = rng.random((N, T)) >= p
    # NB: only a clip's real frames are dropped and refilled, never its zero padding at the end
    lengths = T - np.argmax(np.any(x != 0, axis=(1, 3, 4))[:, ::-1], axis=1)
    out = x.copy()
    for n in range(N):
        length = int(lengths[n])
        keep = kept[n, :length]
        if length == 0 or keep.all():
            continue
        if not keep.any():
            keep[rng.integers(length)] = True
        out[n, :, :length] = resample_at(x[n, :, :length], np.flatnonzero(keep), np.arange(length))
    return out * _present(x)


def quantise(x: np.ndarray, step: float, rng: np.random.Generator) -> np.ndarray:
    if step <= 0:
        return x.copy()
    return (np.round(x / step) * step).astype(x.dtype) * _present(x)


def joint_dropout(x: np.ndarray, p: float, rng: np.random.Generator) -> np.ndarray:
    if p <= 0:
        return x.copy()
    N, _, _, V, M = x.shape
    kept = rng.random((N, 1, 1, V, M)) >= p
    return x * kept


def confidence_noise(x: np.ndarray, sigma: float, rng: np.random.Generator,
                     score_channel: Optional[int] = None) -> np.ndarray:
    if sigma <= 0:
        return x.copy()
    present = _present(x)
    if score_channel is None:
        score = rng.random((x.shape[0], 1) + x.shape[2:], dtype=np.float32)
        coords = list(range(x.shape[1]))
    else:
        score = np.clip(x[:, score_channel:score_channel + 1], 0.0, 1.0)
        coords = [c for c in range(x.shape[1]) if c != score_channel]
    std = np.float32(sigma) * (1.0 - score) * present
    out = x.copy()
    out[:, coords] += std * rng.standard_normal((x.shape[0], len(coords)) + x.shape[2:], dtype=np.float32)
    return out


CORRUPTIONS: Dict[str, Callable] = {
    "occlusion": occlusion, "jitter": jitter, "frame_drop": frame_drop, "quantise": quantise,
    "joint_dropout": joint_dropout, "confidence_noise": confidence_noise,
}

# Layouts whose third channel is a detector confidence (x, y, score).
SCORE_LAYOUTS = ("openpose18", "coco17")


def corrupt(name: str, x: np.ndarray, severity: float, rng: np.random.Generator,
            score_channel: Optional[int] = None) -> np.ndarray:
    """``x`` (N, C, T, V, M) under corruption ``name`` at ``severity`` (float32 out)."""
    if name not in CORRUPTIONS:
        raise ValueError(f"unknown corruption {name!r}; known: {sorted(CORRUPTIONS)}")
    if x.ndim != 5:
        raise ValueError(f"corrupt: x must be a batch (N, C, T, V, M), got shape {x.shape}")
    x = np.ascontiguousarray(x, dtype=np.float32)
    if name == "confidence_noise":
        return confidence_noise(x, severity, rng, score_channel)
    return CORRUPTIONS[name](x, float(severity), rng).astype(np.float32, copy=False)
