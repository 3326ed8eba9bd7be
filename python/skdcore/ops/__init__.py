"""User-facing skdcore operators (torch.ops.skdcore.* with docstrings and fake kernels)."""
from .normalize_adjacency import normalize_adjacency

__all__ = ["normalize_adjacency"]
