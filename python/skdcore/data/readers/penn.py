"""Penn Action ``labels/NNNN.mat`` files -> (3, T, 13, 1) float32 (x, y, visibility).

Each ``.mat`` has ``action`` (class name), ``x``/``y``/``visibility`` (T, 13), ``train``
(1 train, -1 test) and ``dimensions`` ([H, W, T]).  Coordinates are divided by the
image width/height and shifted by -0.5 (like Kinetics), zeroed where not visible.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ...layouts import get_layout
from ..sources import ReaderError, SkeletonSource, register_source

PENN_ACTIONS = (
    "baseball_pitch", "baseball_swing", "bench_press", "bowl", "clean_and_jerk", "golf_swing", "jump_rope",
    "jumping_jacks", "pullup", "pushup", "situp", "squat", "strum_guitar", "tennis_forehand", "tennis_serve",
)
NUM_JOINTS = 13


def read_penn_mat(path: str | Path) -> tuple[np.ndarray, int, bool]:
    """((3, T, 13, 1) float32, label, is_train) of one Penn Action label file."""
    import scipy.io

    path = Path(path)
    try:
        mat = scipy.io.loadmat(path)
    except Exception as err:  # noqa: BLE001  (scipy raises several types for damaged files)
        raise ReaderError(f"{path}: not a readable .mat file ({type(err).__name__}: {err})") from None
    for field in ("action", "x", "y", "visibility", "train"):
        if field not in mat:
            raise ReaderError(f"{path}: field {field!r} is missing")
    action = str(np.squeeze(mat["action"]))
    if action not in PENN_ACTIONS:
        raise ReaderError(f"{path}: field 'action' is {action!r}, not one of the 15 Penn Action classes")
    x, y, vis = (np.asarray(mat[k], dtype=np.float64) for k in ("x", "y", "visibility"))
    for name, arr in (("x", x), ("y", y), ("visibility", vis)):
        if arr.ndim != 2 or arr.shape[1] != NUM_JOINTS:
            raise ReaderError(f"{path}: field {name!r} must be (T, {NUM_JOINTS}), got {arr.shape}")
        if arr.shape[0] == 0:
            raise ReaderError(f"{path}: field {name!r} is empty; the clip has no frames")
        if not np.all(np.isfinite(arr)):
            raise ReaderError(f"{path}: field {name!r} contains NaN or Inf")
    if not x.shape == y.shape == vis.shape:
        raise ReaderError(f"{path}: fields x, y, visibility differ in shape: {x.shape}, {y.shape}, {vis.shape}")
    if "dimensions" in mat and np.size(mat["dimensions"]) >= 2:
        height, width = (float(v) for v in np.ravel(mat["dimensions"])[:2])
    else:
        height = width = 1.0
    out = np.zeros((3, x.shape[0], NUM_JOINTS, 1), dtype=np.float32)
    visible = vis > 0
    out[0, :, :, 0] = np.where(visible, x / width - 0.5, 0)
    out[1, :, :, 0] = np.where(visible, y / height - 0.5, 0)
    out[2, :, :, 0] = visible
    return out, PENN_ACTIONS.index(action), int(np.squeeze(mat["train"])) == 1


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
        self._train = None

    def load(self, index):
        x, label, _ = read_penn_mat(self.files[index])
        return x, label

    def splits(self):
        import scipy.io

        train = []
        for f in self.files:
            try:
                train.append(int(np.squeeze(scipy.io.loadmat(f, variable_names=["train"])["train"])) == 1)
            except Exception:  # noqa: BLE001  (unreadable files are skipped by load())
                train.append(False)
        train = np.array(train)
        return {"train": np.flatnonzero(train), "test": np.flatnonzero(~train)}

    def options(self):
        return {"root": str(self.root)}


register_source("penn", PennActionSource)
