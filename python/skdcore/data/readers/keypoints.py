"""A folder of pose-estimator outputs (one file per clip) + labels.csv as a prepare source:
``skd prepare --source keypoints --input FOLDER --labels labels.csv --layout NAME``.

``labels.csv`` has a header ``file,label`` and optionally ``split`` and ``subject`` columns; ``file`` is
a file name in FOLDER (any format of :mod:`.keypoint_files`), ``label`` a class index 0..K-1 or a class
name (names are numbered in sorted order and stored as the label names). Without a ``split`` column
every clip is in 'train' (hold out test/val with --test-fraction / --val-fraction).

Each clip is tracked into ``max_persons`` slots (:mod:`.person_tracks`), joints scored below
``score_threshold`` are missing, and missing joints get the LQ student's imputation
(:func:`skdcore.data.lq.impute_absent`, the window the manifest records): exactly what
:class:`skdcore.infer.StreamRecognizer` does to live frames. Channels: the coordinates (2 or 3), then
the score.
"""

from __future__ import annotations

import csv
import hashlib
import io
from pathlib import Path

import numpy as np

from ...layouts import get_layout
from ..lq import SKD_IMPUTATION_WINDOW, impute_absent
from .base import LIMITS, ReaderError, SkeletonSource, check_count, read_capped_bytes, register_source
from .keypoint_files import KEYPOINT_SUFFIXES, read_keypoint_file
from .person_tracks import DEFAULT_SCORE_THRESHOLD, frames_to_clip

LABELS_HELP = "labels.csv needs a header 'file,label' (optional columns: split, subject), one row per clip"


def read_labels_csv(path: Path, folder: Path) -> dict:
    """{files, labels, label_names, splits, subjects} of a labels.csv, every file checked to exist."""
    text = read_capped_bytes(path, LIMITS.text_file_bytes)
    try:
        rows = list(csv.DictReader(io.StringIO(text.decode("utf-8-sig"))))
    except (UnicodeDecodeError, csv.Error) as err:
        raise ReaderError(f"{path}: not a readable CSV file ({err}); {LABELS_HELP}") from None
    if not rows or not {"file", "label"} <= set(rows[0]):
        raise ReaderError(f"{path}: no rows or no 'file' and 'label' columns; {LABELS_HELP}")
    check_count(len(rows), LIMITS.frames * 10, "rows", str(path))
    files, raw_labels = [], []
    for i, row in enumerate(rows):
        name, label = (row.get("file") or "").strip(), (row.get("label") or "").strip()
        where = f"{path} row {i + 2}"
        if not name or not label:
            raise ReaderError(f"{where}: empty file or label; {LABELS_HELP}")
        if Path(name).name != name or name.startswith("."):
            raise ReaderError(f"{where}: file {name!r} must be a plain file name inside {folder}")
        if Path(name).suffix.lower() not in KEYPOINT_SUFFIXES:
            raise ReaderError(f"{where}: file {name!r} is not a keypoint file {list(KEYPOINT_SUFFIXES)}")
        if not (folder / name).is_file():
            raise ReaderError(f"{where}: file {name!r} not found in {folder}")
        files.append(name)
        raw_labels.append(label)
    if len(set(files)) != len(files):
        raise ReaderError(f"{path}: a file is listed twice; give each clip one row")
    if all(label.isdigit() for label in raw_labels):
        labels, names = np.array([int(v) for v in raw_labels], dtype=np.int64), None
    else:
        names = sorted(set(raw_labels))
        labels = np.array([names.index(v) for v in raw_labels], dtype=np.int64)
    splits = {"train": np.arange(len(files))}
    if "split" in rows[0]:
        split = np.array([(r.get("split") or "train").strip() for r in rows])
        splits = {str(s): np.flatnonzero(split == s) for s in np.unique(split)}
    subjects = None
    if "subject" in rows[0]:
        subjects = np.unique([(r.get("subject") or "").strip() for r in rows], return_inverse=True)[1]
    return {
        "files": files,
        "labels": labels,
        "label_names": names,
        "splits": splits,
        "subjects": subjects,
        "sha256_16": hashlib.sha256(text).hexdigest()[:16],
    }


def keypoint_clip(
    frames, layout, max_persons: int, score_threshold: float, imputation_window: int, where: str
) -> np.ndarray:
    """(C, T, V, M) clip of frames of detections: tracked, low scores missing, missing joints imputed."""
    clip = frames_to_clip(frames, layout.num_joints, max_persons, score_threshold, where)
    return impute_absent(clip, imputation_window)


class KeypointSource(SkeletonSource):
    """One estimator output file per clip in ``root``, labelled by ``labels`` (labels.csv)."""

    name = "keypoints"
    default_normalise = False  # NB: coordinates as the estimator gave them (models may centre_input)

    def __init__(
        self,
        root,
        labels,
        layout,
        max_persons: int = 1,
        score_threshold: float = DEFAULT_SCORE_THRESHOLD,
        imputation_window: int = SKD_IMPUTATION_WINDOW,
    ):
        self.root = Path(root)
        if not self.root.is_dir():
            raise ValueError(
                f"--input {self.root}: not a folder; give the folder of keypoint files (one per clip)"
            )
        if labels is None:
            raise ValueError(f"--source keypoints needs --labels labels.csv; {LABELS_HELP}")
        if layout is None:
            raise ValueError(
                "--source keypoints needs --layout (the estimator's joints: coco17, halpe26, "
                "mediapipe33, h36m17, openpose25, ... or a layout.yaml)"
            )
        self.labels_path = Path(labels)
        if not self.labels_path.is_file():
            raise ValueError(f"--labels {self.labels_path} not found; {LABELS_HELP}")
        if int(max_persons) < 1 or int(imputation_window) < 0:
            raise ValueError(
                f"need max_persons >= 1 and imputation_window >= 0, got {max_persons}, {imputation_window}"
            )
        self.layout = get_layout(layout)
        self.max_persons, self.num_persons = int(max_persons), int(max_persons)
        self.score_threshold, self.imputation_window = float(score_threshold), int(imputation_window)
        table = read_labels_csv(self.labels_path, self.root)
        self.keys, self.labels = table["files"], table["labels"]
        self.label_names = tuple(table["label_names"]) if table["label_names"] else None
        self.num_classes = len(self.label_names) if self.label_names else int(self.labels.max()) + 1
        self._splits, self._subjects, self._labels_digest = (
            table["splits"],
            table["subjects"],
            table["sha256_16"],
        )
        first = self._first_readable()  # NB: it fixes the coordinates (2-D or 3-D) of every clip
        self.num_channels, self.num_coords = first.shape[0], first.shape[0] - 1

    def _first_readable(self) -> np.ndarray:
        """The first clip that reads (a malformed file is skipped later, by prepare, with its reason)."""
        first_error = None
        for index in range(len(self.keys)):
            try:
                return self._read(index)
            except ReaderError as error:
                first_error = first_error or error
        raise first_error

    def _read(self, index: int) -> np.ndarray:
        path = self.root / self.keys[index]
        return keypoint_clip(
            read_keypoint_file(path),
            self.layout,
            self.max_persons,
            self.score_threshold,
            self.imputation_window,
            str(path),
        )

    def load(self, index: int):
        clip = self._read(index)
        if clip.shape[0] != self.num_channels:
            raise ReaderError(
                f"{self.root / self.keys[index]}: {clip.shape[0] - 1}-D keypoints but "
                f"{self.keys[0]} has {self.num_channels - 1}-D ones; one kind per data set"
            )
        return clip, int(self.labels[index])

    def splits(self) -> dict:
        return dict(self._splits)

    def subjects(self):
        return self._subjects

    def options(self) -> dict:
        return {
            "input": str(self.root),
            "labels": str(self.labels_path),
            "labels_sha256_16": self._labels_digest,
            "max_persons": self.max_persons,
            "score_threshold": self.score_threshold,
            "imputation_window": self.imputation_window,
            "num_coords": self.num_coords,
            "label_names": list(self.label_names) if self.label_names else None,
        }


register_source("keypoints", KeypointSource)
