"""Kinetics-skeleton (ST-GCN's per-clip OpenPose JSON) -> (3, T, 18, M) float32.

One JSON per clip: ``{"data": [{"frame_index": k, "skeleton": [{"pose": [x0, y0, ...,
x17, y17], "score": [s0..s17]}, ...]}, ...], "label": str, "label_index": int}``.
Channels are (x, y, score) with x, y in [0, 1] image units, shifted by -0.5 and zeroed
where the score is 0 (ST-GCN's feeder).  Per frame, persons are ranked by their summed
score and the top ``max_persons`` kept.  Frames whose index is beyond ``max_frames`` (or
below 1) are ignored.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...layouts import get_layout
from .base import (
    LIMITS,
    ReaderError,
    SkeletonSource,
    brief,
    check_clip,
    check_label,
    finite_float32,
    is_integer,
    is_number,
    load_json,
    register_source,
)

NUM_JOINTS = 18


def _numbers(value, count: int, where: str, what: str) -> list:
    if not isinstance(value, list) or len(value) != count or not all(is_number(v) for v in value):
        got = f"{len(value)} values" if isinstance(value, list) else f"a {type(value).__name__}"
        raise ReaderError(
            f"{where}: '{what}' must be a list of {count} numbers (OpenPose 18 joints), got {got}"
        )
    return value


def _frame_index(frame, k: int, path: Path) -> int:
    if not isinstance(frame, dict):
        raise ReaderError(
            f"{path}: data[{k}] is a {type(frame).__name__}; every entry of 'data' must be an object "
            "with 'frame_index' and 'skeleton'"
        )
    index = frame.get("frame_index")
    if not is_integer(index):
        raise ReaderError(
            f"{path}: data[{k}].frame_index is {brief(index)}; every entry of 'data' needs an "
            "integer 'frame_index'"
        )
    return int(index)


def read_kinetics_json(
    path: str | Path, max_persons: int = 2, max_frames: int = 300, persons_in: int = 5
) -> tuple[np.ndarray, int | None]:
    """((3, T, 18, max_persons) float32, label_index or None) of one clip file."""
    path = Path(path)
    clip = load_json(path)
    if not isinstance(clip, dict) or not isinstance(clip.get("data"), list):
        raise ReaderError(f"{path}: field 'data' (list of frames) is missing")
    frames = clip["data"]
    if not frames:
        raise ReaderError(f"{path}: field 'data' is empty; the clip has no frames")
    indices = [_frame_index(frame, k, path) for k, frame in enumerate(frames)]
    T = min(max_frames, LIMITS.frames, max(indices))
    if T < 1:
        raise ReaderError(f"{path}: frame_index values must start at 1")
    raw = np.zeros((3, T, NUM_JOINTS, persons_in), dtype=np.float32)
    for k, (frame, index) in enumerate(zip(frames, indices)):
        t = index - 1
        if not 0 <= t < T:
            continue
        skeleton = frame.get("skeleton", [])
        if not isinstance(skeleton, list):
            raise ReaderError(
                f"{path}: data[{k}].skeleton is a {type(skeleton).__name__}; expected a list of persons"
            )
        for m, person in enumerate(skeleton[:persons_in]):
            where = f"{path}: data[{k}].skeleton[{m}]"
            if not isinstance(person, dict) or "pose" not in person or "score" not in person:
                raise ReaderError(f"{where} needs fields 'pose' and 'score'")
            pose = _numbers(person["pose"], 2 * NUM_JOINTS, where, "pose")
            score = _numbers(person["score"], NUM_JOINTS, where, "score")
            values = finite_float32(pose + score, where, "pose/score")
            raw[0, t, :, m] = values[0 : 2 * NUM_JOINTS : 2]
            raw[1, t, :, m] = values[1 : 2 * NUM_JOINTS : 2]
            raw[2, t, :, m] = values[2 * NUM_JOINTS :]
    with np.errstate(over="ignore", invalid="ignore"):
        raw[0:2] -= 0.5
    raw[0:2][:, raw[2] == 0] = 0
    with np.errstate(over="ignore", invalid="ignore"):
        rank = np.argsort(-raw[2].sum(axis=1), axis=1, kind="stable")  # (T, persons_in)
    sorted_raw = np.take_along_axis(raw, rank[None, :, None, :], axis=3)
    label = clip.get("label_index")
    label = None if label is None else check_label(label, str(path), "field 'label_index'")
    return check_clip(np.ascontiguousarray(sorted_raw[..., :max_persons]), str(path)), label


class KineticsSource(SkeletonSource):
    """A folder of Kinetics-skeleton JSON files (one split), optional label index file
    (``{clip id: {"label_index": int, "has_skeleton": bool}}``) that overrides labels and
    drops clips without skeletons."""

    name = "kinetics"
    num_coords = 2

    def __init__(
        self,
        root: str | Path,
        label_file: str | Path | None = None,
        split: str = "train",
        max_persons: int = 2,
        max_frames: int = 300,
    ):
        self.root = Path(root)
        if not self.root.is_dir():
            raise ValueError(f"Kinetics root {self.root} is not a directory of .json files")
        self.layout = get_layout("openpose18")
        self.num_persons, self.max_frames, self.split = int(max_persons), int(max_frames), split
        files = sorted(self.root.glob("*.json"))
        self.label_file = str(label_file) if label_file else None
        self.index = None
        if label_file:
            self.index = load_json(Path(label_file))
            if not isinstance(self.index, dict) or not all(isinstance(v, dict) for v in self.index.values()):
                raise ReaderError(
                    f"label file {label_file}: expected an object {{clip id: {{'label_index': int, "
                    "'has_skeleton': bool}}}}"
                )
            # NB: only a real false drops a clip; another non-boolean fails that clip in load(), with a reason
            files = [
                f for f in files
                if f.stem in self.index and self.index[f.stem].get("has_skeleton", True) is not False
            ]
        if not files:
            raise ValueError(f"no usable .json clips under {self.root}")
        self.files, self.keys = files, [f.stem for f in files]
        self.num_classes = 400

    def load(self, index):
        if self.index is not None:
            where = f"{self.label_file}: entry {self.keys[index]!r}"
            has_skeleton = self.index[self.keys[index]].get("has_skeleton", True)
            if not isinstance(has_skeleton, bool):
                raise ReaderError(f"{where}: 'has_skeleton' is {brief(has_skeleton)}; expected true or false")
        x, label = read_kinetics_json(self.files[index], self.num_persons, self.max_frames)
        where = str(self.files[index])
        if self.index is not None:
            where = f"{self.label_file}: entry {self.keys[index]!r}"
            label = check_label(self.index[self.keys[index]].get("label_index"), where, "'label_index'")
        if label is None:
            raise ReaderError(f"{self.files[index]}: no 'label_index' field and no label file given")
        if label >= self.num_classes:
            raise ReaderError(f"{where}: 'label_index' is {label}; Kinetics has {self.num_classes} classes "
                              f"(0..{self.num_classes - 1})")
        return x, label

    def splits(self):
        return {self.split: np.arange(len(self.keys))}

    def options(self):
        return {
            "root": str(self.root),
            "label_file": self.label_file,
            "split": self.split,
            "max_persons": self.num_persons,
            "max_frames": self.max_frames,
        }


register_source("kinetics", KineticsSource)
