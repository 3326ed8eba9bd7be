"""User-facing skdcore operators (torch.ops.skdcore.* with docstrings and fake kernels)."""
from .normalize_adjacency import normalize_adjacency
from .temporal_shift import temporal_shift

__all__ = ["normalize_adjacency", "temporal_shift"]
