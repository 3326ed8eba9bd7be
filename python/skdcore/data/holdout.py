"""Held-out splits (validation, test) carved out of a train split, seeded and reproducible.

By subject when subjects are known (no person appears on both sides, like NTU's cross-subject
benchmark), else stratified by class (every class keeps its share on both sides).
"""

from __future__ import annotations

import numpy as np


def hold_out(
    indices: np.ndarray, labels: np.ndarray, subjects: np.ndarray | None, fraction: float, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, str]:
    """(kept, held_out, 'subject' | 'class'): sorted indices, about ``fraction`` of ``indices`` held out.

    ``labels`` and ``subjects`` are indexed by sample (not by position in ``indices``).
    """
    indices = np.asarray(indices, dtype=np.int64)
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"hold-out fraction must be in (0, 1), got {fraction}")
    if indices.size < 2:
        raise ValueError(
            f"cannot hold out {fraction:.0%} of a split of {indices.size} sample(s); it needs >= 2"
        )
    rng = np.random.default_rng([int(seed), 0x5EED])
    by = "class"
    if subjects is not None and np.unique(np.asarray(subjects)[indices]).size >= 2:
        held, by = _by_subject(indices, np.asarray(subjects), fraction, rng), "subject"
    else:
        held = _by_class(indices, labels, fraction, rng)
    mask = np.isin(indices, held)
    return np.sort(indices[~mask]), np.sort(indices[mask]), by


def _by_subject(indices, subjects, fraction, rng) -> np.ndarray:
    people, counts = np.unique(subjects[indices], return_counts=True)
    order = rng.permutation(people.size)
    target, taken, chosen = fraction * indices.size, 0, []
    for k in order[:-1]:  # NB: at least one subject stays on the kept side
        if taken >= target:
            break
        # take a subject when it brings the count closer to the target than stopping would
        if abs(taken + counts[k] - target) <= abs(taken - target) or not chosen:
            chosen.append(people[k])
            taken += counts[k]
    return indices[np.isin(subjects[indices], chosen)]


def _by_class(indices, labels, fraction, rng) -> np.ndarray:
    held = []
    for c in np.unique(labels[indices]):
        members = rng.permutation(indices[labels[indices] == c])
        k = int(round(fraction * members.size))
        if members.size >= 2:
            k = min(max(k, 1), members.size - 1)  # every class on both sides when it can be
        else:
            k = 0
        held.append(members[:k])
    return np.concatenate(held) if held else np.empty(0, dtype=np.int64)
