"""Skeleton layouts: joint names, bones (edges) and the centre joint.

A layout is plain data. The built-ins cover the joint sets people actually hold
(NTU RGB+D 25 joints, OpenPose 18, COCO 17, Penn Action 13) and what pose estimators emit (Halpe 26,
MediaPipe 33, Human3.6M 17, OpenPose BODY_25, Kinect v1 20); users describe their
own skeleton with :func:`make_layout` and pass it wherever a layout is accepted.

Edges are undirected pairs of 0-based joint indices. ``center`` is the joint the
spatial partition measures hop distances from (and data normalisation centres on); left out, it is
the graph's centre (:func:`graph_centre`: the joint with the fewest hops to the farthest joint).
``roles`` optionally names joints that pre-normalisation needs (spine base/top,
left/right shoulder); layouts without them simply skip rotation alignment.
``strategy`` optionally fixes the graph partition ('spatial' or 'uniform') models build.

Layouts round-trip through plain data: :meth:`Layout.to_dict`, :func:`layout_from_dict`,
:func:`load_layout` / :func:`save_layout` (YAML or JSON), e.g. ``layout.yaml``::

    name: upper8
    joint_names: [pelvis, spine, neck, head, left_shoulder, left_hand, right_shoulder, right_hand]
    edges: [[pelvis, spine], [spine, neck], [neck, head], [neck, left_shoulder],
            [left_shoulder, left_hand], [neck, right_shoulder], [right_shoulder, right_hand]]
    center: neck

:func:`get_layout` accepts a built-in name, a Layout, such a dict, or a path to such a file,
so a layout stored in a manifest, a checkpoint or a config rebuilds the same graph.
"""
from __future__ import annotations

import json
import numbers
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence, Union

import numpy as np

from .bounded_json import loads_bounded
from .safe_yaml import load_yaml
from .short_repr import short_repr

ROLE_NAMES = ("spine_base", "spine_top", "left_shoulder", "right_shoulder")
PARTITION_STRATEGIES = ("spatial", "uniform")
MAX_JOINTS = 1_000  # the readers' cap too; the largest real layouts (whole-body keypoints) have 133
MAX_EDGES = 10_000
LAYOUT_KEYS = ("name", "joint_names", "edges", "center", "roles", "strategy")


@dataclass(frozen=True)
class Layout:
    name: str
    joint_names: tuple[str, ...]
    edges: tuple[tuple[int, int], ...]
    center: int
    roles: Mapping[str, int] = field(default_factory=dict)
    strategy: Optional[str] = None  # graph partition models build; None: the model's default ('spatial')

    @property
    def num_joints(self) -> int:
        return len(self.joint_names)

    def index(self, joint_name: str) -> int:
        try:
            return self.joint_names.index(joint_name)
        except ValueError:
            raise KeyError(f"layout {self.name!r} has no joint {joint_name!r}; "
                           f"joints: {list(self.joint_names)}") from None

    def to_dict(self) -> dict:
        """Plain data (str, int, lists) that :func:`layout_from_dict` turns back into this layout."""
        out = {"name": self.name, "joint_names": list(self.joint_names),
               "edges": [[int(a), int(b)] for a, b in self.edges], "center": int(self.center),
               "roles": {k: int(v) for k, v in self.roles.items()}}
        if self.strategy is not None:
            out["strategy"] = self.strategy
        return out

    def hop_distance(self) -> np.ndarray:
        """(V,) hop count from ``center`` along the edges; unreachable joints get -1."""
        neighbours = [[] for _ in range(self.num_joints)]
        for a, b in self.edges:
            neighbours[a].append(b)
            neighbours[b].append(a)
        hops = np.full(self.num_joints, -1, dtype=np.int64)
        hops[self.center] = 0
        frontier = [self.center]
        while frontier:
            nxt = []
            for j in frontier:
                for k in neighbours[j]:
                    if hops[k] < 0:
                        hops[k] = hops[j] + 1
                        nxt.append(k)
            frontier = nxt
        return hops


def _neighbours(num_joints: int, edges: Sequence[Sequence[int]]) -> list:
    neighbours = [[] for _ in range(num_joints)]
    for a, b in edges:
        neighbours[a].append(b)
        neighbours[b].append(a)
    return neighbours


def _hops_from(neighbours: list, start: int, give_up_at: Optional[int] = None) -> Optional[list]:
    """Hop counts from ``start`` (-1: unreachable); None once a joint ``give_up_at`` hops away is found."""
    hops = [-1] * len(neighbours)
    hops[start], frontier, level = 0, [start], 0
    while frontier:
        level += 1
        nxt = []
        for j in frontier:
            for k in neighbours[j]:
                if hops[k] < 0:
                    hops[k] = level
                    nxt.append(k)
        if nxt and give_up_at is not None and level >= give_up_at:
            return None
        frontier = nxt
    return hops


def graph_centre(num_joints: int, edges: Sequence[Sequence[int]]) -> int:
    """The joint whose farthest joint is the fewest hops away (ties: the lowest index): the default
    ``center`` of a layout that names none. Joints no edge reaches count as infinitely far (then every
    joint ties and the answer is 0).

    A tree (every skeleton without loops) takes three breadth-first searches: in a tree the farthest
    joint from any joint is one end of a longest path, found from the first search's farthest joint.
    Other graphs search from every joint, each search given up once it cannot beat the best so far."""
    neighbours = _neighbours(num_joints, edges)
    from_first = _hops_from(neighbours, 0)
    if min(from_first) < 0:
        return 0
    if len(edges) == num_joints - 1:  # connected with V - 1 edges: a tree
        end_a = from_first.index(max(from_first))
        from_a = _hops_from(neighbours, end_a)
        from_b = _hops_from(neighbours, from_a.index(max(from_a)))
        eccentricity = [max(a, b) for a, b in zip(from_a, from_b)]
        return eccentricity.index(min(eccentricity))
    best, best_joint = max(from_first), 0
    for joint in range(1, num_joints):
        hops = _hops_from(neighbours, joint, give_up_at=best)
        if hops is not None:
            best, best_joint = max(hops), joint
    return best_joint


def make_layout(
    name: str,
    joint_names: Sequence[str],
    edges: Sequence[Sequence[int]],
    center: Union[int, str, None] = None,
    roles: Mapping[str, Union[int, str]] | None = None,
    strategy: Optional[str] = None,
) -> Layout:
    """Build and validate a user-defined layout.

    ``center``, the joints of ``edges`` and the values of ``roles`` may be joint indices or
    joint names; ``center`` None (left out): :func:`graph_centre`, the joint fewest hops from every other.
    ``strategy``: partition models build ('spatial', 'uniform'; None = model default).
    Raises ValueError naming the offending argument.
    """
    if not isinstance(joint_names, (list, tuple)) or not isinstance(edges, (list, tuple)):
        raise ValueError(f"layout {name!r}: joint_names and edges must be lists (got "
                         f"{type(joint_names).__name__} and {type(edges).__name__})")
    if roles is not None and not isinstance(roles, Mapping):
        raise ValueError(f"layout {name!r}: roles must map role names to joints, e.g. roles: "
                         f"{{left_shoulder: l_sho}}; got a {type(roles).__name__}")
    if len(joint_names) > MAX_JOINTS or len(edges) > MAX_EDGES:
        raise ValueError(f"layout {name!r}: {len(joint_names)} joints and {len(edges)} edges; a layout may "
                         f"have at most {MAX_JOINTS} joints and {MAX_EDGES} edges (graph work and every "
                         "model's adjacency grow with joints squared)")
    if strategy is not None and strategy not in PARTITION_STRATEGIES:
        raise ValueError(f"layout {name!r}: strategy={strategy!r} is not valid; choose one of "
                         f"{list(PARTITION_STRATEGIES)} or leave it out")
    names = tuple(str(n) for n in joint_names)
    if len(names) < 2:
        raise ValueError(f"layout {name!r}: joint_names needs at least 2 joints, got {len(names)}")
    position = {joint: i for i, joint in enumerate(names)}
    if len(position) != len(names):
        dup = sorted(joint for joint, count in Counter(names).items() if count > 1)
        raise ValueError(f"layout {name!r}: joint_names must be unique; repeated: {short_repr(dup)}")
    V = len(names)

    def resolve(value, what):
        if isinstance(value, str):
            if value not in position:
                raise ValueError(f"layout {name!r}: {what}={short_repr(value)} is not one of joint_names")
            return position[value]
        if not isinstance(value, numbers.Integral) or isinstance(value, bool):
            raise ValueError(f"layout {name!r}: {what}={short_repr(value)} is not a joint: give a joint "
                             f"name or an index 0..{V - 1}")
        idx = int(value)
        if not 0 <= idx < V:
            raise ValueError(f"layout {name!r}: {what}={idx} out of range for {V} joints (use 0..{V - 1})")
        return idx

    clean_edges = []
    seen = set()
    for i, edge in enumerate(edges):
        if not isinstance(edge, (list, tuple)) or len(edge) != 2:
            raise ValueError(f"layout {name!r}: edges[{i}]={short_repr(edge)} must be a pair (a, b)")
        a, b = resolve(edge[0], f"edges[{i}][0]"), resolve(edge[1], f"edges[{i}][1]")
        if a == b:
            raise ValueError(f"layout {name!r}: edges[{i}] is a self loop ({a}, {a}); "
                             "self loops are added by the partition")
        key = (min(a, b), max(a, b))
        if key in seen:
            raise ValueError(f"layout {name!r}: edges[{i}]={tuple(edge)} repeats an earlier edge")
        seen.add(key)
        clean_edges.append((a, b))
    clean_roles = {}
    for role, value in (roles or {}).items():
        if role not in ROLE_NAMES:
            raise ValueError(f"layout {name!r}: unknown role {short_repr(role)}; known roles: {ROLE_NAMES}")
        clean_roles[role] = resolve(value, f"roles[{role!r}]")
    centre = graph_centre(V, clean_edges) if center is None else resolve(center, "center")
    layout = Layout(str(name), names, tuple(clean_edges), centre, clean_roles, strategy)
    unreachable = [names[j] for j in np.flatnonzero(layout.hop_distance() < 0)]
    if unreachable:
        raise ValueError(
            f"layout {name!r}: joints {unreachable} are not connected to the centre joint "
            f"{names[layout.center]!r}; add edges so the skeleton is one connected graph"
        )
    return layout


def _one_based(pairs):
    return [(a - 1, b - 1) for a, b in pairs]


NTU25 = make_layout(
    "ntu25",
    [
        "spine_base", "spine_mid", "neck", "head",
        "left_shoulder", "left_elbow", "left_wrist", "left_hand",
        "right_shoulder", "right_elbow", "right_wrist", "right_hand",
        "left_hip", "left_knee", "left_ankle", "left_foot",
        "right_hip", "right_knee", "right_ankle", "right_foot",
        "spine_shoulder", "left_hand_tip", "left_thumb", "right_hand_tip", "right_thumb",
    ],
    _one_based([
        (1, 2), (2, 21), (3, 21), (4, 3), (5, 21), (6, 5), (7, 6), (8, 7), (9, 21), (10, 9),
        (11, 10), (12, 11), (13, 1), (14, 13), (15, 14), (16, 15), (17, 1), (18, 17), (19, 18),
        (20, 19), (22, 23), (23, 8), (24, 25), (25, 12),
    ]),
    center="spine_shoulder",
    roles={"spine_base": "spine_base", "spine_top": "spine_shoulder",
           "left_shoulder": "left_shoulder", "right_shoulder": "right_shoulder"},
)

OPENPOSE18 = make_layout(
    "openpose18",
    ["nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow",
     "left_wrist", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle",
     "right_eye", "left_eye", "right_ear", "left_ear"],
    [(4, 3), (3, 2), (7, 6), (6, 5), (13, 12), (12, 11), (10, 9), (9, 8), (11, 5), (8, 2),
     (5, 1), (2, 1), (0, 1), (15, 0), (14, 0), (17, 15), (16, 14)],
    center="neck",
    roles={"spine_top": "neck", "left_shoulder": "left_shoulder", "right_shoulder": "right_shoulder"},
)

COCO17 = make_layout(
    "coco17",
    ["nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
     "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip",
     "left_knee", "right_knee", "left_ankle", "right_ankle"],
    [(15, 13), (13, 11), (16, 14), (14, 12), (11, 5), (12, 6), (9, 7), (7, 5), (10, 8), (8, 6),
     (5, 0), (6, 0), (1, 0), (3, 1), (2, 0), (4, 2)],
    center="nose",
    roles={"left_shoulder": "left_shoulder", "right_shoulder": "right_shoulder"},
)

PENN13 = make_layout(
    "penn13",
    ["head", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist",
     "right_wrist", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle"],
    [(0, 1), (0, 2), (1, 3), (3, 5), (2, 4), (4, 6), (1, 7), (2, 8), (7, 9), (9, 11), (8, 10),
     (10, 12), (7, 8)],
    center="head",
    roles={"left_shoulder": "left_shoulder", "right_shoulder": "right_shoulder"},
)

# Pose-estimator front ends (docs/pose-estimators.md). Their published skeletons are drawn with a few
# closed loops (shoulder-hip rectangles, hand and foot triangles); the bones here are a tree through
# the same joints, so hop distances and the bone stream (joint minus parent) are well defined.
HALPE26 = make_layout(
    "halpe26",  # AlphaPose's Halpe full body: COCO-17, then head, neck, hip and 6 foot points
    ["nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
     "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
     "right_knee", "left_ankle", "right_ankle", "head", "neck", "hip", "left_big_toe", "right_big_toe",
     "left_small_toe", "right_small_toe", "left_heel", "right_heel"],
    [(0, 1), (0, 2), (1, 3), (2, 4), (0, 18), (17, 18), (5, 18), (6, 18), (5, 7), (7, 9), (6, 8),
     (8, 10), (18, 19), (19, 11), (19, 12), (11, 13), (12, 14), (13, 15), (14, 16), (15, 24), (16, 25),
     (24, 20), (25, 21), (24, 22), (25, 23)],
    center="neck",
    roles={"spine_base": "hip", "spine_top": "neck", "left_shoulder": "left_shoulder",
           "right_shoulder": "right_shoulder"},
)

MEDIAPIPE33 = make_layout(
    "mediapipe33",  # MediaPipe Pose / BlazePose landmarks, in the order the landmarker returns them
    ["nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
     "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder",
     "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_pinky",
     "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb", "left_hip", "right_hip",
     "left_knee", "right_knee", "left_ankle", "right_ankle", "left_heel", "right_heel",
     "left_foot_index", "right_foot_index"],
    [(0, 1), (1, 2), (2, 3), (3, 7), (0, 4), (4, 5), (5, 6), (6, 8), (0, 9), (0, 10),
     (0, 11), (0, 12), (11, 13), (13, 15), (15, 17), (15, 19), (15, 21), (12, 14), (14, 16), (16, 18),
     (16, 20), (16, 22), (11, 23), (12, 24), (23, 25), (25, 27), (27, 29), (29, 31), (24, 26), (26, 28),
     (28, 30), (30, 32)],
    center="nose",
    roles={"left_shoulder": "left_shoulder", "right_shoulder": "right_shoulder"},
)

H36M17 = make_layout(
    "h36m17",  # Human3.6M's 17 joints, the output of 3-D lifters (VideoPose3D, MotionBERT)
    ["pelvis", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle", "spine",
     "thorax", "neck", "head", "left_shoulder", "left_elbow", "left_wrist", "right_shoulder",
     "right_elbow", "right_wrist"],
    [(0, 1), (1, 2), (2, 3), (0, 4), (4, 5), (5, 6), (0, 7), (7, 8), (8, 9), (9, 10), (8, 11),
     (11, 12), (12, 13), (8, 14), (14, 15), (15, 16)],
    center="thorax",
    roles={"spine_base": "pelvis", "spine_top": "thorax", "left_shoulder": "left_shoulder",
           "right_shoulder": "right_shoulder"},
)

OPENPOSE25 = make_layout(
    "openpose25",  # OpenPose BODY_25
    ["nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow",
     "left_wrist", "mid_hip", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee",
     "left_ankle", "right_eye", "left_eye", "right_ear", "left_ear", "left_big_toe", "left_small_toe",
     "left_heel", "right_big_toe", "right_small_toe", "right_heel"],
    [(1, 8), (1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (8, 9), (9, 10), (10, 11), (8, 12),
     (12, 13), (13, 14), (1, 0), (0, 15), (15, 17), (0, 16), (16, 18), (14, 19), (19, 20), (14, 21),
     (11, 22), (22, 23), (11, 24)],
    center="neck",
    roles={"spine_base": "mid_hip", "spine_top": "neck", "left_shoulder": "left_shoulder",
           "right_shoulder": "right_shoulder"},
)

KINECT20 = make_layout(
    "kinect20",  # Kinect v1 SDK joint order (UTD-MHAD, MSR Action3D)
    ["hip_center", "spine", "shoulder_center", "head", "shoulder_left", "elbow_left", "wrist_left",
     "hand_left", "shoulder_right", "elbow_right", "wrist_right", "hand_right", "hip_left", "knee_left",
     "ankle_left", "foot_left", "hip_right", "knee_right", "ankle_right", "foot_right"],
    [(0, 1), (1, 2), (2, 3), (2, 4), (4, 5), (5, 6), (6, 7), (2, 8), (8, 9), (9, 10), (10, 11),
     (0, 12), (12, 13), (13, 14), (14, 15), (0, 16), (16, 17), (17, 18), (18, 19)],
    center="shoulder_center",
    roles={"spine_base": "hip_center", "spine_top": "shoulder_center", "left_shoulder": "shoulder_left",
           "right_shoulder": "shoulder_right"},
)

BUILTIN_LAYOUTS = {layout.name: layout for layout in (NTU25, OPENPOSE18, COCO17, PENN13, HALPE26,
                                                      MEDIAPIPE33, H36M17, OPENPOSE25, KINECT20)}
# The built-in an array of V joints gets when no layout is named (several built-ins share V = 17 and 25)
DEFAULT_LAYOUT_FOR_JOINTS = {25: "ntu25", 18: "openpose18", 17: "coco17", 13: "penn13"}


def layout_from_dict(values: Mapping[str, Any], where: str = "layout") -> Layout:
    """A Layout from :meth:`Layout.to_dict`'s plain data (as read from YAML/JSON); ``where``
    names the source (file, manifest) in error messages."""
    if not isinstance(values, Mapping):
        raise ValueError(f"{where}: a layout must be a mapping with keys {list(LAYOUT_KEYS[:4])}, "
                         f"got {type(values).__name__}")
    unknown = sorted(set(values) - set(LAYOUT_KEYS))
    if unknown:
        raise ValueError(f"{where}: unknown layout keys {unknown}; valid keys: {list(LAYOUT_KEYS)}")
    missing = [k for k in ("joint_names", "edges") if k not in values]
    if missing:
        raise ValueError(f"{where}: layout needs {missing} (keys: name, joint_names, edges; "
                         "optional center, roles, strategy)")
    try:
        return make_layout(values.get("name", "custom"), values["joint_names"], values["edges"],
                           values.get("center"), values.get("roles") or None, values.get("strategy"))
    except (TypeError, ValueError) as error:
        raise ValueError(f"{where}: {error}") from None


def load_layout(path: Union[str, Path]) -> Layout:
    """A layout from a YAML (.yaml/.yml) or JSON (.json) file written by hand or :func:`save_layout`."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"layout {path} is a directory; pass its layout.yaml / .json file, or a built-in "
                         f"name {sorted(BUILTIN_LAYOUTS)}")
    if not path.is_file():
        raise ValueError(f"layout file {path} not found; write one like the example in skdcore.layouts")
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"layout file {path} cannot be read as text: {error}") from None
    try:
        if path.suffix.lower() == ".json":
            values = loads_bounded(text)
        else:
            values = load_yaml(text)
    except Exception as error:  # a malformed file: say which and why
        kind = "JSON" if path.suffix.lower() == ".json" else "YAML"
        raise ValueError(f"layout file {path} is not valid {kind}: {error}") from None
    return layout_from_dict(values, where=str(path))


def save_layout(layout: Union[str, Layout, Mapping], path: Union[str, Path]) -> Path:
    """Write ``layout`` as YAML (or JSON for a .json path); :func:`load_layout` reads it back."""
    path = Path(path)
    values = get_layout(layout).to_dict()
    if path.suffix.lower() == ".json":
        text = json.dumps(values, indent=2) + "\n"
    else:
        import yaml

        text = yaml.safe_dump(values, sort_keys=False, default_flow_style=None)
    from .atomic_io import atomic_write_text

    atomic_write_text(path, text)
    return path


def _looks_like_path(text: str) -> bool:
    return text.lower().endswith((".yaml", ".yml", ".json")) or "/" in text or "\\" in text


def get_layout(layout: Union[str, Path, Layout, Mapping]) -> Layout:
    """A Layout from a built-in name (:data:`BUILTIN_LAYOUTS`: 'ntu25', 'coco17', 'mediapipe33', ...),
    a Layout (as is), its :meth:`Layout.to_dict` data, or a path to a YAML/JSON layout file."""
    if isinstance(layout, Layout):
        return layout
    if isinstance(layout, Mapping):
        return layout_from_dict(layout)
    if isinstance(layout, Path) or (isinstance(layout, str) and _looks_like_path(layout)):
        return load_layout(layout)
    try:
        return BUILTIN_LAYOUTS[str(layout).lower()]
    except KeyError:
        raise ValueError(
            f"unknown layout {layout!r}; built-ins are {sorted(BUILTIN_LAYOUTS)}; for your own skeleton pass "
            "a layout.yaml path (keys name, joint_names, edges, center), its dict, or "
            "skdcore.layouts.make_layout(name, joint_names, edges, center)"
        ) from None


def layout_data(layout: Union[str, Path, Layout, Mapping]) -> dict:
    """The full plain-data form of any accepted layout (what manifests and checkpoints store)."""
    return get_layout(layout).to_dict()
