"""User-facing skdcore operators (torch.ops.skdcore.* with docstrings and fake kernels)."""
from .gradient_revision import (
    RevisedGradients,
    gradient_revision,
    gradient_revision_apply,
    gradient_revision_gram,
)
from .normalize_adjacency import normalize_adjacency

__all__ = [
    "RevisedGradients",
    "gradient_revision",
    "gradient_revision_apply",
    "gradient_revision_gram",
    "normalize_adjacency",
]
