"""Kinetics-skeleton (ST-GCN's per-clip OpenPose JSON) -> (3, T, 18, M) float32.

One JSON per clip: ``{"data": [{"frame_index": k, "skeleton": [{"pose": [x0, y0, ...,
x17, y17], "score": [s0..s17]}, ...]}, ...], "label": str, "label_index": int}``.
Channels are (x, y, score) with x, y in [0, 1] image units, shifted by -0.5 and zeroed
where the score is 0 (ST-GCN's feeder).  Per frame, persons are ranked by their summed
score and the top ``max_persons`` kept.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ...layouts import get_layout
from ..sources import ReaderError, SkeletonSource, register_source

NUM_JOINTS = 18


def read_kinetics_json(path: str | Path, max_persons: int = 2, max_frames: int = 300,
                       persons_in: int = 5) -> tuple[np.ndarray, int | None]:
    """((3, T, 18, max_persons) float32, label_index or None) of one clip file."""
    path = Path(path)
    try:
        clip = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ReaderError(f"{path}: not valid JSON ({err}); truncated download?") from None
    if not isinstance(clip, dict) or not isinstance(clip.get("data"), list):
        raise ReaderError(f"{path}: field 'data' (list of frames) is missing")
    frames = clip["data"]
    if not frames:
        raise ReaderError(f"{path}: field 'data' is empty; the clip has no frames")
    try:
        T = min(max_frames, max(int(f["frame_index"]) for f in frames))
    except (KeyError, TypeError, ValueError):
        raise ReaderError(f"{path}: every entry of 'data' needs an integer 'frame_index'") from None
    if T < 1:
        raise ReaderError(f"{path}: frame_index values must start at 1")
    raw = np.zeros((3, T, NUM_JOINTS, persons_in), dtype=np.float32)
    for k, frame in enumerate(frames):
        t = int(frame["frame_index"]) - 1
        if not 0 <= t < T:
            continue
        for m, person in enumerate(frame.get("skeleton", [])[:persons_in]):
            pose, score = person.get("pose"), person.get("score")
            where = f"{path}: data[{k}].skeleton[{m}]"
            if pose is None or score is None:
                raise ReaderError(f"{where} needs fields 'pose' and 'score'")
            if len(pose) != 2 * NUM_JOINTS or len(score) != NUM_JOINTS:
                raise ReaderError(f"{where}: expected {2 * NUM_JOINTS} pose values and {NUM_JOINTS} scores "
                                  f"(OpenPose 18 joints), got {len(pose)} and {len(score)}")
            values = np.asarray(pose + score, dtype=np.float64)
            if not np.all(np.isfinite(values)):
                raise ReaderError(f"{where}: pose/score contains NaN or Inf")
            raw[0, t, :, m] = pose[0::2]
            raw[1, t, :, m] = pose[1::2]
            raw[2, t, :, m] = score
    raw[0:2] -= 0.5
    raw[0:2][:, raw[2] == 0] = 0
    rank = np.argsort(-raw[2].sum(axis=1), axis=1, kind="stable")  # (T, persons_in)
    sorted_raw = np.take_along_axis(raw, rank[None, :, None, :], axis=3)
    label = clip.get("label_index")
    return np.ascontiguousarray(sorted_raw[..., :max_persons]), (int(label) if label is not None else None)


class KineticsSource(SkeletonSource):
    """A folder of Kinetics-skeleton JSON files (one split), optional label index file
    (``{clip id: {"label_index": int, "has_skeleton": bool}}``) that overrides labels and
    drops clips without skeletons."""

    name = "kinetics"
    num_coords = 2

    def __init__(self, root: str | Path, label_file: str | Path | None = None, split: str = "train",
                 max_persons: int = 2, max_frames: int = 300):
        self.root = Path(root)
        if not self.root.is_dir():
            raise ValueError(f"Kinetics root {self.root} is not a directory of .json files")
        self.layout = get_layout("openpose18")
        self.num_persons, self.max_frames, self.split = int(max_persons), int(max_frames), split
        files = sorted(self.root.glob("*.json"))
        self.label_file = str(label_file) if label_file else None
        self.index = None
        if label_file:
            try:
                self.index = json.loads(Path(label_file).read_text())
            except (OSError, json.JSONDecodeError) as err:
                raise ValueError(f"label file {label_file}: cannot read it as JSON ({err})") from None
            files = [f for f in files if self.index.get(f.stem, {}).get("has_skeleton", True) and f.stem in self.index]
        if not files:
            raise ValueError(f"no usable .json clips under {self.root}")
        self.files, self.keys = files, [f.stem for f in files]
        self.num_classes = 400

    def load(self, index):
        x, label = read_kinetics_json(self.files[index], self.num_persons, self.max_frames)
        if self.index is not None:
            entry = self.index[self.keys[index]]
            if "label_index" not in entry:
                raise ReaderError(f"{self.label_file}: entry {self.keys[index]!r} has no 'label_index'")
            label = int(entry["label_index"])
        if label is None:
            raise ReaderError(f"{self.files[index]}: no 'label_index' field and no label file given")
        return x, label

    def splits(self):
        return {self.split: np.arange(len(self.keys))}

    def options(self):
        return {"root": str(self.root), "label_file": self.label_file, "split": self.split,
                "max_persons": self.num_persons, "max_frames": self.max_frames}


register_source("kinetics", KineticsSource)
