"""PYSKL-style pickle annotations -> (3, T, V, M) float32.

The file holds ``{"split": {name: [frame_dir, ...]}, "annotations": [{"frame_dir": str,
"label": int, "keypoint": (M, T, V, C) array, "keypoint_score": (M, T, V) optional,
"total_frames": int}, ...]}``.  3D keypoints (C=3) are kept as (x, y, z); 2D keypoints
become (x, y, score), the score being 1 where no ``keypoint_score`` is given.  Persons
are ranked by summed score (2D) or motion energy (3D); the top ``max_persons`` are kept.
NB: pickle executes code on load: only read files you trust.
"""
from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from ...layouts import get_layout
from ..sources import ReaderError, SkeletonSource, register_source

_LAYOUT_BY_JOINTS = {25: "ntu25", 18: "openpose18", 17: "coco17", 13: "penn13"}


def load_pyskl_annotations(path: str | Path) -> dict:
    path = Path(path)
    try:
        with open(path, "rb") as f:
            content = pickle.load(f)
    except (pickle.UnpicklingError, EOFError, AttributeError, ValueError) as err:
        raise ReaderError(f"{path}: not a readable pickle ({type(err).__name__}: {err}); truncated?") from None
    if not isinstance(content, dict) or "annotations" not in content:
        raise ReaderError(f"{path}: expected a dict with keys 'split' and 'annotations'")
    return content


def annotation_to_clip(ann: dict, where: str, max_persons: int = 2, num_joints: int | None = None) -> np.ndarray:
    """(3, T, V, max_persons) float32 from one annotation dict; ``where`` prefixes errors."""
    if "keypoint" not in ann:
        raise ReaderError(f"{where}: field 'keypoint' is missing")
    kp = np.asarray(ann["keypoint"], dtype=np.float32)
    if kp.ndim != 4 or kp.shape[-1] not in (2, 3):
        raise ReaderError(f"{where}: 'keypoint' must be (M, T, V, 2|3), got shape {kp.shape}")
    M, T, V, C = kp.shape
    if T == 0 or M == 0:
        raise ReaderError(f"{where}: 'keypoint' is empty (shape {kp.shape})")
    if num_joints is not None and V != num_joints:
        raise ReaderError(f"{where}: 'keypoint' has {V} joints, the layout expects {num_joints}")
    if not np.all(np.isfinite(kp)):
        raise ReaderError(f"{where}: 'keypoint' contains NaN or Inf")
    if C == 3:
        clip = kp
        rank_key = -np.array([kp[m].reshape(T, -1).var(axis=0).sum() for m in range(M)])
    else:
        score = ann.get("keypoint_score")
        if score is None:
            score = np.any(kp != 0, axis=-1).astype(np.float32)
        score = np.asarray(score, dtype=np.float32)
        if score.shape != (M, T, V):
            raise ReaderError(f"{where}: 'keypoint_score' must be (M, T, V)={(M, T, V)}, got {score.shape}")
        if not np.all(np.isfinite(score)):
            raise ReaderError(f"{where}: 'keypoint_score' contains NaN or Inf")
        clip = np.concatenate([kp, score[..., None]], axis=-1)
        rank_key = -score.sum(axis=(1, 2))
    order = np.argsort(rank_key, kind="stable")[:max_persons]
    out = np.zeros((3, T, V, max_persons), dtype=np.float32)
    out[..., : len(order)] = clip[order].transpose(3, 1, 2, 0)
    return out


class PysklSource(SkeletonSource):
    """A PYSKL annotation pickle.  Splits: every entry of its ``split`` dict, optionally
    only those whose name starts with ``split_prefix`` (e.g. 'xsub')."""

    name = "pyskl"

    def __init__(self, root: str | Path, split_prefix: str | None = None, max_persons: int = 2,
                 layout: str | None = None):
        self.path = Path(root)
        content = load_pyskl_annotations(self.path)
        self.annotations = content["annotations"]
        if not self.annotations:
            raise ValueError(f"{self.path}: 'annotations' is empty")
        first = np.asarray(self.annotations[0].get("keypoint", np.zeros((1, 1, 0, 2))))
        V = first.shape[2] if first.ndim == 4 else 0
        if layout is None and V not in _LAYOUT_BY_JOINTS:
            raise ValueError(f"{self.path}: cannot guess the layout of {V} joints; pass layout=")
        self.layout = get_layout(layout or _LAYOUT_BY_JOINTS[V])
        self.num_coords = 3 if first.ndim == 4 and first.shape[-1] == 3 else 2
        self.num_persons, self.split_prefix = int(max_persons), split_prefix
        self.keys = [str(a.get("frame_dir", f"#{i}")) for i, a in enumerate(self.annotations)]
        self.split_dict = content.get("split", {}) or {}

    def load(self, index):
        ann = self.annotations[index]
        where = f"{self.path}: annotations[{index}] ({self.keys[index]})"
        if "label" not in ann:
            raise ReaderError(f"{where}: field 'label' is missing")
        return annotation_to_clip(ann, where, self.num_persons, self.layout.num_joints), int(ann["label"])

    def splits(self):
        position = {k: i for i, k in enumerate(self.keys)}
        out = {}
        for name, members in self.split_dict.items():
            if self.split_prefix and not name.startswith(self.split_prefix):
                continue
            out[name] = np.array(sorted(position[m] for m in members if m in position), dtype=np.int64)
        return out

    def options(self):
        return {"root": str(self.path), "split_prefix": self.split_prefix, "max_persons": self.num_persons}


register_source("pyskl", PysklSource)
