"""What a window of live frames goes through before the model: exactly what `skd prepare` did to the
clips the model was trained on (docs/pose-estimators.md).

Order, as in :class:`skdcore.data.readers.keypoints.KeypointSource` then ``prepare``: joints scored
below the threshold are 0 (missing), missing joints get the LQ imputation
(:func:`skdcore.data.lq.impute_absent` with the window the data was prepared with), then the
normalisation the manifest records (centring on the layout's centre joint, rotation for 3-D data),
if any. Whatever the model does to its input itself (``centre_input``) happens inside the model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from ..data.lq import SKD_IMPUTATION_WINDOW, impute_absent
from ..data.readers.person_tracks import DEFAULT_SCORE_THRESHOLD
from ..data.transforms import pre_normalise
from ..layouts import Layout, get_layout


@dataclass
class Preprocessing:
    """The input contract of a trained model: layout, channels (coordinates then score), persons, and the
    training-time steps (imputation window, normalisation, score threshold)."""

    layout: Layout
    num_channels: int = 3
    num_persons: int = 1
    num_coords: Optional[int] = None  # None: num_channels - 1 (the last channel is the joint's score)
    normalise: bool = False
    imputation_window: int = SKD_IMPUTATION_WINDOW
    score_threshold: float = DEFAULT_SCORE_THRESHOLD
    label_names: Optional[list] = None
    notes: list = field(default_factory=list)  # settings assumed, not read from the data: told to the user

    def __post_init__(self):
        self.layout = get_layout(self.layout)
        if self.num_coords is None:
            self.num_coords = max(1, self.num_channels - 1)

    @classmethod
    def from_manifest(cls, manifest: dict, where: str = "manifest", **overrides) -> "Preprocessing":
        """The steps a prepared folder's manifest records (its source options and normalisation)."""
        from ..data.manifest import manifest_layout

        config = manifest.get("config") or {}
        source = config.get("source") or {}
        shape = manifest.get("shape") or [0, 6, 0, 0, 1]
        window = source.get("imputation_window", _lq_window(config.get("lq")))
        values = {
            "layout": manifest_layout(manifest, where),
            "num_channels": int(shape[1]) // 2,
            "num_persons": int(shape[4]),
            "num_coords": int(manifest.get("num_coords") or int(shape[1]) // 2),
            "normalise": bool(config.get("normalise", False)),
            "imputation_window": int(window),
            "score_threshold": float(source.get("score_threshold", DEFAULT_SCORE_THRESHOLD)),
            "label_names": manifest.get("label_names"),
        }
        return cls(**{**values, **{k: v for k, v in overrides.items() if v is not None}})

    @classmethod
    def from_data(cls, root, **overrides) -> "Preprocessing":
        from ..data.manifest import load_manifest

        return cls.from_manifest(load_manifest(root), str(Path(root) / "manifest.json"), **overrides)

    @property
    def has_scores(self) -> bool:
        """Whether the last channel is the joint's score (what the estimator sources store)."""
        return self.num_coords < self.num_channels

    def apply(self, clip: np.ndarray) -> np.ndarray:
        """(C, T, V, M) window with missing joints at 0 -> the model's input."""
        x = impute_absent(np.asarray(clip, dtype=np.float32), self.imputation_window)
        if self.normalise:
            x = pre_normalise(x, self.layout, num_coords=self.num_coords)
        return np.ascontiguousarray(x, dtype=np.float32)


def _lq_window(lq) -> int:
    """The imputation window of the LQ generator prepare used (SKD's default when it has none)."""
    steps = lq.get("steps", []) if isinstance(lq, dict) and lq.get("name") == "compose" else [lq]
    for step in steps:
        if isinstance(step, dict) and step.get("name") == "skd_occlusion":
            return int(step.get("window", SKD_IMPUTATION_WINDOW))
    return SKD_IMPUTATION_WINDOW
