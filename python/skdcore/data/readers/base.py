"""What every reader shares: ReaderError, the SkeletonSource base class and its registry, the caps on
declared sizes, and loaders for untrusted files that refuse instead of crashing.

Input files are untrusted: a damaged download or a crafted file must end as a ReaderError naming the
file and what is wrong, never as another exception type, a crash, a hang, code execution or a
non-finite clip. Every size a file declares (bytes, frames, bodies, persons, joints, nesting depth)
is checked against :data:`LIMITS` before anything is allocated for it.
"""

from __future__ import annotations

import hashlib
import json
import numbers
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...bounded_json import json_depth  # noqa: F401 - readers and tests use it from here
from ...layouts import BUILTIN_LAYOUTS, Layout


class ReaderError(ValueError):
    """A malformed input file; the message names the file and the line or field."""


@dataclass(frozen=True)
class ReadLimits:
    """Caps on what one input file may declare; far above any real dataset (NTU: <= 300 frames,
    <= 6 bodies; Kinetics: 300 frames; PYSKL: <= 5 persons, <= 133 joints)."""

    text_file_bytes: int = 256 << 20  # one NTU .skeleton / Kinetics .json / Penn .mat
    pickle_file_bytes: int = 64 << 30  # a whole PYSKL annotation file
    array_file_bytes: int = 64 << 30  # the arrays of one .npz / .npy input, uncompressed
    frames: int = 100_000
    bodies_per_frame: int = 64
    persons: int = 64
    joints: int = 1_000
    json_depth: int = 64
    line_chars: int = 4_096  # one line of an NTU file
    clip_values: int = 1 << 28  # values of one clip after reading (1 GiB of float32)
    list_values: int = 1 << 22  # numbers in one nested-list field (an array stored as lists)


LIMITS = ReadLimits()


# --------------------------------------------------------------------------- sources
class SkeletonSource:
    """A dataset for ``prepare``: lists its samples once (``keys``), loads sample ``i`` as
    ((C, T, V, M) float32, label) and knows its splits. Sources are small picklable objects
    holding paths and options, so worker processes can load from them.

    Subclasses set ``name``, ``layout``, ``num_channels``, ``num_persons``.
    """

    name = "base"
    layout: Layout
    num_channels = 3
    num_coords = 3  # leading channels that are coordinates (2 for (x, y, score) data)
    num_persons = 2
    num_classes: int | None = None
    label_names: tuple | None = None
    default_normalise = True  # centre + rotate unless asked otherwise (the dataset readers' convention)

    def __len__(self) -> int:
        return len(self.keys)

    def load(self, index: int) -> tuple[np.ndarray, int]:
        raise NotImplementedError

    def splits(self) -> dict:
        """{split name: int64 index array}."""
        raise NotImplementedError

    def options(self) -> dict:
        raise NotImplementedError

    def clip_lengths(self) -> np.ndarray | None:
        """(N,) frames per clip when known without reading the files, else None."""
        frames = getattr(self, "clip_frames", None)
        return None if frames is None else np.full(len(self), int(frames), dtype=np.int64)

    def subjects(self) -> np.ndarray | None:
        """(N,) subject ids when known (validation splits are then held out by subject), else None."""
        return None

    def config(self) -> dict:
        keys_digest = hashlib.sha256("\n".join(self.keys).encode(errors="backslashreplace")).hexdigest()[:16]
        builtin = BUILTIN_LAYOUTS.get(self.layout.name)
        layout = self.layout.name if builtin == self.layout else self.layout.to_dict()
        return {
            "name": self.name,
            "layout": layout,
            "num_samples": len(self.keys),
            "keys_sha256_16": keys_digest,
            **self.options(),
        }


SOURCES: dict = {}


def register_source(name: str, cls) -> None:
    SOURCES[name] = cls


# --------------------------------------------------------------------------- checks
def check_count(value: int, limit: int, what: str, where: str) -> int:
    """``value`` if 0 <= value <= limit, else a ReaderError naming ``where``."""
    if value < 0:
        raise ReaderError(f"{where}: {what} is negative ({value})")
    if value > limit:
        raise ReaderError(
            f"{where}: {what} is {value}, more than the limit {limit}; the file is damaged or "
            "not a skeleton file of this format"
        )
    return value


def is_integer(value) -> bool:
    """A Python or numpy integer, not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def is_number(value) -> bool:
    """A real Python or numpy number, not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def finite_float32(values, where: str, what: str) -> np.ndarray:
    """``values`` as float32, or a ReaderError when any is NaN/Inf or outside float32's range."""
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            out = np.asarray(values, dtype=np.float32)
    except OverflowError:  # a JSON integer like 10**400 cannot even become a float
        raise ReaderError(f"{where}: {what} holds a number beyond float32's range") from None
    if not np.all(np.isfinite(out)):
        raise ReaderError(f"{where}: {what} contains NaN or Inf (or values beyond float32's range)")
    return out


def check_clip(clip: np.ndarray, where: str) -> np.ndarray:
    """The last line of defence: a clip a reader returns is finite float32."""
    if not np.all(np.isfinite(clip)):
        raise ReaderError(f"{where}: the clip read from it contains NaN or Inf")
    return clip


def numeric_array(value, where: str, what: str, limits: ReadLimits = LIMITS) -> np.ndarray:
    """A real-valued numpy array from an untrusted value: a numeric ndarray, or nested lists of numbers
    (counted level by level before anything is built, so sub-lists shared through a pickle's memo
    cannot amplify a small file into a huge array)."""
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biuf":
            raise ReaderError(f"{where}: {what} has dtype {value.dtype}; expected a real-valued array")
        if value.size > limits.clip_values:
            raise ReaderError(
                f"{where}: {what} holds {value.size} values, more than the limit {limits.clip_values}"
            )
        return value
    if not isinstance(value, (list, tuple)):
        raise ReaderError(f"{where}: {what} is a {type(value).__name__}; expected an array of numbers")
    level, depth = [value], 0
    while any(isinstance(v, (list, tuple)) for v in level):
        depth += 1
        if depth > 8 or not all(isinstance(v, (list, tuple)) for v in level):
            raise ReaderError(f"{where}: {what} is not a rectangular array of numbers")
        total = sum(len(v) for v in level)
        if total > limits.list_values:
            raise ReaderError(
                f"{where}: {what} holds {total} or more values as lists, more than the limit "
                f"{limits.list_values}; store it as a numpy array"
            )
        level = [item for v in level for item in v]
    if not all(is_number(v) for v in level):
        raise ReaderError(f"{where}: {what} holds a value that is not a number")
    try:
        return np.asarray(value, dtype=np.float64)
    except (ValueError, OverflowError):
        raise ReaderError(f"{where}: {what} is not a rectangular array of numbers") from None


# --------------------------------------------------------------------------- loaders
def read_capped_bytes(path: Path, limit: int) -> bytes:
    """The file's bytes, refused (ReaderError) before reading when it is larger than ``limit``."""
    try:
        size = path.stat().st_size
        if size > limit:
            raise ReaderError(
                f"{path}: {size} bytes, more than the limit {limit} for one file of this format"
            )
        with open(path, "rb") as f:
            return f.read()
    except OSError as err:
        raise ReaderError(f"{path}: cannot read it ({err.strerror or err})") from None


def load_json(path: Path, limits: ReadLimits = LIMITS):
    """Parsed JSON of an untrusted file: size and nesting depth checked before parsing."""
    payload = read_capped_bytes(path, limits.text_file_bytes)
    if json_depth(payload, stop_above=limits.json_depth) > limits.json_depth:
        raise ReaderError(f"{path}: JSON nested more than {limits.json_depth} levels deep (the limit)")
    try:
        return json.loads(payload)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError, ValueError) as err:
        raise ReaderError(f"{path}: not valid JSON ({err}); truncated download?") from None


MAX_LABEL = 1_000_000


def check_label(value, where: str, what: str = "label") -> int:
    """A class label: an integer in [0, 10^6)."""
    if not (is_integer(value) and 0 <= value < MAX_LABEL):
        raise ReaderError(
            f"{where}: {what} is {brief(value)}; expected an integer class index in [0, {MAX_LABEL})"
        )
    return int(value)


def brief(value) -> str:
    """A short description of an untrusted value for an error message (never its full repr: that can be
    huge, or recurse without end on a deeply nested list)."""
    if isinstance(value, str):
        return repr(value[:40])
    if value is None or isinstance(value, (bool, np.bool_)) or is_number(value):
        try:
            return repr(value)[:40]
        except ValueError:  # an int too long to print
            return f"an integer of {int(value).bit_length()} bits"
    return f"a {type(value).__name__}"
