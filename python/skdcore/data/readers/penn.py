"""Penn Action ``labels/NNNN.mat`` files -> (3, T, 13, 1) float32 (x, y, visibility).

Each ``.mat`` has ``action`` (class name), ``x``/``y``/``visibility`` (T, 13), ``train``
(1 train, -1 test) and ``dimensions`` ([H, W, T]).  Coordinates are divided by the
image width/height and shifted by -0.5 (like Kinetics), zeroed where not visible.
scipy parses the files in a child process (:mod:`.mat_worker`): a damaged file that
crashes scipy is a ReaderError, not the end of the job.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...layouts import get_layout
from .base import LIMITS, ReaderError, SkeletonSource, check_clip, register_source
from .mat_worker import load_mat

PENN_ACTIONS = (
    "baseball_pitch",
    "baseball_swing",
    "bench_press",
    "bowl",
    "clean_and_jerk",
    "golf_swing",
    "jump_rope",
    "jumping_jacks",
    "pullup",
    "pushup",
    "situp",
    "squat",
    "strum_guitar",
    "tennis_forehand",
    "tennis_serve",
)
NUM_JOINTS = 13


def _field(arrays: dict, kinds: dict, name: str, path: Path, kind: str = "numeric") -> np.ndarray:
    if name not in kinds:
        raise ReaderError(f"{path}: field {name!r} is missing")
    if kinds[name] != kind:
        raise ReaderError(f"{path}: field {name!r} is {kinds[name]}, expected {kind}")
    value = arrays[name]
    if kind == "numeric" and value.dtype.kind not in "biuf":
        raise ReaderError(f"{path}: field {name!r} has dtype {value.dtype}, expected real numbers")
    return value


def _train_flag(value: np.ndarray, path: Path) -> bool:
    if value.size != 1 or not np.isfinite(value.astype(np.float64)).all():
        raise ReaderError(
            f"{path}: field 'train' must be one number (1 train, -1 test), got shape {value.shape}"
        )
    return float(value.reshape(())) == 1


def read_penn_mat(path: str | Path) -> tuple[np.ndarray, int, bool]:
    """((3, T, 13, 1) float32, label, is_train) of one Penn Action label file."""
    path = Path(path)
    arrays, kinds = load_mat(path)
    action_field = _field(arrays, kinds, "action", path, kind="text")
    action = str(np.squeeze(action_field)) if action_field.size == 1 else ""
    if action not in PENN_ACTIONS:
        raise ReaderError(f"{path}: field 'action' is {action[:40]!r}, not one of the 15 Penn Action classes")
    x, y, vis = (_field(arrays, kinds, k, path).astype(np.float64) for k in ("x", "y", "visibility"))
    for name, arr in (("x", x), ("y", y), ("visibility", vis)):
        if arr.ndim != 2 or arr.shape[1] != NUM_JOINTS:
            raise ReaderError(f"{path}: field {name!r} must be (T, {NUM_JOINTS}), got {arr.shape}")
        if arr.shape[0] == 0:
            raise ReaderError(f"{path}: field {name!r} is empty; the clip has no frames")
        if arr.shape[0] > LIMITS.frames:
            raise ReaderError(
                f"{path}: field {name!r} has {arr.shape[0]} frames, more than the limit {LIMITS.frames}"
            )
        if not np.all(np.isfinite(arr)):
            raise ReaderError(f"{path}: field {name!r} contains NaN or Inf")
    if not x.shape == y.shape == vis.shape:
        raise ReaderError(
            f"{path}: fields x, y, visibility differ in shape: {x.shape}, {y.shape}, {vis.shape}"
        )
    train = _train_flag(_field(arrays, kinds, "train", path), path)
    if "dimensions" in kinds:
        dims = _field(arrays, kinds, "dimensions", path).astype(np.float64).ravel()
        if dims.size < 2 or not np.all(np.isfinite(dims[:2])) or not np.all(dims[:2] > 0):
            raise ReaderError(
                f"{path}: field 'dimensions' must start with the image height and width (> 0), got "
                f"{dims[:3].tolist()}"
            )
        height, width = float(dims[0]), float(dims[1])
    else:
        height = width = 1.0
    out = np.zeros((3, x.shape[0], NUM_JOINTS, 1), dtype=np.float32)
    visible = vis > 0
    with np.errstate(over="ignore", invalid="ignore"):
        out[0, :, :, 0] = np.where(visible, x / width - 0.5, 0)
        out[1, :, :, 0] = np.where(visible, y / height - 0.5, 0)
    out[2, :, :, 0] = visible
    return check_clip(out, str(path)), PENN_ACTIONS.index(action), train


class PennActionSource(SkeletonSource):
    """A Penn Action ``labels`` folder; splits 'train' / 'test' from each file's 'train' field."""

    name = "penn"
    num_persons = 1
    num_coords = 2
    label_names = PENN_ACTIONS

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.files = sorted(self.root.glob("*.mat"))
        if not self.files:
            raise ValueError(f"no .mat label files under {self.root}")
        self.keys = [f.stem for f in self.files]
        self.layout = get_layout("penn13")

    def load(self, index):
        x, label, _ = read_penn_mat(self.files[index])
        return x, label

    def splits(self):
        train = []
        for f in self.files:
            try:
                arrays, kinds = load_mat(f, ["train"])
                train.append(_train_flag(_field(arrays, kinds, "train", f), f))
            except ReaderError:  # unreadable files are skipped by load()
                train.append(False)
        train = np.array(train, dtype=bool)
        return {"train": np.flatnonzero(train), "test": np.flatnonzero(~train)}

    def options(self):
        return {"root": str(self.root)}


register_source("penn", PennActionSource)
