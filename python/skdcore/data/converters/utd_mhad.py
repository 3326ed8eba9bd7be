"""UTD-MHAD skeletons (``Skeleton/a{A}_s{S}_t{T}_skeleton.mat``) -> ``utd_mhad.npz`` + ``layout.yaml``.

UTD-MHAD (Chen, Jafari, Kehtarnavaz 2015): 27 actions by 8 subjects, 4 trials each, recorded with a
Kinect v1 (20 joints, 3-D, 30 fps). Each ``.mat`` holds ``d_skel`` (20, 3, T). The output is the arrays
input of ``skd prepare --source arrays`` (docs/real-data.md):

- ``x`` (N, 3, T_max, 20, 1) float32 padded with zeros, ``lengths`` (N,) the frames of each clip;
- ``labels`` (N,) action - 1, ``label_names`` the 27 action names;
- ``subjects`` (N,) subject id, ``split`` (N,) 'train' (subjects 1, 3, 5, 7) or 'test' (2, 4, 6, 8):
  the standard cross-subject protocol, so ``--val-fraction`` holds validation out by subject.

The files are parsed the safe way (:mod:`skdcore.data.readers.mat_worker`: a child process with capped
memory and a timeout); a damaged file is skipped and listed, like ``skd prepare`` does.

Usage: ``python -m skdcore.data.converters.utd_mhad SRC_DIR OUT_DIR``.
"""

from __future__ import annotations

import argparse
import io
import re
import sys
from pathlib import Path

import numpy as np

from ...atomic_io import atomic_write_bytes, atomic_write_text
from ...layouts import make_layout
from ..readers.base import ReaderError
from ..readers.mat_worker import load_mat

JOINT_NAMES = (
    "head",
    "shoulder_center",
    "spine",
    "hip_center",
    "left_shoulder",
    "left_elbow",
    "left_wrist",
    "left_hand",
    "right_shoulder",
    "right_elbow",
    "right_wrist",
    "right_hand",
    "left_hip",
    "left_knee",
    "left_ankle",
    "left_foot",
    "right_hip",
    "right_knee",
    "right_ankle",
    "right_foot",
)
# The Kinect v1 bone tree.
BONES = (
    ("head", "shoulder_center"),
    ("shoulder_center", "spine"),
    ("spine", "hip_center"),
    ("shoulder_center", "left_shoulder"),
    ("left_shoulder", "left_elbow"),
    ("left_elbow", "left_wrist"),
    ("left_wrist", "left_hand"),
    ("shoulder_center", "right_shoulder"),
    ("right_shoulder", "right_elbow"),
    ("right_elbow", "right_wrist"),
    ("right_wrist", "right_hand"),
    ("hip_center", "left_hip"),
    ("left_hip", "left_knee"),
    ("left_knee", "left_ankle"),
    ("left_ankle", "left_foot"),
    ("hip_center", "right_hip"),
    ("right_hip", "right_knee"),
    ("right_knee", "right_ankle"),
    ("right_ankle", "right_foot"),
)
ACTIONS = (
    "swipe_left",
    "swipe_right",
    "wave",
    "clap",
    "throw",
    "arm_cross",
    "basketball_shoot",
    "draw_x",
    "draw_circle_cw",
    "draw_circle_ccw",
    "draw_triangle",
    "bowling",
    "boxing",
    "baseball_swing",
    "tennis_swing",
    "arm_curl",
    "tennis_serve",
    "push",
    "knock",
    "catch",
    "pickup_throw",
    "jog",
    "walk",
    "sit_to_stand",
    "stand_to_sit",
    "lunge",
    "squat",
)
TRAIN_SUBJECTS = (1, 3, 5, 7)  # cross-subject protocol; subjects 2, 4, 6, 8 are the test split
FILE_PATTERN = re.compile(r"a(\d+)_s(\d+)_t(\d+)_skeleton\.mat")
MAX_FRAMES = 10_000  # a clip longer than this is a damaged or foreign file (UTD-MHAD clips: 41-125)


def utd_mhad_layout():
    """The Kinect v1 layout of UTD-MHAD: 20 joints, centre 'spine' (the graph centre of the tree)."""
    roles = {
        "spine_base": "hip_center",
        "spine_top": "shoulder_center",
        "left_shoulder": "left_shoulder",
        "right_shoulder": "right_shoulder",
    }
    return make_layout("utd_mhad20", JOINT_NAMES, BONES, center="spine", roles=roles)


def read_skeleton(path: Path) -> np.ndarray:
    """(3, T, 20, 1) float32 of one ``a*_s*_t*_skeleton.mat``; a ReaderError names what is wrong."""
    arrays, kinds = load_mat(path, ["d_skel"])
    if kinds.get("d_skel") != "numeric":
        found = kinds.get("d_skel", "missing")
        raise ReaderError(f"{path}: variable 'd_skel' is {found}, expected a (20, 3, T) numeric array")
    skel = arrays["d_skel"]
    if skel.ndim != 3 or skel.shape[:2] != (20, 3) or not 1 <= skel.shape[2] <= MAX_FRAMES:
        raise ReaderError(
            f"{path}: 'd_skel' has shape {skel.shape}, expected (20, 3, T) with 1 <= T <= {MAX_FRAMES}"
        )
    if skel.dtype.kind not in "iuf" or not np.all(np.isfinite(skel)):
        raise ReaderError(f"{path}: 'd_skel' holds {skel.dtype} values that are not all finite numbers")
    return np.ascontiguousarray(skel.transpose(1, 2, 0)[..., None], dtype=np.float32)


def find_files(src: Path) -> list[tuple[int, int, int, Path]]:
    """(action, subject, trial, path) of every skeleton file in ``src`` (or ``src/Skeleton``), sorted."""
    folder = src / "Skeleton" if (src / "Skeleton").is_dir() else src
    if not folder.is_dir():
        raise ValueError(f"{src}: not a folder; give the UTD-MHAD 'Skeleton' folder (or the folder above it)")
    found = []
    for path in folder.iterdir():
        match = FILE_PATTERN.fullmatch(path.name)
        if match and path.is_file():
            action, subject, trial = (int(g) for g in match.groups())
            if not 1 <= action <= len(ACTIONS):
                raise ValueError(f"{path}: action {action} is outside 1..{len(ACTIONS)}")
            found.append((action, subject, trial, path))
    if not found:
        raise ValueError(
            f"{folder}: no a<A>_s<S>_t<T>_skeleton.mat files; give the UTD-MHAD 'Skeleton' folder"
        )
    return sorted(found)


def convert(src: str | Path, out: str | Path, log=print) -> dict:
    """Write ``out/utd_mhad.npz`` and ``out/layout.yaml``; returns counts (clips, skipped, per split)."""
    import yaml

    files = find_files(Path(src))
    clips, labels, subjects, skipped = [], [], [], []
    for action, subject, _, path in files:
        try:
            clips.append(read_skeleton(path))
        except ReaderError as err:
            skipped.append(str(err))
            log(f"skipped: {err}")
            continue
        labels.append(action - 1)
        subjects.append(subject)
    if not clips:
        raise ValueError(f"{src}: none of the {len(files)} skeleton files could be read")
    lengths = np.array([c.shape[1] for c in clips], dtype=np.int64)
    x = np.zeros((len(clips), 3, int(lengths.max()), 20, 1), dtype=np.float32)
    for i, clip in enumerate(clips):
        x[i, :, : clip.shape[1]] = clip
    subjects = np.array(subjects, dtype=np.int64)
    split = np.where(np.isin(subjects, TRAIN_SUBJECTS), "train", "test")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    np.savez(
        buffer,
        x=x,
        lengths=lengths,
        labels=np.array(labels, dtype=np.int64),
        subjects=subjects,
        split=split,
        label_names=np.array(ACTIONS),
    )
    atomic_write_bytes(out / "utd_mhad.npz", buffer.getvalue())
    layout = utd_mhad_layout().to_dict()
    atomic_write_text(out / "layout.yaml", yaml.safe_dump(layout, sort_keys=False, default_flow_style=None))
    counts = {
        "clips": len(clips),
        "skipped": len(skipped),
        "train": int((split == "train").sum()),
        "test": int((split == "test").sum()),
        "frames": [int(lengths.min()), int(lengths.max())],
    }
    return counts


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m skdcore.data.converters.utd_mhad",
        description="UTD-MHAD skeleton .mat files -> utd_mhad.npz + layout.yaml for skd prepare",
    )
    parser.add_argument("src", help="the UTD-MHAD 'Skeleton' folder (a*_s*_t*_skeleton.mat files)")
    parser.add_argument("out", help="output folder (utd_mhad.npz, layout.yaml)")
    args = parser.parse_args(argv)
    try:
        counts = convert(args.src, args.out)
    except (ValueError, ReaderError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    out = Path(args.out)
    print(
        f"{counts['clips']} clips ({counts['train']} train: subjects 1, 3, 5, 7; {counts['test']} test), "
        f"{counts['frames'][0]}-{counts['frames'][1]} frames, {counts['skipped']} skipped -> "
        f"{out / 'utd_mhad.npz'}, {out / 'layout.yaml'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
