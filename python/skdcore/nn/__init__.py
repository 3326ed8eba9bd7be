"""Neural-network layers built on skdcore's fused operators."""
from .graph_conv import GraphConv
from .graph_matching import GraphMatchingLoss

__all__ = ["GraphConv", "GraphMatchingLoss"]
