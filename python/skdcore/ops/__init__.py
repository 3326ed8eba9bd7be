"""User-facing skdcore operators (torch.ops.skdcore.* with docstrings and fake kernels)."""
from .graph_conv import graph_conv
from .graph_matching import graph_matching_loss
from .gradient_revision import (
    RevisedGradients,
    gradient_revision,
    gradient_revision_apply,
    gradient_revision_gram,
)
from .normalize_adjacency import normalize_adjacency
from .temporal_shift import temporal_shift

__all__ = [
    "RevisedGradients",
    "gradient_revision",
    "gradient_revision_apply",
    "gradient_revision_gram",
    "graph_conv",
    "graph_matching_loss",
    "normalize_adjacency",
    "temporal_shift",
]
