"""Keypoint files as pose estimators write them -> frames of detections (docs/pose-estimators.md).

Three formats, chosen by the file's suffix:

- ``.json``: COCO-style results, a list of ``{image_id, keypoints: [x, y, score] * K, score,
  track_id?}`` (MMPose, AlphaPose, OpenPifPaf, ...). One frame per image id: integer ids make frames
  ``min..max`` (ids without a detection are frames without a person), other ids are sorted.
- ``.jsonl`` / ``.ndjson``: one frame per line (MediaPipe style), see :func:`parse_frame`.
- ``.npz`` with ``keypoints`` (T, [M,] K, 2|3) and ``scores`` (T, [M,] K) (rtmlib / MMPose arrays),
  or ``NAME.npy`` keypoints with its scores in ``NAME_scores.npy``; read with allow_pickle=False.

Every detection becomes a (K, D + 1) float32 array: D coordinates, then the joint's score. Files are
untrusted: sizes and JSON depth are checked before parsing (:mod:`.base`), nothing is unpickled.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from ...untrusted_zip import check_members, open_zip
from .arrays import _load_npy, read_npz_member
from .base import (
    LIMITS,
    ReaderError,
    brief,
    check_count,
    finite_float32,
    is_integer,
    is_number,
    json_depth,
    load_json,
    read_capped_bytes,
)

JSON_SUFFIXES = (".json",)
LINES_SUFFIXES = (".jsonl", ".ndjson")
ARRAY_SUFFIXES = (".npz", ".npy")
KEYPOINT_SUFFIXES = JSON_SUFFIXES + LINES_SUFFIXES + ARRAY_SUFFIXES
LINE_BYTES = 1 << 20  # one frame of a JSON-lines file (a few people of 133 joints fit many times)
FRAME_FORMAT = (
    'one JSON object per frame: {"landmarks": [{"x": .., "y": .., "z": .., "visibility": ..}, ...]} for '
    'one person, or {"people": [{"keypoints": [[x, y, score], ...], "track_id": 1}, ...]} for several'
)


@dataclass
class Detection:
    """One person in one frame: (K, D + 1) coordinates then score per joint; the estimator's track id."""

    keypoints: np.ndarray
    track_id: Optional[int] = None
    score: Optional[float] = None

    def mean_score(self) -> float:
        return float(self.score) if self.score is not None else float(self.keypoints[:, -1].mean())


# --------------------------------------------------------------------------- one detection
def _track_id(value, where: str) -> Optional[int]:
    if value is None:
        return None
    if not is_integer(value) and not (isinstance(value, str) and len(value) <= 64):
        raise ReaderError(f"{where}: track_id is {brief(value)}; expected an integer (or a short string)")
    return hash(value) if isinstance(value, str) else int(value)


def _landmark_values(landmark, where: str) -> list:
    """[x, y, (z,) score] of one landmark: a dict with x, y[, z] and visibility (or score), or a list
    whose last value is the score."""
    if isinstance(landmark, dict):
        score = landmark.get("visibility", landmark.get("score"))
        if score is None:
            raise ReaderError(
                f"{where}: landmark has no 'visibility' or 'score'; the joints need a score "
                "so that undetected joints can be told apart (export them with their scores)"
            )
        coords = [landmark.get(k) for k in ("x", "y", "z") if k in landmark]
        if len(coords) < 2:
            raise ReaderError(
                f"{where}: landmark needs 'x' and 'y' (and optionally 'z'), got keys {sorted(landmark)[:6]}"
            )
        values = coords + [score]
    elif isinstance(landmark, (list, tuple)):
        values = list(landmark)
        if len(values) not in (3, 4):
            raise ReaderError(
                f"{where}: a landmark list is [x, y, score] or [x, y, z, score], got "
                f"{len(values)} values (no scores? export the joints with their scores)"
            )
    else:
        raise ReaderError(f"{where}: a landmark is {brief(landmark)}; expected a dict or a list")
    if not all(is_number(v) for v in values):
        raise ReaderError(f"{where}: a landmark holds a value that is not a number")
    return values


def _person(value, where: str) -> Detection:
    """A person of a JSON-lines frame: a list of landmarks, or {keypoints|landmarks: [...], track_id?}."""
    track, score = None, None
    if isinstance(value, dict):
        track = _track_id(value.get("track_id"), where)
        score = value.get("score")
        if score is not None and not is_number(score):
            raise ReaderError(f"{where}: score is {brief(score)}; expected a number")
        value = value.get("keypoints", value.get("landmarks"))
        if value is None:
            raise ReaderError(f"{where}: a person needs 'keypoints' or 'landmarks'; {FRAME_FORMAT}")
    if not isinstance(value, list):
        raise ReaderError(f"{where}: a person's landmarks are {brief(value)}; expected a list")
    if value and all(is_number(v) for v in value):  # COCO's flat [x, y, score] * K
        if len(value) % 3:
            raise ReaderError(
                f"{where}: {len(value)} flat keypoint values is not a multiple of 3 ([x, y, score] per joint)"
            )
        value = [value[i : i + 3] for i in range(0, len(value), 3)]
    check_count(len(value), LIMITS.joints, "joints", where)
    rows = [_landmark_values(landmark, f"{where} joint {k}") for k, landmark in enumerate(value)]
    if not rows:
        raise ReaderError(f"{where}: a person with no landmarks; leave the person out instead")
    if len({len(r) for r in rows}) != 1:
        raise ReaderError(f"{where}: its landmarks mix 2-D and 3-D values; give every joint the same fields")
    keypoints = finite_float32(rows, where, "keypoints")
    return Detection(keypoints, track, None if score is None else float(score))


def parse_frame(value, where: str) -> list:
    """The detections of one JSON-lines frame: ``{"landmarks": [...]}`` (one person, MediaPipe's
    ``pose_landmarks``), ``{"people": [person, ...]}`` / ``{"pose_landmarks": [[...], ...]}`` (several),
    a bare list of landmarks (one person) or ``[]`` / ``{}`` (no one detected). A person is a list of
    landmarks (or COCO's flat ``[x, y, score] * K``) or ``{"keypoints": [...], "track_id": id,
    "score": s}``."""
    if isinstance(value, dict):
        if "landmarks" in value:
            people = [value] if value["landmarks"] else []
        else:
            people = value.get("people", value.get("pose_landmarks", []))
            if not isinstance(people, list):
                raise ReaderError(f"{where}: 'people' is {brief(people)}; expected a list. {FRAME_FORMAT}")
            unknown = set(value) - {
                "people",
                "pose_landmarks",
                "frame",
                "frame_index",
                "timestamp",
                "timestamp_ms",
                "image_id",
            }
            if unknown and not people:
                raise ReaderError(
                    f"{where}: no 'landmarks' or 'people' (keys {sorted(unknown)[:6]}); {FRAME_FORMAT}"
                )
    elif isinstance(value, list):
        people = [value] if value else []
    else:
        raise ReaderError(f"{where}: a frame is {brief(value)}; {FRAME_FORMAT}")
    check_count(len(people), LIMITS.bodies_per_frame, "people in one frame", where)
    return [_person(p, f"{where} person {i}") for i, p in enumerate(people)]


def parse_frame_line(line: bytes | str, where: str) -> list:
    """:func:`parse_frame` of one line of text (size and nesting checked before parsing)."""
    payload = line.encode() if isinstance(line, str) else line
    if len(payload) > LINE_BYTES:
        raise ReaderError(f"{where}: a line of {len(payload)} bytes, more than the limit {LINE_BYTES}")
    if json_depth(payload) > 8:
        raise ReaderError(f"{where}: JSON nested deeper than a frame of landmarks; {FRAME_FORMAT}")
    try:
        value = json.loads(payload)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError, ValueError) as err:
        raise ReaderError(f"{where}: not valid JSON ({err}); {FRAME_FORMAT}") from None
    return parse_frame(value, where)


# --------------------------------------------------------------------------- whole files
def read_landmark_lines(path: Path) -> list:
    """Frames of a JSON-lines file (blank lines are skipped)."""
    payload = read_capped_bytes(path, LIMITS.text_file_bytes)
    lines = [line for line in payload.split(b"\n") if line.strip()]
    check_count(len(lines), LIMITS.frames, "frames", str(path))
    return [parse_frame_line(line, f"{path} line {i + 1}") for i, line in enumerate(lines)]


def read_coco_results(path: Path) -> list:
    """Frames of a COCO-style results JSON file (see the module docstring)."""
    results = load_json(path)
    if not isinstance(results, list):
        raise ReaderError(
            f"{path}: COCO-style results are a JSON list of {{image_id, keypoints, score}}, "
            f"got {brief(results)}"
        )
    check_count(len(results), LIMITS.frames * 4, "detections", str(path))
    by_image: dict = {}
    for i, entry in enumerate(results):
        where = f"{path} entry {i}"
        if not isinstance(entry, dict) or "image_id" not in entry or "keypoints" not in entry:
            raise ReaderError(f"{where}: each entry needs 'image_id' and 'keypoints' ([x, y, score] * K)")
        image = entry["image_id"]
        if not (is_integer(image) or (isinstance(image, str) and len(image) <= 256)):
            raise ReaderError(f"{where}: image_id is {brief(image)}; expected an integer or a file name")
        flat = entry["keypoints"]
        if not isinstance(flat, list) or not all(is_number(v) for v in flat):
            raise ReaderError(f"{where}: keypoints must be a flat list of numbers [x, y, score] * K")
        if len(flat) % 3:
            raise ReaderError(
                f"{where}: {len(flat)} keypoint values is not a multiple of 3 ([x, y, score] "
                "per joint; coordinates without scores cannot mark undetected joints)"
            )
        check_count(len(flat) // 3, LIMITS.joints, "joints", where)
        score = entry.get("score")
        if score is not None and not is_number(score):
            raise ReaderError(f"{where}: score is {brief(score)}; expected a number")
        keypoints = finite_float32(flat, where, "keypoints").reshape(-1, 3)
        detection = Detection(
            keypoints, _track_id(entry.get("track_id"), where), None if score is None else float(score)
        )
        by_image.setdefault(image, []).append(detection)
    if not by_image:
        raise ReaderError(f"{path}: no detections (an empty list); the estimator found no one in this clip")
    images = list(by_image)
    if all(is_integer(i) for i in images):
        first, last = min(images), max(images)
        check_count(last - first + 1, LIMITS.frames, "frames (image ids min..max)", str(path))
        return [by_image.get(i, []) for i in range(first, last + 1)]
    if not all(isinstance(i, str) for i in images):
        raise ReaderError(f"{path}: image_id mixes numbers and names; use one kind")
    return [by_image[i] for i in sorted(images)]


def _load_npz_arrays(path: Path) -> dict:
    """{key: array} of a keypoints .npz, each member's declared size checked before it is read."""
    where = f"{path}"
    with open_zip(path, where, error=ReaderError) as archive:
        members = check_members(
            archive,
            where,
            max_member_bytes=LIMITS.array_file_bytes,
            max_total_bytes=LIMITS.array_file_bytes,
            error=ReaderError,
        )
        arrays = {}
        for member in members:
            key = member.filename[:-4] if member.filename.endswith(".npy") else member.filename
            if key not in ("keypoints", "scores", "keypoint_scores"):
                continue
            arrays[key] = read_npz_member(archive, member, f"{where} member {key!r}")
    return arrays


def read_keypoint_arrays(path: Path) -> list:
    """Frames of a keypoints .npz (keypoints + scores) or NAME.npy + NAME_scores.npy."""
    if path.suffix == ".npz":
        arrays = _load_npz_arrays(path)
        if "keypoints" not in arrays:
            raise ReaderError(
                f"{path}: no 'keypoints' array; save np.savez(path, keypoints=(T, [M,] K, 2|3), "
                "scores=(T, [M,] K))"
            )
        keypoints = arrays["keypoints"]
        scores = arrays.get("scores", arrays.get("keypoint_scores"))
        if scores is None:
            raise ReaderError(
                f"{path}: no 'scores' array (T, [M,] K); the joints need the estimator's "
                "scores so that undetected joints can be told apart: save them as scores="
            )
    else:
        scores_path = path.with_name(f"{path.stem}_scores.npy")
        keypoints = _load_npy(path, "keypoints")
        if not scores_path.is_file():
            raise ReaderError(
                f"{path}: no scores file {scores_path.name} next to it; save the estimator's "
                "(T, [M,] K) scores there (or keypoints and scores in one .npz)"
            )
        scores = _load_npy(scores_path, "scores")
    for name, array in (("keypoints", keypoints), ("scores", scores)):
        if array.dtype.kind not in "biuf":
            raise ReaderError(f"{path}: {name} has dtype {array.dtype}; expected numbers")
    if keypoints.ndim == 3:  # one person: (T, K, D)
        keypoints, scores = keypoints[:, None], scores[:, None] if scores.ndim == 2 else scores
    if keypoints.ndim != 4 or keypoints.shape[-1] not in (2, 3):
        raise ReaderError(
            f"{path}: keypoints have shape {keypoints.shape}; expected (T, K, 2|3) or "
            "(T, M, K, 2|3) (frames, [persons,] joints, coordinates)"
        )
    if scores.shape != keypoints.shape[:-1]:
        raise ReaderError(
            f"{path}: scores have shape {scores.shape} but keypoints {keypoints.shape}; expected "
            f"scores {keypoints.shape[:-1]} (one per joint)"
        )
    T, M, K, _ = keypoints.shape
    check_count(T, LIMITS.frames, "frames", str(path))
    check_count(M, LIMITS.bodies_per_frame, "persons", str(path))
    check_count(K, LIMITS.joints, "joints", str(path))
    values = finite_float32(np.concatenate([keypoints, scores[..., None]], axis=-1), str(path), "keypoints")
    frames = []
    for t in range(T):
        people = [values[t, m] for m in range(M)]
        frames.append([Detection(p) for p in people if np.any(p != 0)])  # NB: all-zero rows are padding
    return frames


def read_keypoint_file(path) -> list:
    """Frames (a list over time of lists of :class:`Detection`) of one estimator output file."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in JSON_SUFFIXES:
        frames = read_coco_results(path)
    elif suffix in LINES_SUFFIXES:
        frames = read_landmark_lines(path)
    elif suffix in ARRAY_SUFFIXES:
        frames = read_keypoint_arrays(path)
    else:
        raise ReaderError(
            f"{path}: unknown keypoint file type {path.suffix!r}; expected one of "
            f"{list(KEYPOINT_SUFFIXES)} (COCO results JSON, JSON lines, numpy)"
        )
    if not frames or not any(frames):
        raise ReaderError(
            f"{path}: no person in any of its {len(frames)} frames; nothing to recognise "
            "(was the estimator run on this clip?)"
        )
    return frames
