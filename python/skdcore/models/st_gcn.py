"""ST-GCN (Yan et al. 2018): spatial graph conv + 9x1 temporal conv blocks with residuals.

Every spatial graph convolution is a :class:`skdcore.nn.GraphConv`, so the whole network follows
the model's ``ops`` argument ("fused": the compiled graph_conv; "reference": pure PyTorch).
Graph: the "spatial" partition (self, inward, outward; normalised) of any layout, built-in or user-defined.
Person handling: data_bn is shared by all persons (over V*C, as in the original ST-GCN), so one
model accepts any number of persons M.
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Sequence, Union

import torch
from torch import nn

from ..layouts import Layout
from ..nn.graph_conv import GraphConv
from .skeleton_model import SkeletonModel, stacked_blocks

REFERENCE_CHANNELS = (64, 64, 64, 64, 128, 128, 128, 256, 256, 256)
REFERENCE_STRIDES = (1, 1, 1, 1, 2, 1, 1, 2, 1, 1)


class STGCNBlock(nn.Module):
    """relu(tcn(gcn(x)) + residual(x)) on x of shape (N, C_in, T, V)."""

    def __init__(self, in_channels: int, out_channels: int, A: torch.Tensor, stride: int = 1,
                 residual: bool = True, learnable_edges: bool = True, temporal_kernel: int = 9,
                 dropout: float = 0.0, ops: str = "fused"):
        super().__init__()
        if temporal_kernel % 2 != 1:
            raise ValueError(
                f"STGCNBlock: temporal_kernel must be odd (centred padding), got {temporal_kernel}")
        padding = (temporal_kernel - 1) // 2
        self.gcn = GraphConv(in_channels, out_channels, A, learnable_edges=learnable_edges, ops=ops)
        self.tcn = nn.Sequential(
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_channels, out_channels, (temporal_kernel, 1), (stride, 1), (padding, 0)),
            nn.BatchNorm2d(out_channels),
            nn.Dropout(dropout, inplace=True),
        )
        if not residual:
            self.residual = None
        elif in_channels == out_channels and stride == 1:
            self.residual = nn.Identity()
        else:
            self.residual = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=(stride, 1)),
                nn.BatchNorm2d(out_channels),
            )
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.tcn(self.gcn(x))
        if self.residual is not None:
            y = y + self.residual(x)
        return self.relu(y)


class STGCN(SkeletonModel):
    """ST-GCN backbone + classifier; ``forward(x (N, C, T, V, M)) -> (logits, features)``.

    ``layout``: a built-in name ('ntu25', 'openpose18', 'coco17', 'penn13') or a
    :class:`skdcore.layouts.Layout`; ``A`` (K, V, V) overrides the partition if given.
    Defaults: 10 blocks 64x4, 128x3, 256x3, stride 2 at blocks 5 and 8, learnable edge importance.
    ``centre_input``: subtract each clip's mean joint position first (raw, uncentred recordings;
    :func:`skdcore.models.skeleton_model.centre_on_clip_mean`).
    """

    persons_fixed = False
    compiled_ops = ("graph_conv",)

    def __init__(
        self,
        num_class: int = 60,
        layout: Union[str, Layout] = "ntu25",
        in_channels: int = 3,
        channels: Sequence[int] = REFERENCE_CHANNELS,
        strides: Sequence[int] = REFERENCE_STRIDES,
        learnable_edges: bool = True,
        temporal_kernel: int = 9,
        dropout: float = 0.0,
        num_person: int = 2,
        A: Optional[torch.Tensor] = None,
        adaption_channels: Optional[int] = None,
        ops: str = "fused",
        centre_input: bool = False,
    ):
        channels, strides, A = stacked_blocks("STGCN", channels, strides, layout, A)
        super().__init__(num_class, A.shape[-1], num_person, in_channels, channels[-1], adaption_channels,
                         ops, centre_input)
        self.channels, self.strides = channels, strides
        self.data_bn = nn.BatchNorm1d(in_channels * A.shape[-1])
        blocks, previous = [], in_channels
        for index, (width, stride) in enumerate(zip(channels, strides, strict=True)):
            blocks.append(STGCNBlock(previous, width, A, stride, residual=index > 0,
                                     learnable_edges=learnable_edges, temporal_kernel=temporal_kernel,
                                     dropout=dropout, ops=ops))
            previous = width
        self.blocks = nn.ModuleList(blocks)

    @classmethod
    def arguments_from_data(cls, shape: Sequence[int], layout: Any = None) -> Dict[str, Any]:
        """The graph comes from the data's layout (default 'ntu25'), which fixes the joint count."""
        _, channels, _, _, persons = shape
        return {"in_channels": int(channels), "num_person": int(persons),
                "layout": "ntu25" if layout is None else layout}

    def backbone(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return x

    def edge_importances(self):
        """The learnable (K, V, V) edge-importance masks, one per block (empty if disabled)."""
        return [block.gcn.edge_importance for block in self.blocks if block.gcn.edge_importance is not None]
