"""Small skeleton data sets unlike the demo's: each class is a distinct joint-motion pattern.

Used by ``benchmarks/small_data_study.py`` to test the own-data recipe on small data sets of several
layouts, sizes and class counts. A clip is made by forward kinematics on the layout's tree (rooted at
its ``center``): every bone has a rest direction (fixed per data set) and a subject-specific length
(body proportions, +-20%); a class swings 2-3 bones (which ones, about which axis, how far and how
fast are the class); on top come a random phase, a per-clip speed factor (0.75-1.3), idle sway of
every bone, where the person stands (not centred, like raw recordings), a slow drift of the whole body
and per-joint noise. Classes share bones, so some pairs
differ only in the rhythm or the axis.
"""
from __future__ import annotations

import numpy as np

from skdcore.layouts import get_layout, make_layout

UPPER8 = make_layout(
    "upper8",
    ["pelvis", "spine", "neck", "head", "left_shoulder", "left_hand", "right_shoulder", "right_hand"],
    [["pelvis", "spine"], ["spine", "neck"], ["neck", "head"], ["neck", "left_shoulder"],
     ["left_shoulder", "left_hand"], ["neck", "right_shoulder"], ["right_shoulder", "right_hand"]], "neck")


def _tree(layout):
    """(parent of each joint, joints in breadth-first order from the centre)."""
    neighbours = [[] for _ in range(layout.num_joints)]
    for a, b in layout.edges:
        neighbours[a].append(b)
        neighbours[b].append(a)
    parent, order = [-1] * layout.num_joints, [layout.center]
    for joint in order:
        for other in neighbours[joint]:
            if other != layout.center and parent[other] < 0:
                parent[other] = joint
                order.append(other)
    return parent, order


def _rotation(axis: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """(T, 3, 3) rotations about unit ``axis`` (3,) by ``angle`` (T,) (Rodrigues)."""
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    s, c = np.sin(angle)[:, None, None], np.cos(angle)[:, None, None]
    return np.eye(3) + s * k + (1 - c) * (k @ k)


def motion_dataset(layout="coco17", num_classes: int = 8, clips_per_class: int = 40, frames: int = 40,
                   num_subjects: int = 12, noise: float = 0.02, place: float = 0.5, seed: int = 0):
    """(x (N, 3, T, V) float32, labels (N,) int64, subjects (N,) int64) for ``layout``; ``place``: std of
    where each clip's person stands (the data is not centred, like raw recordings)."""
    layout = get_layout(layout)
    rng = np.random.default_rng(seed)
    parent, order = _tree(layout)
    V = layout.num_joints
    rest = rng.normal(size=(V, 3))
    rest /= np.linalg.norm(rest, axis=1, keepdims=True)  # rest direction of the bone parent -> joint
    movable = [j for j in order if parent[j] >= 0]
    classes = []
    for _ in range(num_classes):
        bones = rng.choice(movable, size=min(len(movable), int(rng.integers(2, 4))), replace=False)
        classes.append([(int(b), _unit(rng.normal(size=3)), rng.uniform(0.4, 1.0),
                         rng.choice([0.5, 1.0, 1.5, 2.0, 3.0])) for b in bones])
    proportions = rng.uniform(0.8, 1.2, size=(num_subjects, V))
    t = np.linspace(0.0, 1.0, frames)
    xs, labels, subjects = [], [], []
    for label, pattern in enumerate(classes):
        for _ in range(clips_per_class):
            subject = int(rng.integers(num_subjects))
            speed, phase = rng.uniform(0.75, 1.3), rng.uniform(0, 2 * np.pi)
            direction = np.repeat(rest[None], frames, axis=0)  # (T, V, 3)
            for joint in movable:  # idle sway of every bone
                sway = 0.15 * np.sin(2 * np.pi * rng.uniform(0.2, 1.0) * t + rng.uniform(0, 2 * np.pi))
                direction[:, joint] = np.einsum("tij,tj->ti", _rotation(_unit(rng.normal(size=3)), sway),
                                                direction[:, joint])
            for joint, axis, amplitude, frequency in pattern:
                angle = amplitude * rng.uniform(0.8, 1.2) * np.sin(2 * np.pi * frequency * speed * t + phase)
                direction[:, joint] = np.einsum("tij,tj->ti", _rotation(axis, angle), direction[:, joint])
            position = np.zeros((frames, V, 3))
            for joint in order[1:]:
                position[:, joint] = (position[:, parent[joint]]
                                      + proportions[subject, joint] * 0.3 * direction[:, joint])
            position += rng.normal(0, place, size=3)  # where the person stands (raw, uncentred recordings)
            position += np.cumsum(rng.normal(0, 0.005, size=(frames, 1, 3)), axis=0)  # body drift
            position += rng.normal(0, noise, size=position.shape)
            xs.append(position.transpose(2, 0, 1))
            labels.append(label)
            subjects.append(subject)
    return (np.stack(xs).astype(np.float32), np.asarray(labels, dtype=np.int64),
            np.asarray(subjects, dtype=np.int64))


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)
