"""Backbones for SKD: Shift-GCN (the reference's) and ST-GCN, built on skdcore's graph ops.

    model = build_model("shift_gcn")                      # the SKD reference teacher architecture
    model.load_state_dict(torch.load(path, weights_only=True), strict=True)
    student = build_model("shift_gcn", adaption_channels=256)   # + the 1x1 adaption conv
    small = build_model("st_gcn", layout="coco17", channels=(32, 64), strides=(1, 2))
    logits, features = model(x)   # x (N, C, T, V, M) -> (N, num_class), (N*M, C', T', V)

``features`` is the final map before pooling (through the adaption conv for a student): what the
feature MSE and the graph matching loss read. Every graph convolution / temporal shift goes through
:mod:`skdcore.models.op_switch`: ``set_use_fused_ops(True)`` / ``with fused_ops(True):`` (or a
module's ``use_fused_ops=``) picks the compiled ``skdcore`` ops instead of the references.
"""
from .graph_conv_layer import GraphConv
from .op_switch import (
    compiled_op,
    fused_ops,
    fused_ops_enabled,
    graph_conv,
    set_use_fused_ops,
    temporal_shift,
)
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
