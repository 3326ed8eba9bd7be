"""Pre-normalisation and input streams for one clip shaped (C, T, V, M), numpy.

Convention: a person/joint whose coordinates are all exactly zero is absent (the
NTU/PYSKL zero-fill); every transform leaves absent entries at zero.

- :func:`center_on_joint`: subtract a root joint of the first person, frame by frame
  (the common NTU pre-normalisation).
- :func:`align_rotation`: rotate so that the spine (spine_base -> spine_top) of the
  first person in its first valid frame points along +z and its shoulders
  (right -> left) along +x; needs ``layout.roles``.
- :func:`resample_uniform`, :func:`pad_or_loop`: temporal length changes.
- :func:`bones`, :func:`motion`: the bone and motion streams of multi-stream GCNs.
"""
from __future__ import annotations

import numpy as np

from ..layouts import Layout, get_layout
from .lq import check_clip, resample_at
from .skeleton_tree import parents


def _present_joint(x: np.ndarray) -> np.ndarray:
    return np.any(x[:3] != 0, axis=0)  # (T, V, M)


def _present_person(x: np.ndarray) -> np.ndarray:
    return np.any(x != 0, axis=(0, 2))  # (T, M)


def _present_joint_centred(x: np.ndarray, center: int) -> np.ndarray:
    """(T, V, M) presence where the centre joint of a present person counts as present even
    at exactly 0 (after :func:`center_on_joint` it is 0 by construction)."""
    present = _present_joint(x)
    present[:, center] |= _present_person(x)
    return present


def center_on_joint(
    x: np.ndarray, layout: str | Layout, joint: int | str | None = None, num_coords: int | None = None
) -> np.ndarray:
    """Subtract joint ``joint`` (default ``layout.center``) of person 0 from every present
    joint of every person, per frame; frames where person 0 lacks that joint stay as they
    are.  ``num_coords`` channels are coordinates (default min(3, C); pass 2 for
    (x, y, score) data so scores are kept)."""
    x = check_clip(x)
    layout = get_layout(layout)
    j = layout.center if joint is None else (layout.index(joint) if isinstance(joint, str) else int(joint))
    coords = min(3, x.shape[0]) if num_coords is None else int(num_coords)
    out = x.copy()
    root = x[:coords, :, j, 0]  # (coords, T)
    has_root = np.any(root != 0, axis=0)  # (T,)
    present = _present_joint(x)  # (T, V, M)
    shift = root[:, :, None, None] * (has_root[None, :, None, None] & present[None])
    out[:coords] = x[:coords] - shift
    return out


def rotation_to_canonical(spine: np.ndarray, shoulders: np.ndarray) -> np.ndarray:
    """(3, 3) rotation R with R @ spine along +z and R @ shoulders (minus its spine part) along +x."""
    z = spine / np.linalg.norm(spine)
    s = shoulders - np.dot(shoulders, z) * z
    norm = np.linalg.norm(s)
    if norm < 1e-8:
        raise ValueError("align_rotation: shoulder vector is parallel to the spine; cannot align")
    x_axis = s / norm
    y_axis = np.cross(z, x_axis)
    return np.stack([x_axis, y_axis, z])


def align_rotation(x: np.ndarray, layout: str | Layout, num_coords: int | None = None) -> np.ndarray:
    """Rotate 3D coordinates so person 0's spine is along z and shoulders along x.

    The reference frame is person 0's first frame with all four role joints present.
    Layouts without the roles, 2D data, or clips without such a frame are returned unchanged.
    """
    x = check_clip(x)
    layout = get_layout(layout)
    needed = ("spine_base", "spine_top", "left_shoulder", "right_shoulder")
    coords = min(3, x.shape[0]) if num_coords is None else int(num_coords)
    if coords < 3 or not all(r in layout.roles for r in needed):
        return x.copy()
    r = {k: layout.roles[k] for k in needed}
    present = _present_joint_centred(x, layout.center)[:, :, 0]  # (T, V)
    ok = np.flatnonzero(present[:, [r[k] for k in needed]].all(axis=1))
    if ok.size == 0:
        return x.copy()
    t = ok[0]
    p = x[:3, t, :, 0].astype(np.float64)
    spine = p[:, r["spine_top"]] - p[:, r["spine_base"]]
    shoulders = p[:, r["left_shoulder"]] - p[:, r["right_shoulder"]]
    if np.linalg.norm(spine) < 1e-8:
        return x.copy()
    R = rotation_to_canonical(spine, shoulders)
    out = x.copy()
    rotated = np.einsum("ij,jtvm->itvm", R, x[:3].astype(np.float64))

    out[:3] = rotated.astype(x.dtype)  # NB: absent (zero) joints stay exactly zero under rotation
    return out


def valid_length(x: np.ndarray) -> int:
    """Number of frames up to and including the last frame with any non-zero value."""
    nonzero = np.flatnonzero(np.any(x != 0, axis=(0, 2, 3)))
    return int(nonzero[-1] + 1) if nonzero.size else 0


def resample_uniform(x: np.ndarray, num_frames: int) -> np.ndarray:
    """Linear resampling of the valid frames (trailing zero frames dropped) to ``num_frames``."""
    x = check_clip(x)
    if num_frames < 1:
        raise ValueError(f"num_frames must be >= 1, got {num_frames}")
    T = valid_length(x)
    if T == 0:
        return np.zeros(x.shape[:1] + (num_frames,) + x.shape[2:], dtype=x.dtype)
    if T == 1:
        return np.repeat(x[:, :1], num_frames, axis=1)
    query = np.linspace(0, T - 1, num_frames)
    return resample_at(x, np.arange(T), query)


def pad_or_loop(x: np.ndarray, num_frames: int, mode: str = "zero") -> np.ndarray:
    """Cut or extend the valid frames to ``num_frames``: ``mode`` 'zero' pads with zeros,
    'loop' repeats the clip from its start, 'edge' repeats the last frame."""
    x = check_clip(x)
    if mode not in ("zero", "loop", "edge"):
        raise ValueError(f"pad_or_loop: mode must be 'zero', 'loop' or 'edge', got {mode!r}")
    T = valid_length(x)
    out = np.zeros(x.shape[:1] + (num_frames,) + x.shape[2:], dtype=x.dtype)
    if T == 0:
        return out
    if T >= num_frames:
        return x[:, :num_frames].copy()
    if mode == "zero":
        out[:, :T] = x[:, :T]
    elif mode == "loop":
        out[:] = x[:, np.arange(num_frames) % T]
    else:
        out[:] = x[:, np.minimum(np.arange(num_frames), T - 1)]
    return out


def bones(x: np.ndarray, layout: str | Layout, num_coords: int | None = None) -> np.ndarray:
    """Bone stream: joint minus its parent (tree rooted at ``layout.center``); the root is 0.
    Only the ``num_coords`` coordinate channels change (default min(3, C)); scores are kept."""
    x = check_clip(x)
    layout = get_layout(layout)
    if x.shape[2] != layout.num_joints:
        raise ValueError(f"bones: layout {layout.name!r} has {layout.num_joints} joints, "
                         f"x has V={x.shape[2]}")
    parent = parents(layout)
    coords = min(3, x.shape[0]) if num_coords is None else int(num_coords)
    out = x.copy()
    present = _present_joint_centred(x, layout.center)
    both = present & present[:, parent]
    out[:coords] = np.where(both[None], x[:coords] - x[:coords][:, :, parent], 0)
    return out


def motion(x: np.ndarray) -> np.ndarray:
    """Motion stream: x[t+1] - x[t] where the person is present in both frames, 0 at the last frame."""
    x = check_clip(x)
    out = np.zeros_like(x)
    present = _present_person(x)[:, None, :]  # (T, 1, M)
    both = present[1:] & present[:-1]
    out[:, :-1] = np.where(both[None], x[:, 1:] - x[:, :-1], 0)
    return out


def pre_normalise(x: np.ndarray, layout: str | Layout, center: bool = True, align: bool = True,
                  num_coords: int | None = None) -> np.ndarray:
    """The common NTU pre-normalisation: centring then rotation alignment (3D only)."""
    if center:
        x = center_on_joint(x, layout, num_coords=num_coords)
    if align:
        x = align_rotation(x, layout, num_coords=num_coords)
    return x
