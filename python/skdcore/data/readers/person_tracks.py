"""Detections per frame -> a fixed number of person slots, frame by frame (files and live streams alike).

The estimator's track id decides the slot when the detections carry one; otherwise a detection goes to
the slot whose person was last seen nearest to it (nearest-centre tracking). Slot 0 is the first person
seen. A slot whose person has been gone for ``patience`` frames is free for a new one. A joint whose
score is below ``score_threshold`` is missing: all its channels are 0 (skdcore's "absent"
convention), and the imputation the LQ student was trained with fills it later.
"""

from __future__ import annotations

import numpy as np

from .base import ReaderError

DEFAULT_SCORE_THRESHOLD = 0.3  # rtmlib / MMPose draw joints above 0.3
DEFAULT_PATIENCE = 15  # frames (half a second at 30 fps) a slot waits for its person to come back


class PersonTracker:
    """``update(detections) -> (M, K, C)`` float32, the persons of one frame in their slots."""

    def __init__(
        self,
        max_persons: int,
        num_joints: int,
        num_channels: int,
        score_threshold: float = DEFAULT_SCORE_THRESHOLD,
        patience: int = DEFAULT_PATIENCE,
        scores: bool = True,
    ):
        if max_persons < 1:
            raise ValueError(f"max_persons must be >= 1, got {max_persons}")
        if not 0.0 <= score_threshold <= 1.0:
            raise ValueError(f"score_threshold must be in [0, 1], got {score_threshold}")
        self.max_persons, self.num_joints, self.num_channels = (
            int(max_persons),
            int(num_joints),
            int(num_channels),
        )
        self.score_threshold, self.patience = float(score_threshold), int(patience)
        # NB: without a score channel (data of another source) a joint is present when not all zero
        self.scores = bool(scores)
        self.num_coords = self.num_channels - 1 if self.scores else self.num_channels
        self.reset()

    def reset(self) -> None:
        self.frame = 0
        self.last_seen = np.full(self.max_persons, -1, dtype=np.int64)  # -1: never used
        self.centres = np.zeros((self.max_persons, self.num_coords), dtype=np.float64)
        self.track_ids: list = [None] * self.max_persons

    def _active(self, slot: int) -> bool:
        return self.last_seen[slot] >= 0 and self.frame - self.last_seen[slot] <= self.patience

    def _check(self, keypoints: np.ndarray, where: str) -> None:
        if keypoints.shape != (self.num_joints, self.num_channels):
            K, C = keypoints.shape
            if K != self.num_joints:
                raise ReaderError(
                    f"{where}: a person has {K} joints but the layout has {self.num_joints}; "
                    "choose the layout of this estimator (--layout, docs/pose-estimators.md)"
                )
            raise ReaderError(
                f"{where}: a person has {C - 1}-D joints but the clip started with "
                f"{self.num_channels - 1}-D ones; keep one kind of coordinates per clip"
            )

    def update(self, detections, where: str = "frame") -> np.ndarray:
        out = np.zeros((self.max_persons, self.num_joints, self.num_channels), dtype=np.float32)
        candidates = []
        for detection in detections:
            self._check(detection.keypoints, where)
            if self.scores:
                present = detection.keypoints[:, -1] >= self.score_threshold
            else:
                present = np.any(detection.keypoints != 0, axis=1)
            if present.any():
                centre = detection.keypoints[present, : self.num_coords].mean(axis=0)
                candidates.append((detection, present, centre))
        # NB: the most confident people first: they take slots before the others when slots run out
        candidates.sort(key=lambda c: -c[0].mean_score())
        slots = self._assign(candidates)
        for (detection, present, centre), slot in zip(candidates, slots):
            if slot is None:
                continue
            out[slot] = np.where(present[:, None], detection.keypoints, 0.0)
            self.last_seen[slot], self.centres[slot] = self.frame, centre
            self.track_ids[slot] = detection.track_id
        self.frame += 1
        return out

    def _assign(self, candidates) -> list:
        slots: list = [None] * len(candidates)
        taken = set()
        if any(c[0].track_id is not None for c in candidates):
            for i, (detection, _, _) in enumerate(candidates):
                for slot in range(self.max_persons):
                    if self._active(slot) and self.track_ids[slot] == detection.track_id:
                        slots[i] = slot
                        taken.add(slot)
                        break
        else:  # nearest centre: the closest (slot, person) pairs first
            pairs = sorted(
                (float(np.linalg.norm(centre - self.centres[slot])), slot, i)
                for i, (_, _, centre) in enumerate(candidates)
                for slot in range(self.max_persons)
                if self._active(slot)
            )
            for _, slot, i in pairs:
                if slots[i] is None and slot not in taken:
                    slots[i] = slot
                    taken.add(slot)
        for i in range(len(candidates)):  # new people take free slots, the longest unused first
            if slots[i] is not None:
                continue
            free = [s for s in range(self.max_persons) if s not in taken and not self._active(s)]
            if free:
                slot = min(free, key=lambda s: (self.last_seen[s], s))
                slots[i] = slot
                taken.add(slot)
        return slots


def frames_to_clip(
    frames,
    num_joints: int,
    max_persons: int,
    score_threshold: float = DEFAULT_SCORE_THRESHOLD,
    where: str = "clip",
) -> np.ndarray:
    """(C, T, V, M) float32 clip of a list of frames of detections, missing joints 0; C = D + 1
    (coordinates, then the score)."""
    first = next((d for frame in frames for d in frame), None)
    if first is None:
        raise ReaderError(f"{where}: no person in any frame")
    tracker = PersonTracker(max_persons, num_joints, first.keypoints.shape[1], score_threshold)
    clip = np.stack([tracker.update(frame, f"{where} frame {t}") for t, frame in enumerate(frames)])
    return np.ascontiguousarray(clip.transpose(3, 0, 2, 1))  # (T, M, V, C) -> (C, T, V, M)
