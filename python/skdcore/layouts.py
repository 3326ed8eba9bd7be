"""Skeleton layouts: joint names, bones (edges) and the centre joint.

A layout is plain data. The built-ins cover the joint sets people actually hold
(NTU RGB+D 25 joints, OpenPose 18, COCO 17, Penn Action 13); users describe their
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence, Union

import numpy as np

ROLE_NAMES = ("spine_base", "spine_top", "left_shoulder", "right_shoulder")
PARTITION_STRATEGIES = ("spatial", "uniform")
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


def graph_centre(num_joints: int, edges: Sequence[Sequence[int]]) -> int:
    """The joint whose farthest joint is the fewest hops away (ties: the lowest index): the default
    ``center`` of a layout that names none. Joints no edge reaches count as infinitely far."""
    def eccentricity(joint: int) -> float:
        probe = Layout("probe", tuple(map(str, range(num_joints))), tuple(map(tuple, edges)), joint)
        hops = probe.hop_distance()
        return float("inf") if (hops < 0).any() else int(hops.max())

    return min(range(num_joints), key=lambda j: (eccentricity(j), j))


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
    if strategy is not None and strategy not in PARTITION_STRATEGIES:
        raise ValueError(f"layout {name!r}: strategy={strategy!r} is not valid; choose one of "
                         f"{list(PARTITION_STRATEGIES)} or leave it out")
    names = tuple(str(n) for n in joint_names)
    if len(names) < 2:
        raise ValueError(f"layout {name!r}: joint_names needs at least 2 joints, got {len(names)}")
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"layout {name!r}: joint_names must be unique; repeated: {dup}")
    V = len(names)

    def resolve(value, what):
        if isinstance(value, str):
            if value not in names:
                raise ValueError(f"layout {name!r}: {what}={value!r} is not one of joint_names")
            return names.index(value)
        idx = int(value)
        if not 0 <= idx < V:
            raise ValueError(f"layout {name!r}: {what}={idx} out of range for {V} joints (use 0..{V - 1})")
        return idx

    clean_edges = []
    seen = set()
    for i, edge in enumerate(edges):
        if len(edge) != 2:
            raise ValueError(f"layout {name!r}: edges[{i}]={tuple(edge)} must be a pair (a, b)")
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
            raise ValueError(f"layout {name!r}: unknown role {role!r}; known roles: {ROLE_NAMES}")
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

BUILTIN_LAYOUTS = {layout.name: layout for layout in (NTU25, OPENPOSE18, COCO17, PENN13)}


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
            values = json.loads(text)
        else:
            import yaml

            values = yaml.safe_load(text)
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
    """A Layout from a built-in name ('ntu25', 'openpose18', 'coco17', 'penn13'), a Layout (as is),
    its :meth:`Layout.to_dict` data, or a path to a YAML/JSON layout file."""
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
