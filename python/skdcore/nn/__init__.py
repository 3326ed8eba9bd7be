"""Neural-network layers built on skdcore's fused operators."""
from .graph_matching import GraphMatchingLoss

__all__ = ["GraphMatchingLoss"]
