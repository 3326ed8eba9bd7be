"""NTU RGB+D 60/120 raw ``.skeleton`` files -> (3, T, 25, M) float32.

File format (Kinect v2 export): frame count; per frame a body count; per body a line
of 10 body-info values (the first is the tracking id), a joint count (25) and 25 lines
of 12 values (x, y, z, depth x/y, colour x/y, orientation wxyz, tracking state).

Bodies are tracked by id across frames; noisy bodies are dropped (fewer than 11 frames,
or wider than tall: x-spread / y-spread > 0.8, the usual NTU denoising heuristics, only
while another body remains), and the ``max_bodies`` with the largest motion energy
(sum over joints and coordinates of the variance over time) are kept, most energetic
first.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...layouts import get_layout
from .base import (
    LIMITS,
    ReaderError,
    ReadLimits,
    SkeletonSource,
    check_clip,
    check_count,
    read_capped_bytes,
    register_source,
)

NTU60_XSUB_TRAIN_SUBJECTS = (1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38)
NTU60_XVIEW_TRAIN_CAMERAS = (2, 3)
NTU120_XSUB_TRAIN_SUBJECTS = (
    1,
    2,
    4,
    5,
    8,
    9,
    13,
    14,
    15,
    16,
    17,
    18,
    19,
    25,
    27,
    28,
    31,
    34,
    35,
    38,
    45,
    46,
    47,
    49,
    50,
    52,
    53,
    54,
    55,
    56,
    57,
    58,
    59,
    70,
    74,
    78,
    80,
    81,
    82,
    83,
    84,
    85,
    86,
    89,
    91,
    92,
    93,
    94,
    95,
    97,
    98,
    100,
    103,
)
NUM_JOINTS = 25
NTU120_ACTIONS = 120
FLOAT32_MAX = float(np.finfo(np.float32).max)
_NAME = re.compile(r"S(\d{3})C(\d{3})P(\d{3})R(\d{3})A(\d{3})")


@dataclass(frozen=True)
class NTUName:
    setup: int
    camera: int
    subject: int
    replication: int
    action: int  # 1-based as in the file name

    @property
    def label(self) -> int:
        return self.action - 1


def parse_ntu_name(name: str) -> NTUName:
    """Parse 'SsssCcccPpppRrrrAaaa' (with or without '.skeleton' / a directory)."""
    match = _NAME.search(Path(name).name)
    if match is None:
        raise ReaderError(
            f"{name}: file name does not follow the NTU pattern SsssCcccPpppRrrrAaaa "
            "(e.g. S001C002P003R001A004.skeleton)"
        )
    return NTUName(*(int(g) for g in match.groups()))


def is_training(name: NTUName, benchmark: str) -> bool:
    """Training membership under 'xsub' (NTU60 or NTU120 list by action id), 'xsub60',
    'xsub120', 'xview' (NTU60, cameras 2 and 3) or 'xset' (NTU120, even setups)."""
    if benchmark in ("xsub", "xsub60", "xsub120"):
        ntu120 = benchmark == "xsub120" or (benchmark == "xsub" and (name.action > 60 or name.setup > 17))
        return name.subject in (NTU120_XSUB_TRAIN_SUBJECTS if ntu120 else NTU60_XSUB_TRAIN_SUBJECTS)
    if benchmark == "xview":
        return name.camera in NTU60_XVIEW_TRAIN_CAMERAS
    if benchmark == "xset":
        return name.setup % 2 == 0
    raise ValueError(f"unknown NTU benchmark {benchmark!r}; use 'xsub', 'xview' (NTU60) or 'xset' (NTU120)")


class _Lines:
    """Streams a file line by line (never the whole file in memory) and names file and line number
    in every error."""

    def __init__(self, path: Path, f, limits: ReadLimits = LIMITS):
        self.path, self.file, self.limits = path, f, limits
        self.pos = 0

    def next(self, what: str) -> str:
        while True:
            try:
                line = self.file.readline(self.limits.line_chars + 1)
            except UnicodeDecodeError as err:
                raise ReaderError(f"{self.path}:{self.pos + 1}: not a text .skeleton file ({err})") from None
            if not line:
                raise ReaderError(
                    f"{self.path}:{self.pos + 1}: file ends early (truncated?) while reading {what}"
                )
            self.pos += 1
            if len(line) > self.limits.line_chars:
                raise ReaderError(
                    f"{self.path}:{self.pos}: line longer than {self.limits.line_chars} characters "
                    f"while reading {what}; not an NTU .skeleton file"
                )
            if line.strip():
                return line

    def integer(self, what: str) -> int:
        text = self.next(what).strip()
        try:
            return int(text)
        except ValueError:
            raise ReaderError(
                f"{self.path}:{self.pos}: expected an integer {what}, got {text[:40]!r}"
            ) from None

    def count(self, what: str, limit: int) -> int:
        """An integer count in [0, limit] (checked before anything is allocated for it)."""
        return check_count(self.integer(what), limit, what, f"{self.path}:{self.pos}")

    def floats(self, what: str, count: int) -> list:
        parts = self.next(what).split()
        if len(parts) != count:
            raise ReaderError(f"{self.path}:{self.pos}: {what} needs {count} values, got {len(parts)}")
        try:
            values = [float(p) for p in parts]
        except ValueError:
            raise ReaderError(
                f"{self.path}:{self.pos}: {what} has a non-numeric value: {' '.join(parts)[:60]!r}"
            ) from None
        if not all(math.isfinite(v) and abs(v) <= FLOAT32_MAX for v in values):
            raise ReaderError(
                f"{self.path}:{self.pos}: {what} contains NaN or Inf (or a value beyond float32's range)"
            )
        return values


def read_skeleton_bodies(path: str | Path, limits: ReadLimits = LIMITS) -> tuple[int, dict]:
    """(frame count, {body id: (frame indices (n,), joints (n, 25, 3))}) of one file."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > limits.text_file_bytes:
            raise ReaderError(
                f"{path}: {size} bytes, more than the limit {limits.text_file_bytes} for one .skeleton file"
            )
        with open(path, encoding="utf-8") as f:
            return _read_bodies(path, _Lines(path, f, limits), limits)
    except OSError as err:
        raise ReaderError(f"{path}: cannot read it ({err.strerror or err})") from None


def _read_bodies(path: Path, cursor: _Lines, limits: ReadLimits) -> tuple[int, dict]:
    num_frames = cursor.count("frame count", limits.frames)
    if num_frames == 0:
        raise ReaderError(f"{path}:1: frame count is 0; the clip is empty")
    bodies: dict = {}
    for t in range(num_frames):
        num_bodies = cursor.count(f"body count of frame {t}", limits.bodies_per_frame)
        for b in range(num_bodies):
            info = cursor.next(f"body info of frame {t}, body {b}").split()
            if len(info) != 10:
                raise ReaderError(
                    f"{path}:{cursor.pos}: body info of frame {t} needs 10 values, got {len(info)}"
                )
            body_id = info[0]
            num_joints = cursor.integer(f"joint count of frame {t}, body {b}")
            if num_joints != NUM_JOINTS:
                raise ReaderError(
                    f"{path}:{cursor.pos}: joint count is {num_joints}, NTU skeletons have {NUM_JOINTS}"
                )
            joints = np.array(
                [cursor.floats(f"joint {j} of frame {t}", 12)[:3] for j in range(NUM_JOINTS)],
                dtype=np.float32,
            )
            frames, coords = bodies.setdefault(body_id, ([], []))
            frames.append(t)
            coords.append(joints)
    return num_frames, {k: (np.array(f), np.stack(c)) for k, (f, c) in bodies.items()}


def _spread_ratio(joints: np.ndarray) -> float:
    x_spread = (joints[:, :, 0].max(1) - joints[:, :, 0].min(1)).mean()
    y_spread = (joints[:, :, 1].max(1) - joints[:, :, 1].min(1)).mean()
    return float(x_spread / max(y_spread, 1e-6))


def read_ntu_skeleton(path: str | Path, max_bodies: int = 2, denoise: bool = True) -> np.ndarray:
    """(3, T, 25, max_bodies) float32 of one ``.skeleton`` file (absent bodies are zero)."""
    num_frames, bodies = read_skeleton_bodies(path)
    if not bodies:
        raise ReaderError(
            f"{path}: no body in any of the {num_frames} frames; the clip is empty "
            "(NTU60 lists 302 such samples: pass missing_list to skip them)"
        )
    candidates = list(bodies.items())
    if denoise:
        for keep in (lambda f, j: len(f) >= 11, lambda f, j: _spread_ratio(j) <= 0.8):
            kept = [c for c in candidates if keep(*c[1])]
            if kept:
                candidates = kept
    energy = [float(j.reshape(len(j), -1).var(axis=0).sum()) for _, (_, j) in candidates]
    order = np.argsort(energy, kind="stable")[::-1][:max_bodies]
    out = np.zeros((3, num_frames, NUM_JOINTS, max_bodies), dtype=np.float32)
    for m, k in enumerate(order):
        frames, joints = candidates[k][1]
        person = out[..., m]  # a view: (3, T, 25)
        person[:, frames] = joints.transpose(2, 0, 1)
    return check_clip(out, str(path))


def read_missing_list(path: Path) -> str:
    """The text of a missing-samples list (one sample name per line), or a ValueError naming it."""
    if path.is_dir():
        raise ValueError(f"--missing-list {path} is a directory; give the text file of sample names to skip "
                         "(one per line, e.g. NTU_RGBD_samples_with_missing_skeletons.txt)")
    try:
        return read_capped_bytes(path, LIMITS.text_file_bytes).decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"--missing-list {path} is not a text file (UTF-8); give the list of sample names "
                         "to skip, one per line") from None
    except ReaderError as err:
        raise ValueError(f"--missing-list {err}") from None


class NTUSource(SkeletonSource):
    """A folder of NTU ``.skeleton`` files (searched recursively).

    Splits ``<benchmark>_train`` / ``<benchmark>_val`` for every benchmark in
    ``benchmarks`` (default: xsub + xview for NTU60 data, xsub + xset when NTU120 ids appear).
    """

    name = "ntu"

    def __init__(
        self,
        root: str | Path,
        benchmarks: Sequence[str] | None = None,
        missing_list: str | Path | None = None,
        max_bodies: int = 2,
        denoise: bool = True,
    ):
        self.root = Path(root)
        if not self.root.is_dir():
            raise ValueError(f"NTU root {self.root} is not a directory of .skeleton files")
        self.layout = get_layout("ntu25")
        self.num_persons, self.denoise = int(max_bodies), bool(denoise)
        missing = set()
        if missing_list:
            missing = {
                Path(line.strip()).name.replace(".skeleton", "")
                for line in read_missing_list(Path(missing_list)).splitlines()
                if line.strip()
            }
        self.missing_list = str(missing_list) if missing_list else None
        files = sorted(p for p in self.root.rglob("*.skeleton") if p.stem not in missing)
        if not files:
            raise ValueError(f"no .skeleton files under {self.root}")
        self.files = files
        self.keys = [p.stem for p in files]
        self.names = [parse_ntu_name(p.name) for p in files]
        ntu120 = any(60 < n.action <= NTU120_ACTIONS or n.setup > 17 for n in self.names)
        self.num_classes = 120 if ntu120 else 60
        self.benchmarks = (
            list(benchmarks) if benchmarks else (["xsub", "xset"] if ntu120 else ["xsub", "xview"])
        )
        for b in self.benchmarks:
            is_training(self.names[0], b)  # validates the benchmark name early
        self.label_names = None

    def load(self, index):
        action = self.names[index].action
        if not 1 <= action <= self.num_classes:
            raise ReaderError(
                f"{self.files[index]}: action A{action:03d} in the file name is not one of NTU's "
                f"A001..A{self.num_classes:03d} ({self.num_classes} classes in this folder)"
            )
        return read_ntu_skeleton(self.files[index], self.num_persons, self.denoise), self.names[index].label

    def subjects(self):
        """(N,) performer ids from the file names (a validation split is then held out by subject)."""
        return np.array([n.subject for n in self.names], dtype=np.int64)

    def splits(self):
        out = {}
        for b in self.benchmarks:
            train = np.array([is_training(n, b) for n in self.names])
            out[f"{b}_train"], out[f"{b}_val"] = np.flatnonzero(train), np.flatnonzero(~train)
        return out

    def options(self):
        return {
            "root": str(self.root),
            "benchmarks": self.benchmarks,
            "missing_list": self.missing_list,
            "max_bodies": self.num_persons,
            "denoise": self.denoise,
        }


register_source("ntu", NTUSource)
