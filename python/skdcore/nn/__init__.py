"""Neural-network layers built on skdcore's fused operators (``ops="reference"`` for the references)."""
from .graph_conv import GraphConv
from .graph_matching import GraphMatchingLoss
from .ops_choice import OPS, use_ops

__all__ = ["OPS", "GraphConv", "GraphMatchingLoss", "use_ops"]
