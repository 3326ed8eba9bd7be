"""Test helpers: write tiny files in each real dataset format (valid or deliberately broken)."""
from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np


def write_ntu_skeleton(path: Path, bodies: dict, num_frames: int, joint_count: int = 25, nan_at=None) -> Path:
    """``bodies``: {body id: (frame indices, joints (n, 25, 3))}; writes a Kinect-style file."""
    per_frame = [[] for _ in range(num_frames)]
    for body_id, (frames, joints) in bodies.items():
        for k, t in enumerate(frames):
            per_frame[t].append((body_id, joints[k]))
    lines = [str(num_frames)]
    for t in range(num_frames):
        lines.append(str(len(per_frame[t])))
        for body_id, joints in per_frame[t]:
            lines.append(f"{body_id} 0 1 1 1 1 0 0.1 0.2 2")
            lines.append(str(joint_count))
            for j in range(joint_count):
                x, y, z = joints[j % 25]
                if nan_at == (t, j):
                    x = float("nan")
                lines.append(f"{x:.6f} {y:.6f} {z:.6f} 250.1 200.2 900.3 500.4 0.1 0.2 0.3 0.9 2")
    path.write_text("\n".join(lines) + "\n")
    return path


def ntu_body(rng, n_frames: int, offset=(0.0, 0.0, 3.0), motion: float = 0.05) -> np.ndarray:
    """(n, 25, 3) plausible-ish joints: a fixed random skeleton plus random-walk motion."""
    base = rng.normal(0, 0.2, (25, 3)) + np.array(offset)
    base[:, 1] = np.linspace(0.8, -0.8, 25)  # taller than wide: not filtered as noise
    walk = np.cumsum(rng.normal(0, motion, (n_frames, 1, 3)), axis=0)
    return (base[None] + walk).astype(np.float32)


def write_kinetics_json(path: Path, poses: np.ndarray, scores: np.ndarray, label_index: int = 3,
                        drop: str | None = None) -> Path:
    """``poses`` (T, P, 18, 2), ``scores`` (T, P, 18) -> ST-GCN Kinetics-skeleton JSON."""
    data = []
    for t in range(poses.shape[0]):
        skeleton = [{"pose": [float(v) for v in poses[t, p].reshape(-1)],
                     "score": [float(s) for s in scores[t, p]]}
                    for p in range(poses.shape[1])]
        data.append({"frame_index": t + 1, "skeleton": skeleton})
    clip = {"data": data, "label": "some action", "label_index": label_index}
    if drop == "data":
        del clip["data"]
    path.write_text(json.dumps(clip))
    return path


def write_pyskl_pickle(path: Path, annotations: list, split: dict) -> Path:
    with open(path, "wb") as f:
        pickle.dump({"split": split, "annotations": annotations}, f)
    return path


def write_penn_mat(path: Path, x: np.ndarray, y: np.ndarray, vis: np.ndarray, action: str = "squat",
                   train: int = 1, dims=(480, 640)) -> Path:
    import scipy.io

    scipy.io.savemat(path, {"action": action, "x": x, "y": y, "visibility": vis, "train": train,
                            "nframes": x.shape[0], "dimensions": np.array([dims[0], dims[1], x.shape[0]])})
    return path
