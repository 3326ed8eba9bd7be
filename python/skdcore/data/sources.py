"""Sources for ``prepare``: a uniform view over the synthetic generator and real readers.

A source lists its samples once (``keys``), loads sample ``i`` as ((C, T, V, M) float32,
label) and knows its splits.  Sources are small picklable objects holding paths and
options, so worker processes can load from them.
"""
from __future__ import annotations

import hashlib
import json

import numpy as np

from ..layouts import BUILTIN_LAYOUTS, Layout, get_layout
from .synthetic import ACTION_NAMES, subject_split, synthesize_clip


class ReaderError(ValueError):
    """A malformed input file; the message names the file and the line or field."""


class SkeletonSource:
    """Base class; subclasses set ``name``, ``layout``, ``num_channels``, ``num_persons``."""

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
        keys_digest = hashlib.sha256("\n".join(self.keys).encode()).hexdigest()[:16]
        builtin = BUILTIN_LAYOUTS.get(self.layout.name)
        layout = self.layout.name if builtin == self.layout else self.layout.to_dict()
        return {"name": self.name, "layout": layout, "num_samples": len(self.keys),
                "keys_sha256_16": keys_digest, **self.options()}


class SyntheticSource(SkeletonSource):
    """The procedural NTU-25 action generator (:mod:`skdcore.data.synthetic`).

    Splits: ``train``/``test`` by subject (first 70% of subjects train) and, for
    convenience, ``all``.
    """

    name = "synthetic"

    def __init__(self, num_samples: int = 1600, clip_frames: int = 64, num_classes: int = len(ACTION_NAMES),
                 seed: int = 0, **clip_options):
        if num_samples < 1:
            raise ValueError(f"synthetic source: num_samples must be >= 1, got {num_samples}")
        self.layout = get_layout("ntu25")
        self.num_samples, self.clip_frames, self.num_classes, self.seed = int(num_samples), int(clip_frames), int(num_classes), int(seed)
        self.clip_options = dict(clip_options)
        self.num_persons = int(self.clip_options.get("num_persons", 2))
        self.label_names = ACTION_NAMES[: self.num_classes]
        self.keys = [f"synthetic_{i:06d}" for i in range(self.num_samples)]
        self._subjects = None

    def load(self, index: int):
        x, label, _ = self._clip(index)
        return x, label

    def _clip(self, index: int):
        return synthesize_clip(index, num_frames=self.clip_frames, num_classes=self.num_classes,
                               seed=self.seed, **self.clip_options)

    def subjects(self) -> np.ndarray:
        if self._subjects is None:
            # the subject is the first draw of the clip's generator: cheap to recompute alone
            n_sub = int(self.clip_options.get("num_subjects", 20))
            self._subjects = np.array([int(np.random.default_rng([self.seed, i]).integers(n_sub))
                                       for i in range(self.num_samples)], dtype=np.int64)
        return self._subjects

    def splits(self):
        train = subject_split(self.subjects(), int(self.clip_options.get("num_subjects", 20)))
        return {"train": np.flatnonzero(train), "test": np.flatnonzero(~train),
                "all": np.arange(self.num_samples)}

    def options(self):
        return {"clip_frames": self.clip_frames, "num_classes": self.num_classes, "seed": self.seed,
                **{k: self.clip_options[k] for k in sorted(self.clip_options)}}


_SOURCES = {"synthetic": SyntheticSource}


def register_source(name: str, cls) -> None:
    _SOURCES[name] = cls


def make_source(name: str, **options) -> SkeletonSource:
    """A source by name: 'synthetic', 'arrays', 'ntu', 'kinetics', 'pyskl', 'penn'."""
    from . import readers  # noqa: F401  (registers the file readers)

    if name not in _SOURCES:
        raise ValueError(f"unknown source {name!r}; known sources: {sorted(_SOURCES)}")
    try:
        return _SOURCES[name](**options)
    except TypeError as err:
        raise ValueError(f"bad options for source {name!r}: {err}") from None


def stable_json(value) -> str:
    return json.dumps(value, sort_keys=True, default=str)
