"""Checks of a prepared directory's files as a dataset opens them: a manifest, labels or split file that was
edited, truncated or replaced is reported naming the file, instead of failing deep inside a batch
(an index out of range) or, worse, training on wrong labels. Cheap: the big data.npy is memory-mapped
and only its header is read."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .manifest import MANIFEST_NAME, damaged


def load_array(path: Path, mmap_mode=None) -> np.ndarray:
    """A .npy file of a prepared directory (never unpickled); a damaged one raises naming it."""
    try:
        return np.load(path, mmap_mode=mmap_mode, allow_pickle=False)
    except FileNotFoundError:
        raise damaged(path, "missing") from None
    except (OSError, ValueError, EOFError) as error:
        problem = ("holds pickled Python objects (never loaded: the prepared arrays are plain numbers)"
                   if "allow_pickle" in str(error) else f"not a readable .npy array ({error})")
        raise damaged(path, problem) from None


def manifest_num_classes(manifest: dict, root: Path) -> int:
    value = manifest.get("num_classes")
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        found = "missing" if value is None else f"{value!r}, not a positive integer"
        raise damaged(Path(root) / MANIFEST_NAME, f"num_classes is {found}")
    return value


def manifest_lq(manifest: dict, root: Path):
    """The LQ generator config prepare used (manifest config.lq)."""
    config = manifest.get("config")
    if not isinstance(config, dict) or "lq" not in config:
        raise damaged(Path(root) / MANIFEST_NAME, "config.lq (the LQ generator prepare used) is missing")
    return config["lq"]


def check_labels(labels: np.ndarray, num_rows: int, num_classes: int, root: Path) -> np.ndarray:
    """(N,) integer labels in [0, num_classes), or -1 for a skipped clip."""
    path = Path(root) / "labels.npy"
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise damaged(path, f"expected a 1-D integer array, got {labels.dtype} of shape {labels.shape}")
    if len(labels) != num_rows:
        raise damaged(path, f"holds {len(labels)} labels but data.npy holds {num_rows} clips")
    wrong = labels[(labels < -1) | (labels >= num_classes)]
    if wrong.size:
        raise damaged(path, f"{wrong.size} label(s) outside [0, num_classes={num_classes}) (-1: skipped), "
                            f"e.g. {int(wrong[0])}")
    return labels


def check_split(indices: np.ndarray, labels: np.ndarray, path: Path) -> np.ndarray:
    """A split's (n,) integer row indices, each a valid (not skipped) clip."""
    if indices.ndim != 1 or not np.issubdtype(indices.dtype, np.integer):
        raise damaged(path, f"expected a 1-D integer array of row indices, got {indices.dtype} of shape "
                            f"{indices.shape}")
    outside = indices[(indices < 0) | (indices >= len(labels))]
    if outside.size:
        raise damaged(path, f"row index {int(outside[0])} is outside the {len(labels)} clips of data.npy")
    skipped = indices[labels[indices] < 0]
    if skipped.size:
        raise damaged(path, f"row {int(skipped[0])} is a clip prepare skipped (label -1)")
    return indices
