"""Backbones for SKD: Shift-GCN (the reference's), ST-GCN and CTR-GCN, built on skdcore's ops; your own
with ``register_model``.

    model = build_model("shift_gcn")                      # the SKD reference teacher architecture
    model.load_state_dict(torch.load(path, weights_only=True), strict=True)
    student = build_model("shift_gcn", adaption_channels=256)   # + the 1x1 adaption conv
    small = build_model("st_gcn", layout="coco17", channels=(32, 64), strides=(1, 2))
    logits, features = model(x)   # x (N, C, T, V, M) -> (N, num_class), (N*M, C', T', V)

``features`` is the final map before pooling (through the adaption conv for a student): what the
feature MSE and the graph matching loss read. Models run skdcore's compiled ops (each class
lists them in ``compiled_ops``); ``build_model(name, ops="reference")`` runs the pure-PyTorch
references instead, and ``use_ops(model, ops)`` re-points an existing model. Same state dict either way.
"""
from ..nn.graph_conv import GraphConv
from ..nn.ops_choice import OPS, use_ops
from .ctr_gcn import (
    CTRGCN,
    ChannelTopologyRefinement,
    ChannelwiseGraphConv,
    CTRGCNBlock,
    MultiScaleTemporalConv,
)
from .registry import (
    MODELS,
    accepted_arguments,
    available_models,
    build_model,
    make_student,
    model_class,
    register_model,
    takes_any_argument,
)
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
    "GraphConv", "OPS", "use_ops", "MODELS", "accepted_arguments", "available_models", "build_model",
    "make_student", "takes_any_argument", "model_class", "register_model",
    "ChannelTopologyRefinement", "ChannelwiseGraphConv",
    "CTRGCN", "CTRGCNBlock", "MultiScaleTemporalConv", "ShiftGCN",
    "ShiftGCNUnit",
    "ShiftGraphConv", "ShiftTemporalConv", "TemporalShift", "spatial_shift_indices",
    "constrain_shift_grad", "SkeletonModel", "STGCN", "STGCNBlock",
]
