"""Your own skeletons from numpy arrays: ``ArraySource`` (Python) and ``skd prepare --source arrays``.

Accepted input:

- ``x``: one array (N, C, T, V) or (N, C, T, V, M) (C coordinates, T frames, V joints, M persons),
  or a list of clips (C, T, V[, M]) of different lengths T. A padded array plus ``lengths`` (N,)
  (clip i is ``x[i, :, :lengths[i]]``) is the file form of variable-length clips.
- ``labels``: (N,) integers 0..K-1.
- optional ``split``: (N,) split name per clip ('train', 'test', ...), or a dict
  {name: indices}; without it every clip is in 'train' (hold out val/test with prepare's
  ``val_fraction`` / ``test_fraction``).
- optional ``subjects``: (N,) subject ids (validation is then held out by subject).
- optional ``label_names``: K class names.

Files: ``data.npz`` with keys ``x`` and ``labels`` (and optionally ``lengths``, ``split``,
``subjects``, ``label_names``), or an ``X.npy`` with a ``y.npy`` of labels. Files are read with
``allow_pickle=False`` (a file is never unpickled); store variable-length clips padded with ``lengths``.
Missing joints must be 0 (skdcore's "absent" convention), not NaN.
"""

from __future__ import annotations

import hashlib
import logging
import math
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from ...layouts import BUILTIN_LAYOUTS, DEFAULT_LAYOUT_FOR_JOINTS, Layout, get_layout
from ...untrusted_zip import check_members, open_zip
from .base import LIMITS, MAX_LABEL, ReaderError, SkeletonSource, register_source

log = logging.getLogger("skdcore.data.arrays")

NPZ_KEYS = {
    "x": ("x", "X", "data"),
    "labels": ("labels", "y", "label"),
    "lengths": ("lengths",),
    "split": ("split", "splits"),
    "subjects": ("subjects", "subject"),
    "label_names": ("label_names", "class_names"),
}


def _npz_field(npz: dict, path, field):
    found = [k for k in NPZ_KEYS[field] if k in npz]
    if len(found) > 1:
        raise ReaderError(f"{path}: keys {found} mean the same thing ({field}); keep one")
    return npz[found[0]] if found else None


_READ_CHUNK = 16 << 20  # bytes per read: a zip member's readinto() buffers one read's worth

_PICKLE_HINT = (
    "files are never unpickled: save the clips padded to one length with a 'lengths' array in a .npz "
    "(np.savez(path, x=padded, lengths=lengths, labels=y)) or pass the list from Python to ArraySource"
)


def _npy_header(stream, where: str) -> tuple:
    """(shape, fortran_order, dtype, data bytes it declares) of a .npy stream, read up to its data."""
    version = np.lib.format.read_magic(stream)
    if version not in ((1, 0), (2, 0)):
        raise ValueError(f"unsupported .npy format version {version}")
    headers = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
    shape, fortran, dtype = headers[version](stream)
    if dtype.hasobject:
        raise ReaderError(
            f"{where} holds Python objects (an object array, e.g. a list of clips); {_PICKLE_HINT}"
        )
    return shape, fortran, dtype, math.prod(shape) * dtype.itemsize


def _read_npy(stream, where: str, data_bytes: int) -> np.ndarray:
    """A .npy from ``stream`` whose header must declare exactly the ``data_bytes`` that follow it."""
    shape, fortran, dtype, declared = _npy_header(stream, where)
    available = data_bytes - stream.tell()
    if declared != available:
        raise ReaderError(
            f"{where}: its header declares a {shape} {dtype} array ({declared} bytes) but {available} "
            "bytes of data follow; the file is damaged or crafted"
        )
    array = np.empty(math.prod(shape), dtype=dtype)
    if declared:  # NB: read straight into the array (no second copy of a dataset-sized buffer)
        target, filled = memoryview(array.view(np.uint8)), 0
        while filled < declared:
            count = stream.readinto(target[filled : filled + _READ_CHUNK])
            if not count:
                raise ReaderError(f"{where}: truncated ({filled} of {declared} bytes of array data)")
            filled += count
    return array.reshape(shape, order="F" if fortran else "C")


def _load_npy(path: Path, what: str) -> np.ndarray:
    """One .npy file, its declared size checked against the file before anything is allocated."""
    where = f"{path} ({what})"
    try:
        size = path.stat().st_size
        if size > LIMITS.array_file_bytes:
            raise ReaderError(f"{where}: {size} bytes, more than the limit {LIMITS.array_file_bytes}")
        with open(path, "rb") as stream:
            return _read_npy(stream, where, size)
    except ReaderError:
        raise
    except Exception as err:  # noqa: BLE001  (a damaged file: any error of numpy's parser or the OS)
        raise ReaderError(f"{where} is not a readable .npy file ({type(err).__name__}: {err})") from None


def _load_npz(path: Path, what: str) -> dict:
    """{key: array} of a .npz, every member's declared sizes checked before it is decompressed."""
    where = f"{path} ({what})"
    archive = open_zip(path, where, error=ReaderError)
    with archive:
        members = check_members(
            archive,
            where,
            max_member_bytes=LIMITS.array_file_bytes,
            max_total_bytes=LIMITS.array_file_bytes,
            error=ReaderError,
        )
        known = {k for keys in NPZ_KEYS.values() for k in keys}
        keys = [m.filename[:-4] if m.filename.endswith(".npy") else m.filename for m in members]
        unknown = sorted(set(keys) - known)
        if unknown:
            raise ReaderError(
                f"{path}: unknown keys {unknown}; a skeleton .npz holds x (N, C, T, V[, M]), labels (N,) "
                "and optionally lengths, split, subjects, label_names"
            )
        arrays = {}
        for key, member in zip(keys, members):
            arrays[key] = read_npz_member(archive, member, f"{where} member {key!r}")
        return arrays


def read_npz_member(archive, member, where: str) -> np.ndarray:
    """One checked member of an open .npz archive as an array; anything the zip or npy layer raises
    (bad CRC, deflate error, header garbage) is a ReaderError naming ``where``."""
    try:
        with archive.open(member) as stream:
            return _read_npy(stream, where, member.file_size)
    except ReaderError:
        raise
    except Exception as err:  # noqa: BLE001
        raise ReaderError(f"{where} is not readable ({type(err).__name__}: {err})") from None


def _load_labels(path: Path, what: str) -> np.ndarray:
    if path.is_dir():
        raise ReaderError(f"{what} {path} is a directory; give the labels .npy file (N,)")
    if not path.is_file():
        raise ReaderError(f"{what} {path} not found")
    return _load_npy(path, what)


def read_array_files(x_path: str | Path, labels_path: str | Path | None = None) -> dict:
    """The fields of an arrays input: a .npz (keys x, labels, ...) or an X .npy with a labels .npy."""
    x_path = Path(x_path)
    if x_path.is_dir():
        raise ValueError(
            f"--input {x_path} is a directory; --source arrays reads one file: a .npz (keys x, labels) or "
            "an X.npy with --labels y.npy"
        )
    if not x_path.is_file():
        raise ValueError(
            f"--input {x_path} not found; give a .npz (keys x, labels) or an X.npy with --labels y.npy"
        )
    if x_path.suffix == ".npz":
        npz = _load_npz(x_path, "--input")
        fields = {f: _npz_field(npz, x_path, f) for f in NPZ_KEYS}
        if fields["x"] is None:
            raise ReaderError(f"{x_path}: no 'x' array (N, C, T, V[, M]); keys found: {sorted(npz)}")
        if labels_path is not None:
            if fields["labels"] is not None:
                raise ReaderError(f"{x_path} has labels and --labels {labels_path} was given too; use one")
            fields["labels"] = _load_labels(Path(labels_path), "--labels")
        if fields["labels"] is None:
            raise ReaderError(f"{x_path}: no 'labels' array (N,); add it to the .npz or pass --labels y.npy")
        return fields
    if labels_path is None:
        raise ValueError(
            f"--input {x_path} is a .npy of skeletons; pass its labels with --labels y.npy "
            "(or put x and labels in one .npz)"
        )
    if x_path.suffix != ".npy":
        raise ReaderError(f"--input {x_path}: expected a .npz or a .npy file")
    return {"x": _load_npy(x_path, "--input"), "labels": _load_labels(Path(labels_path), "--labels")}


class ArraySource(SkeletonSource):
    """Clips held in numpy arrays (or read from .npz / .npy files), validated up front.

    Args:
        x: (N, C, T, V[, M]) array, a list of (C, T, V[, M]) clips, or a .npz/.npy path.
        labels: (N,) ints in 0..K-1 (or a .npy path; from the .npz when x is one).
        layout: built-in name, Layout, layout dict or layout.yaml path; default: the built-in with V joints.
        split: (N,) split names or {name: indices}; default every clip in 'train'.
        subjects: (N,) subject ids; label_names: K class names.
        lengths: (N,) valid frames per clip of a padded ``x``.
        num_coords: leading channels that are coordinates (default min(C, 3); 2 for (x, y, score)).
        what: how errors name the input (a file path or 'x').
    """

    name = "arrays"
    default_normalise = False  # NB: a user's coordinates are stored as given unless asked

    def __init__(
        self,
        x,
        labels=None,
        layout=None,
        *,
        split=None,
        subjects=None,
        label_names=None,
        lengths=None,
        num_coords: int | None = None,
    ):
        self.path = None
        what = "x"
        if isinstance(x, (str, Path)):
            self.path, what = str(x), str(x)
            fields = read_array_files(x, labels if isinstance(labels, (str, Path)) else None)
            x, lengths = fields["x"], lengths if lengths is not None else fields.get("lengths")
            labels = fields["labels"] if labels is None or isinstance(labels, (str, Path)) else labels
            split = split if split is not None else fields.get("split")
            subjects = subjects if subjects is not None else fields.get("subjects")
            label_names = label_names if label_names is not None else fields.get("label_names")
        elif isinstance(labels, (str, Path)):
            labels = _load_labels(Path(labels), "labels")
        self._what = what
        if self.path is None:
            self._validate(x, labels, layout, split, subjects, label_names, lengths, num_coords)
            return
        try:  # NB: every error about a file's content names the file
            self._validate(x, labels, layout, split, subjects, label_names, lengths, num_coords)
        except ReaderError:
            raise
        except (ValueError, TypeError) as err:
            text = str(err)
            raise ReaderError(text if text.startswith(self.path) else f"{self.path}: {text}") from None

    def _validate(self, x, labels, layout, split, subjects, label_names, lengths, num_coords) -> None:
        self.clips = self._clips(x, lengths)
        N = len(self.clips)
        C, _, V, M = self.clips[0].shape
        self.num_channels, self.num_persons = int(C), int(M)
        self.num_coords = int(num_coords) if num_coords is not None else min(int(C), 3)
        if not 1 <= self.num_coords <= C:
            raise ValueError(f"num_coords={num_coords} must be in 1..C={C}")
        self.layout = self._layout(layout, V)
        self.labels = self._labels(labels, N, label_names)
        self.label_names = tuple(str(n) for n in label_names) if label_names is not None else None
        self.num_classes = len(self.label_names) if self.label_names else int(self.labels.max()) + 1
        self._splits = self._split_dict(split, N)
        self._subjects = self._subject_ids(subjects, N)
        self.lengths = np.array([c.shape[1] for c in self.clips], dtype=np.int64)
        stem = Path(self.path).stem if self.path else "clip"
        self.keys = [f"{stem}_{i:06d}" for i in range(N)]

    # -- validation ------------------------------------------------------------------------------
    def _clips(self, x, lengths) -> list:
        what = self._what
        if isinstance(x, np.ndarray) and x.dtype != object:
            if x.ndim not in (4, 5):
                raise ValueError(
                    f"{what}: shape {x.shape} is not (N, C, T, V) or (N, C, T, V, M)" + _layout_hint(x.shape)
                )
            clips = list(x if x.ndim == 5 else x[..., None])
            input_shape = x.shape
        elif isinstance(x, (list, tuple, np.ndarray)):
            if len(x) == 0:
                raise ValueError(f"{what}: no clips")
            clips = []
            for i, clip in enumerate(x):
                clip = np.asarray(clip)
                if clip.ndim not in (3, 4):
                    raise ValueError(
                        f"{what}[{i}]: shape {clip.shape} is not one clip (C, T, V) or (C, T, V, M)"
                    )
                clips.append(clip if clip.ndim == 4 else clip[..., None])
            input_shape = (len(clips),) + np.asarray(x[0]).shape
        else:
            raise TypeError(
                f"{what}: expected a numpy array (N, C, T, V[, M]) or a list of clips, got {type(x).__name__}"
            )
        if not clips:
            raise ValueError(f"{what}: no clips (N=0)")
        if lengths is not None:
            lengths = np.asarray(lengths)
            if lengths.shape != (len(clips),) or not np.issubdtype(lengths.dtype, np.integer):
                raise ValueError(
                    f"{what}: lengths must be (N,)=({len(clips)},) integers, "
                    f"got {lengths.shape} {lengths.dtype}"
                )
            bad = np.flatnonzero((lengths < 1) | (lengths > np.array([c.shape[1] for c in clips])))
            if bad.size:
                raise ValueError(f"{what}: lengths[{bad[0]}]={lengths[bad[0]]} is outside 1..T of that clip")
            clips = [c[:, : int(n)] for c, n in zip(clips, lengths)]
        first = clips[0].shape
        if first[0] < 1 or first[3] < 1:
            raise ValueError(
                f"{what}: clips of shape (C, T, V, M)={first} have no "
                + ("coordinates (C=0)" if first[0] < 1 else "persons (M=0): pass (N, C, T, V) for one person")
            )
        for i, clip in enumerate(clips):
            if not np.issubdtype(clip.dtype, np.number) or np.issubdtype(clip.dtype, np.complexfloating):
                raise ValueError(
                    f"{what}[{i}]: dtype {clip.dtype} is not a real number type; use x.astype(np.float32)"
                )
            if (clip.shape[0], clip.shape[2], clip.shape[3]) != (first[0], first[2], first[3]):
                raise ValueError(
                    f"{what}[{i}]: shape {clip.shape} differs from clip 0 {first} in C, V or M; "
                    "every clip needs the same coordinates, joints and persons (only T may differ)"
                )
            if clip.shape[1] < 1:
                raise ValueError(f"{what}[{i}]: the clip has no frames")
        if first[0] > 4 and first[2] <= 4:
            raise ValueError(
                f"{what}: C={first[0]} coordinates and V={first[2]} joints look swapped"
                + _layout_hint(input_shape)
            )
        bad = [i for i, c in enumerate(clips) if not np.all(np.isfinite(c))]
        if bad:
            count = sum(int((~np.isfinite(clips[i])).sum()) for i in bad)
            raise ValueError(
                f"{what}: {count} NaN/inf values in {len(bad)} clips (first: clip {bad[0]}); mark a missing "
                "joint with 0 (skdcore's 'absent' convention), e.g. x = np.nan_to_num(x, nan=0.0)"
            )
        return [np.ascontiguousarray(c, dtype=np.float32) for c in clips]

    def _layout(self, layout, V) -> Layout:
        if layout is None:
            default = DEFAULT_LAYOUT_FOR_JOINTS.get(V)
            matches = [BUILTIN_LAYOUTS[default]] if default else []
            if len(matches) != 1:
                raise ValueError(
                    f"{self._what}: V={V} joints; pass layout= / --layout (a built-in name "
                    f"{sorted(BUILTIN_LAYOUTS)} or a layout.yaml describing your joints and edges)"
                )
            log.info("arrays: V=%d joints, using the built-in layout %r", V, matches[0].name)
            return matches[0]
        layout = get_layout(layout)
        if layout.num_joints != V:
            raise ValueError(
                f"{self._what}: V={V} joints but layout {layout.name!r} has {layout.num_joints}; "
                "x must be (N, C, T, V[, M]) with V = len(joint_names)"
            )
        return layout

    def _labels(self, labels, N, label_names) -> np.ndarray:
        if labels is None:
            raise ValueError(f"{self._what}: labels are required ((N,) integers 0..K-1)")
        labels = np.asarray(labels)
        if labels.shape != (N,):
            raise ValueError(f"labels: shape {labels.shape} but x has N={N} clips; labels must be (N,)")
        if not np.issubdtype(labels.dtype, np.integer):
            if (
                np.issubdtype(labels.dtype, np.floating)
                and np.all(np.isfinite(labels))
                and np.all(labels == np.round(labels))
            ):
                labels = labels.astype(np.int64)
            else:
                raise ValueError(
                    f"labels: dtype {labels.dtype} is not integer class indices 0..K-1; map class "
                    "names to indices and pass the names as label_names"
                )
        labels = labels.astype(np.int64)
        if labels.min() < 0:
            raise ValueError(
                f"labels: {int((labels < 0).sum())} negative values (min {labels.min()}); classes are 0..K-1"
            )
        if labels.max() >= MAX_LABEL:  # NB: before num_classes = max + 1 sizes a classifier head
            raise ValueError(
                f"labels: max label {labels.max()}; class indices must be below {MAX_LABEL:,} (0..K-1 with "
                "K the number of classes): map your class ids to 0..K-1 and pass the names as label_names"
            )
        if label_names is None and len(labels) and labels.min() > 0:
            log.warning("labels: no clip has label 0 (they run %d..%d), so class 0 is empty and %d classes "
                        "are made; 1-based labels? pass labels - 1 (classes are 0..K-1)",
                        labels.min(), labels.max(), labels.max() + 1)
        if label_names is not None and labels.max() >= len(label_names):
            raise ValueError(
                f"labels: max label {labels.max()} but only {len(label_names)} label_names (0.."
                f"{len(label_names) - 1}); give one name per class"
            )
        return labels

    def _split_dict(self, split, N) -> dict:
        if split is None:
            return {"train": np.arange(N)}
        if isinstance(split, Mapping):
            out = {}
            for name, idx in split.items():
                idx = np.asarray(idx, dtype=np.int64)
                if idx.size and (idx.min() < 0 or idx.max() >= N):
                    raise ValueError(f"split[{name!r}]: indices must be in 0..{N - 1}")
                out[str(name)] = np.sort(idx)
            return out
        names = np.asarray(split)
        if names.shape != (N,):
            raise ValueError(
                f"split: shape {names.shape}; give one split name per clip ((N,)=({N},)) or a dict "
                "{name: indices}"
            )
        names = names.astype(str)
        return {str(n): np.flatnonzero(names == n) for n in np.unique(names)}

    def _subject_ids(self, subjects, N):
        if subjects is None:
            return None
        subjects = np.asarray(subjects)
        if subjects.shape != (N,):
            raise ValueError(f"subjects: shape {subjects.shape}; give one subject id per clip ((N,)=({N},))")
        return np.unique(subjects.astype(str), return_inverse=True)[1].astype(np.int64)

    # -- SkeletonSource ---------------------------------------------------------------------------
    def load(self, index: int):
        return self.clips[index], int(self.labels[index])

    def splits(self) -> dict:
        return dict(self._splits)

    def subjects(self):
        return self._subjects

    def clip_lengths(self) -> np.ndarray:
        return self.lengths

    def options(self) -> dict:
        digest = hashlib.sha256()
        for clip in self.clips:
            digest.update(np.asarray(clip.shape, dtype=np.int64).tobytes())
            digest.update(clip.tobytes())
        digest.update(self.labels.tobytes())
        for name in sorted(self._splits):
            digest.update(name.encode() + self._splits[name].tobytes())
        if self._subjects is not None:
            digest.update(self._subjects.tobytes())
        return {
            "input": self.path,
            "content_sha256_16": digest.hexdigest()[:16],
            "num_coords": self.num_coords,
            "label_names": list(self.label_names) if self.label_names else None,
        }


def _layout_hint(shape: Sequence[int]) -> str:
    if len(shape) in (4, 5) and shape[-1] in (2, 3) and shape[1] > 4:
        order = "(0, 3, 1, 2)" if len(shape) == 4 else "(0, 4, 1, 2, 3)"
        return f"; it looks like (N, T, V, C): use np.transpose(x, {order})"
    return "; skdcore wants (N, C, T, V[, M]): C coordinates, T frames, V joints, M persons"


register_source("arrays", ArraySource)
