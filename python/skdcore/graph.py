"""Graph partitions of a skeleton layout, as (K, V, V) numpy arrays.

Convention used everywhere in skdcore: ``A[k, v, w]`` is the weight with which joint
``v`` sends its feature to joint ``w`` in partition ``k`` (so a graph convolution is
``y[..., w] = sum_v x[..., v] * A[k, v, w]``, PYSKL's einsum ``'nkctv,kvw->nctw'``).

Strategies (ST-GCN / PYSKL):
- ``"uniform"``: K=1, every joint with its neighbours and itself.
- ``"spatial"``: K=3, self (plus neighbours at the same hop distance from the
  centre), inward (towards the centre), outward (away from it).
These arrays are unnormalised 0/1; normalise with :func:`skdcore.normalize_adjacency`
(``mode="in_degree"`` is ST-GCN's ``normalize_digraph``) or :func:`partition_matrices`.
"""
from __future__ import annotations

from typing import Optional, Union

import numpy as np

from .layouts import Layout, get_layout

STRATEGIES = ("uniform", "spatial")


def _directed(layout: Layout):
    """Split edges into (inward, outward, same_hop) lists of (source, target) pairs."""
    hops = layout.hop_distance()
    inward, outward, same = [], [], []
    for a, b in layout.edges:
        if hops[a] == hops[b]:
            same.append((a, b))
        else:
            far, near = (a, b) if hops[a] > hops[b] else (b, a)
            inward.append((far, near))
            outward.append((near, far))
    return inward, outward, same


def partitions(layout: Union[str, Layout, dict], strategy: Optional[str] = None) -> np.ndarray:
    """Unnormalised (K, V, V) float32 partitions of ``layout``; ``strategy`` None: the layout's
    own ``strategy``, else 'spatial'."""
    layout = get_layout(layout)
    strategy = strategy or layout.strategy or "spatial"
    V = layout.num_joints
    inward, outward, same = _directed(layout)
    if strategy == "uniform":
        A = np.eye(V, dtype=np.float32)[None].copy()
        for a, b in layout.edges:
            A[0, a, b] = A[0, b, a] = 1.0
        return A
    if strategy == "spatial":
        A = np.zeros((3, V, V), dtype=np.float32)
        A[0] = np.eye(V, dtype=np.float32)
        for a, b in same:
            A[0, a, b] = A[0, b, a] = 1.0
        # NB: a message travels source -> target, so an inward edge (far joint -> nearer
        # joint) fills A[1, far, near].
        for src, dst in inward:
            A[1, src, dst] = 1.0
        for src, dst in outward:
            A[2, src, dst] = 1.0
        return A
    raise ValueError(f"unknown partition strategy {strategy!r}; choose one of {STRATEGIES}")


def normalize_in_degree_numpy(A: np.ndarray) -> np.ndarray:
    """Numpy twin of ``normalize_adjacency(mode='in_degree')`` (ST-GCN's normalize_digraph)."""
    degree = A.sum(axis=-2, keepdims=True)
    inverse = np.divide(1.0, degree, out=np.zeros_like(degree), where=degree > 0)
    return (A * inverse).astype(A.dtype)


def partition_matrices(layout: Union[str, Layout, dict], strategy: Optional[str] = None) -> np.ndarray:
    """Normalised (K, V, V) float32 partitions, ready for a graph convolution."""
    return normalize_in_degree_numpy(partitions(layout, strategy))
