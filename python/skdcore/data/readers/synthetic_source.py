"""The procedural NTU-25 action generator (:mod:`skdcore.data.synthetic`) as a prepare source."""

from __future__ import annotations

import numpy as np

from ...layouts import get_layout
from ..synthetic import ACTION_NAMES, TRAIN_FRACTION, subject_split, synthesize_clip, train_subject_count
from .base import SkeletonSource, register_source


class SyntheticSource(SkeletonSource):
    """The procedural NTU-25 action generator (:mod:`skdcore.data.synthetic`).

    Splits: ``train``/``test`` by subject (the first ``train_fraction`` of the ``num_subjects``
    subjects train, the rest test) and, for convenience, ``all``. A smaller ``train_fraction`` with
    more subjects and clips gives a larger test split for the same training set: test accuracy is
    then measured more precisely (the demo's choice).
    """

    name = "synthetic"

    def __init__(
        self,
        num_samples: int = 1600,
        clip_frames: int = 64,
        num_classes: int = len(ACTION_NAMES),
        seed: int = 0,
        train_fraction: float = TRAIN_FRACTION,
        **clip_options,
    ):
        if num_samples < 1:
            raise ValueError(f"synthetic source: num_samples must be >= 1, got {num_samples}")
        self.num_subjects = int(clip_options.get("num_subjects", 20))
        self.train_fraction = float(train_fraction)
        train_subjects = train_subject_count(self.num_subjects, self.train_fraction)
        if not 0 < train_subjects < self.num_subjects:
            raise ValueError(
                f"synthetic source: train_fraction={train_fraction} of num_subjects={self.num_subjects} "
                f"gives {train_subjects} training subject(s); choose it so train and test keep >= 1 subject "
                "each"
            )
        self.layout = get_layout("ntu25")
        self.num_samples, self.clip_frames = int(num_samples), int(clip_frames)
        self.num_classes, self.seed = int(num_classes), int(seed)
        self.clip_options = dict(clip_options)
        self.num_persons = int(self.clip_options.get("num_persons", 2))
        self.label_names = ACTION_NAMES[: self.num_classes]
        self.keys = [f"synthetic_{i:06d}" for i in range(self.num_samples)]
        self._subjects = None

    def load(self, index: int):
        x, label, _ = self._clip(index)
        return x, label

    def _clip(self, index: int):
        return synthesize_clip(
            index,
            num_frames=self.clip_frames,
            num_classes=self.num_classes,
            seed=self.seed,
            **self.clip_options,
        )

    def subjects(self) -> np.ndarray:
        if self._subjects is None:
            # the subject is the first draw of the clip's generator: cheap to recompute alone
            self._subjects = np.array(
                [int(np.random.default_rng([self.seed, i]).integers(self.num_subjects))
                 for i in range(self.num_samples)],
                dtype=np.int64,
            )
        return self._subjects

    def splits(self):
        train = subject_split(self.subjects(), self.num_subjects, self.train_fraction)
        return {
            "train": np.flatnonzero(train),
            "test": np.flatnonzero(~train),
            "all": np.arange(self.num_samples),
        }

    def options(self):
        return {
            "clip_frames": self.clip_frames,
            "num_classes": self.num_classes,
            "seed": self.seed,
            **({"train_fraction": self.train_fraction} if self.train_fraction != TRAIN_FRACTION else {}),
            **{k: self.clip_options[k] for k in sorted(self.clip_options)},
        }


register_source("synthetic", SyntheticSource)
