"""Backbones for SKD: Shift-GCN (the reference's) and ST-GCN, built on skdcore's graph ops.

Every model takes x of shape (N, C, T, V, M) and returns ``(logits, features)``:
logits (N, num_class); features (N*M, C', T', V), the final map before pooling
(through the 1x1 adaption conv for a student).
"""
from .graph_conv_layer import GraphConv
from .op_switch import compiled_op, fused_ops, fused_ops_enabled, graph_conv, set_use_fused_ops, temporal_shift
from .registry import MODELS, build_model, make_student
from .shift_gcn import (
    ShiftGCN,
    ShiftGCNUnit,
    ShiftGraphConv,
    ShiftTemporalConv,
    TemporalShift,
    spatial_shift_indices,
)
from .shift_grad import constrain_shift_grad
from .skeleton_model import SkeletonModel
from .st_gcn import STGCN, STGCNBlock

__all__ = [
    "GraphConv", "compiled_op", "fused_ops", "fused_ops_enabled", "graph_conv", "set_use_fused_ops",
    "temporal_shift", "MODELS", "build_model", "make_student", "ShiftGCN", "ShiftGCNUnit",
    "ShiftGraphConv", "ShiftTemporalConv", "TemporalShift", "spatial_shift_indices",
    "constrain_shift_grad", "SkeletonModel", "STGCN", "STGCNBlock",
]
