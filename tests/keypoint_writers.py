"""Writers of pose-estimator output files for the tests: COCO results JSON, JSON lines, numpy."""

from __future__ import annotations

import json

import numpy as np


def moving_people(T: int, K: int, persons: int = 1, dims: int = 2, seed: int = 0):
    """(T, P, K, dims) keypoints of ``persons`` people far apart that drift, and (T, P, K) scores in
    [0.5, 1]."""
    rng = np.random.default_rng(seed)
    base = rng.uniform(0, 50, size=(persons, K, dims)) + 400.0 * np.arange(persons)[:, None, None]
    t = np.arange(T)[:, None, None, None]
    keypoints = base[None] + 3.0 * np.sin(0.2 * t + np.arange(K)[None, None, :, None]) + 0.5 * t
    scores = rng.uniform(0.5, 1.0, size=(T, persons, K))
    return keypoints.astype(np.float32), scores.astype(np.float32)


def write_coco(path, keypoints, scores, track_ids=True, shuffle_seed=None):
    """One entry per (frame, person); the order of people within a frame is shuffled when asked."""
    rng = np.random.default_rng(shuffle_seed)
    entries = []
    T, P = scores.shape[:2]
    for t in range(T):
        order = rng.permutation(P) if shuffle_seed is not None else range(P)
        for p in order:
            flat = np.concatenate([keypoints[t, p, :, :2], scores[t, p, :, None]], axis=1).ravel()
            entry = {
                "image_id": int(t),
                "category_id": 1,
                "keypoints": flat.tolist(),
                "score": float(scores[t, p].mean()),
            }
            if track_ids:
                entry["track_id"] = int(p + 7)
            entries.append(entry)
    path.write_text(json.dumps(entries))
    return path


def frame_line(keypoints, scores) -> str:
    """One JSON-lines frame of a single person, MediaPipe style (x, y[, z], visibility)."""
    names = ("x", "y", "z")
    marks = [
        {**{names[d]: float(k[d]) for d in range(len(k))}, "visibility": float(s)}
        for k, s in zip(keypoints, scores)
    ]
    return json.dumps({"landmarks": marks})


def write_lines(path, keypoints, scores):
    """JSON lines of person 0."""
    path.write_text("\n".join(frame_line(keypoints[t, 0], scores[t, 0]) for t in range(len(scores))) + "\n")
    return path


def write_npz(path, keypoints, scores):
    np.savez(path, keypoints=keypoints[:, 0], scores=scores[:, 0])
    return path


def expected_clip(keypoints, scores, threshold=0.3):
    """(C, T, V, M) the readers should give before imputation: coordinates then score, low scores 0."""
    values = np.concatenate([keypoints, scores[..., None]], axis=-1)
    values = np.where((scores >= threshold)[..., None], values, 0.0)
    return values.transpose(3, 0, 2, 1).astype(np.float32)
