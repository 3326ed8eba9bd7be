"""Neural-network layers built on skdcore's fused operators."""
from .graph_conv import GraphConv

__all__ = ["GraphConv"]
