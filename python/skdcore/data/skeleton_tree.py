"""Kinematic-tree helpers shared by transforms and the synthetic generator.

A layout only stores undirected edges; many operations need a parent per joint
(bones stream, forward kinematics, filling dropped joints).  The tree is rooted at a
chosen joint and built breadth-first over the layout's edges.
"""

from __future__ import annotations

import numpy as np

from ..layouts import Layout, get_layout


def parents(layout: str | Layout, root: int | None = None) -> np.ndarray:
    """(V,) int64 parent index of every joint in the BFS tree rooted at ``root``.

    ``root`` defaults to ``layout.center``; the root's parent is itself.
    """
    layout = get_layout(layout)
    root = layout.center if root is None else int(root)
    V = layout.num_joints
    if not 0 <= root < V:
        raise ValueError(f"layout {layout.name!r}: root joint {root} is outside 0..{V - 1}")
    neighbours = [[] for _ in range(V)]
    for a, b in layout.edges:
        if not (0 <= a < V and 0 <= b < V):
            raise ValueError(f"layout {layout.name!r}: edge ({a}, {b}) names a joint outside 0..{V - 1}")
        neighbours[a].append(b)
        neighbours[b].append(a)
    parent = np.full(layout.num_joints, -1, dtype=np.int64)
    parent[root] = root
    frontier = [root]
    while frontier:
        nxt = []
        for j in frontier:
            for k in sorted(neighbours[j]):
                if parent[k] < 0:
                    parent[k] = j
                    nxt.append(k)
        frontier = nxt
    return parent


def topological_order(parent: np.ndarray) -> list[int]:
    """Joints ordered so that every parent comes before its children."""
    V = len(parent)
    if np.any((parent < 0) | (parent >= V)):
        raise ValueError(f"parent array holds an index outside 0..{V - 1} (a joint the tree does not reach?)")
    depth = np.zeros(V, dtype=np.int64)
    for j in range(V):
        k, d = j, 0
        while parent[k] != k:
            k, d = parent[k], d + 1
            if d > V:
                raise ValueError("parent array has a cycle; it is not a tree")
        depth[j] = d
    return [int(j) for j in np.argsort(depth, kind="stable")]


def hop_matrix(layout: str | Layout) -> np.ndarray:
    """(V, V) int64 graph hop distances between all joint pairs."""
    layout = get_layout(layout)
    V = layout.num_joints
    inf = V + 1
    dist = np.full((V, V), inf, dtype=np.int64)
    np.fill_diagonal(dist, 0)
    for a, b in layout.edges:
        dist[a, b] = dist[b, a] = 1
    for k in range(V):  # Floyd-Warshall; V <= a few dozen
        dist = np.minimum(dist, dist[:, k : k + 1] + dist[k : k + 1, :])
    return dist
