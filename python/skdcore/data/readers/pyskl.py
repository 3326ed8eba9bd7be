"""PYSKL-style pickle annotations -> (3, T, V, M) float32.

The file holds ``{"split": {name: [frame_dir, ...]}, "annotations": [{"frame_dir": str,
"label": int, "keypoint": (M, T, V, C) array, "keypoint_score": (M, T, V) optional,
"total_frames": int}, ...]}``.  3D keypoints (C=3) are kept as (x, y, z); 2D keypoints
become (x, y, score), the score being 1 where no ``keypoint_score`` is given.  Persons
are ranked by summed score (2D) or motion energy (3D); the top ``max_persons`` are kept.

A pickle can run code when loaded, so the file is read with a restricted unpickler
(:mod:`.safe_pickle`: builtin containers and numpy arrays only); ``trust_pickle=True``
(``skd prepare --trust-pickle``) uses plain pickle for files from a source you trust.
"""

from __future__ import annotations

import logging
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
    numeric_array,
    register_source,
)
from .safe_pickle import load_pickle

log = logging.getLogger("skdcore.data.pyskl")
_LAYOUT_BY_JOINTS = {25: "ntu25", 18: "openpose18", 17: "coco17", 13: "penn13"}
# A pickled annotation (a dict with frame_dir, label and a keypoint array) takes far more bytes than this;
# many more annotations than file bytes / MIN_ANNOTATION_BYTES can only be memo references to a few.
MIN_ANNOTATION_BYTES = 32
MAX_SPLITS = 256
MAX_SPLIT_ENTRIES_PER_CLIP = 16  # a clip sits in a few splits (xsub_train, xview_val, ...)
MAX_LIST_DEPTH = 8  # nested lists of one keypoint field ((M, T, V, C) needs 4)


def load_pyskl_annotations(path: str | Path, trust_pickle: bool = False) -> dict:
    """The annotation file's dict, its structure checked: 'annotations' a list, 'split' {name: [str]}."""
    path = Path(path)
    content = load_pickle(path, trust=trust_pickle)
    if not isinstance(content, dict) or not isinstance(content.get("annotations"), list):
        raise ReaderError(f"{path}: expected a dict with keys 'split' and 'annotations' (a list)")
    split = content.get("split") or {}
    shape_ok = isinstance(split, dict) and all(
        isinstance(name, str) and isinstance(members, (list, tuple)) for name, members in split.items()
    )
    if shape_ok:
        check_split_counts(split, len(content["annotations"]), path)  # NB: before walking the entries
    if not shape_ok or not all(isinstance(m, str) for members in split.values() for m in members):
        raise ReaderError(f"{path}: field 'split' must map split names to lists of frame_dir strings")
    return content


def check_split_counts(split: dict, num_annotations: int, path: Path) -> None:
    """Refuse split lists a pickle's memo multiplies: every split writes a file of its entries, so one
    list shared by thousands of split names would turn a small file into thousands of large ones. Each
    reference to an entry counts (shared lists count once per split that names them)."""
    if len(split) > MAX_SPLITS:
        raise ReaderError(
            f"{path}: {len(split)} splits, more than the limit {MAX_SPLITS} (PYSKL files hold a few: "
            "xsub_train, xsub_val, ...); the file is crafted or damaged"
        )
    limit = MAX_SPLIT_ENTRIES_PER_CLIP * max(1, num_annotations)
    total = 0
    for members in split.values():
        total += len(members)
        if total > limit:
            raise ReaderError(
                f"{path}: its splits list more than {limit} entries in all ({MAX_SPLIT_ENTRIES_PER_CLIP} "
                f"per annotation for {num_annotations} annotations): split lists shared through pickle "
                "memo references; the file is crafted"
            )


def _declared_values(value, budget: int, where: str) -> int:
    """Numbers an array field holds (an ndarray's size, or the members of nested lists counted level by
    level), counting stops once past ``budget``."""
    if isinstance(value, np.ndarray):
        return value.size
    total, level, depth = 0, [value], 0
    while level and total <= budget:
        lists = [v for v in level if isinstance(v, (list, tuple))]
        total += sum(1 for v in level if not isinstance(v, (list, tuple)))
        level, depth = [], depth + 1
        if lists and depth > MAX_LIST_DEPTH:  # NB: a list holding itself (a memo cycle) never ends
            raise ReaderError(
                f"{where}: a keypoint field is nested more than {MAX_LIST_DEPTH} lists deep (or holds "
                "itself through a pickle memo reference); an (M, T, V, C) array has 4 levels"
            )
        for v in lists:
            level.extend(v)
            if len(level) > budget:
                return total + len(level)
    return total + len(level)


def check_annotation_counts(annotations: list, file_bytes: int, path: Path) -> None:
    """Refuse annotations that a pickle's memo multiplies: the same object listed many times, more
    annotations than the file could hold, or more keypoint values than the file has bytes (a stored
    value takes at least one byte). Checked before any clip is read, so prepare never sizes its output
    from a count the file does not back."""
    if len({id(a) for a in annotations}) != len(annotations):
        raise ReaderError(
            f"{path}: 'annotations' lists the same annotation object more than once (a pickle memo "
            "reference); every clip must be stored on its own"
        )
    limit = max(1, file_bytes // MIN_ANNOTATION_BYTES)
    if len(annotations) > limit:
        raise ReaderError(
            f"{path}: {len(annotations)} annotations in {file_bytes} bytes, more than one per "
            f"{MIN_ANNOTATION_BYTES} bytes ({limit}); the file is crafted or damaged"
        )
    values = 0
    for ann in annotations:
        if isinstance(ann, dict):
            for key in ("keypoint", "keypoint_score"):
                values += _declared_values(ann.get(key, ()), file_bytes - values, str(path))
        if values > file_bytes:
            raise ReaderError(
                f"{path}: its annotations hold more keypoint values ({values}+) than the file has bytes "
                f"({file_bytes}): they share data through pickle memo references; the file is crafted"
            )


def _keypoint(ann: dict, where: str) -> np.ndarray:
    if "keypoint" not in ann:
        raise ReaderError(f"{where}: field 'keypoint' is missing")
    kp = numeric_array(ann["keypoint"], where, "'keypoint'")
    if kp.ndim != 4 or kp.shape[-1] not in (2, 3):
        raise ReaderError(f"{where}: 'keypoint' must be (M, T, V, 2|3), got shape {kp.shape}")
    M, T, V, _ = kp.shape
    for what, value, limit in (
        ("persons M", M, LIMITS.persons),
        ("frames T", T, LIMITS.frames),
        ("joints V", V, LIMITS.joints),
    ):
        if value > limit:
            raise ReaderError(f"{where}: 'keypoint' has {value} {what}, more than the limit {limit}")
    return kp


def annotation_to_clip(
    ann: dict, where: str, max_persons: int = 2, num_joints: int | None = None
) -> np.ndarray:
    """(3, T, V, max_persons) float32 from one annotation dict; ``where`` prefixes errors."""
    if not isinstance(ann, dict):
        raise ReaderError(f"{where}: the annotation is a {type(ann).__name__}, expected a dict")
    kp = _keypoint(ann, where)
    M, T, V, C = kp.shape
    if T == 0 or M == 0:
        raise ReaderError(f"{where}: 'keypoint' is empty (shape {kp.shape})")
    if num_joints is not None and V != num_joints:
        raise ReaderError(f"{where}: 'keypoint' has {V} joints, the layout expects {num_joints}")
    kp = finite_float32(kp, where, "'keypoint'")
    if C == 3:
        clip = kp
        rank_key = -np.array([kp[m].astype(np.float64).reshape(T, -1).var(axis=0).sum() for m in range(M)])
    else:
        score = ann.get("keypoint_score")
        if score is None:
            score = np.any(kp != 0, axis=-1).astype(np.float32)
        score = numeric_array(score, where, "'keypoint_score'")
        if score.shape != (M, T, V):
            raise ReaderError(f"{where}: 'keypoint_score' must be (M, T, V)={(M, T, V)}, got {score.shape}")
        score = finite_float32(score, where, "'keypoint_score'")
        clip = np.concatenate([kp, score[..., None]], axis=-1)
        rank_key = -score.astype(np.float64).sum(axis=(1, 2))
    order = np.argsort(rank_key, kind="stable")[:max_persons]
    out = np.zeros((3, T, V, max_persons), dtype=np.float32)
    out[..., : len(order)] = clip[order].transpose(3, 1, 2, 0)
    return check_clip(out, where)


def clip_key(ann, index: int) -> str:
    """The annotation's frame_dir, or '#<index>' when it has none that is text UTF-8 can write (a lone
    surrogate would fail when samples.txt is written, after every clip was processed)."""
    frame_dir = ann.get("frame_dir") if isinstance(ann, dict) else None
    if isinstance(frame_dir, str):
        try:
            frame_dir.encode("utf-8")
            return frame_dir
        except UnicodeEncodeError:
            pass
    return f"#{index}"


def warn_repeated_keys(keys: list, path: Path) -> None:
    """A frame_dir used by several annotations: both clips are kept (and both sit in the splits that
    name it); say so, since the file most likely holds a duplicate."""
    seen, repeated = set(), []
    for key in keys:
        if key in seen:
            repeated.append(key)
        seen.add(key)
    if repeated:
        log.warning("%s: %d frame_dir values are used by more than one annotation (e.g. %s); every such "
                    "clip is kept and belongs to the splits that name its frame_dir", path, len(repeated),
                    brief(repeated[0]))


class PysklSource(SkeletonSource):
    """A PYSKL annotation pickle.  Splits: every entry of its ``split`` dict, optionally
    only those whose name starts with ``split_prefix`` (e.g. 'xsub').

    ``trust_pickle``: load with plain pickle (can run code from the file), not the restricted loader.
    """

    name = "pyskl"

    def __init__(
        self,
        root: str | Path,
        split_prefix: str | None = None,
        max_persons: int = 2,
        layout: str | None = None,
        trust_pickle: bool = False,
    ):
        self.path = Path(root)
        self.trust_pickle = bool(trust_pickle)
        content = load_pyskl_annotations(self.path, trust_pickle=self.trust_pickle)
        self.annotations = content["annotations"]
        if not self.annotations:
            raise ReaderError(f"{self.path}: 'annotations' is empty")
        check_annotation_counts(self.annotations, self.path.stat().st_size, self.path)
        first = self.annotations[0]
        if layout is None:
            kp = _keypoint(first, f"{self.path}: annotations[0]") if isinstance(first, dict) else None
            V = kp.shape[2] if kp is not None else 0
            if V not in _LAYOUT_BY_JOINTS:
                raise ReaderError(
                    f"{self.path}: cannot guess the layout of {V} joints from annotations[0]; pass layout="
                )
            layout = _LAYOUT_BY_JOINTS[V]
            self.num_coords = 3 if kp.shape[-1] == 3 else 2
        else:
            kp = first.get("keypoint") if isinstance(first, dict) else None
            self.num_coords = 3 if isinstance(kp, np.ndarray) and kp.ndim == 4 and kp.shape[-1] == 3 else 2
        self.layout = get_layout(layout)
        self.num_persons, self.split_prefix = int(max_persons), split_prefix
        self.keys = [clip_key(a, i) for i, a in enumerate(self.annotations)]
        self.split_dict = content.get("split") or {}
        warn_repeated_keys(self.keys, self.path)

    def load(self, index):
        ann = self.annotations[index]
        where = f"{self.path}: annotations[{index}] ({self.keys[index]})"
        frame_dir = ann.get("frame_dir") if isinstance(ann, dict) else None
        if isinstance(frame_dir, str) and self.keys[index] == f"#{index}":
            raise ReaderError(f"{where}: field 'frame_dir' is {brief(ann['frame_dir'])}, not UTF-8 text")
        if not isinstance(ann, dict) or "label" not in ann:
            raise ReaderError(f"{where}: field 'label' is missing")
        label = check_label(ann["label"], where, "field 'label'")
        return annotation_to_clip(ann, where, self.num_persons, self.layout.num_joints), label

    def splits(self):
        positions = {}  # NB: a frame_dir used twice keeps both clips (warn_repeated_keys said so)
        for i, k in enumerate(self.keys):
            positions.setdefault(k, []).append(i)
        out = {}
        for name, members in self.split_dict.items():
            if self.split_prefix and not name.startswith(self.split_prefix):
                continue
            chosen = {i for m in set(members) for i in positions.get(m, ())}
            out[name] = np.array(sorted(chosen), dtype=np.int64)
        return out

    def options(self):
        options = {"root": str(self.path), "split_prefix": self.split_prefix, "max_persons": self.num_persons}
        if self.trust_pickle:
            options["trust_pickle"] = True
        return options


register_source("pyskl", PysklSource)
