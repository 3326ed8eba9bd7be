"""GraphConv: the spatial graph convolution module every ST-GCN block uses."""
from __future__ import annotations

import math
from typing import Optional, Union

import numpy as np
import torch
from torch import nn

from .op_switch import graph_conv


class GraphConv(nn.Module):
    """y = sum_k W_k x (A_k * M_k) + b on x of shape (N, C_in, T, V).

    ``A`` is the (K, V, V) normalised partition stack (``skdcore.graph.partition_matrices``),
    kept as a buffer; ``learnable_edges=True`` adds ST-GCN's edge importance M (ones at start).
    ``use_fused_ops``: None follows :func:`skdcore.models.set_use_fused_ops`; True/False pins
    this module to the compiled op / the pure-PyTorch reference.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        A: Union[np.ndarray, torch.Tensor],
        learnable_edges: bool = False,
        bias: bool = True,
        use_fused_ops: Optional[bool] = None,
    ):
        super().__init__()
        A = torch.as_tensor(A, dtype=torch.float32)
        if A.dim() != 3 or A.shape[1] != A.shape[2]:
            raise ValueError(f"GraphConv: A must be (K, V, V), got shape {tuple(A.shape)}")
        K = A.shape[0]
        self.in_channels, self.out_channels = in_channels, out_channels
        self.use_fused_ops = use_fused_ops
        self.register_buffer("A", A.clone())
        self.weight = nn.Parameter(torch.empty(K, out_channels, in_channels))
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self.edge_importance = nn.Parameter(torch.ones_like(A)) if learnable_edges else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # Same distribution as the 1x1 Conv2d(C_in, K*C_out) of ST-GCN's ConvTemporalGraphical.
        bound = 1.0 / math.sqrt(self.in_channels)
        nn.init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != self.in_channels or x.shape[3] != self.A.shape[1]:
            raise ValueError(
                f"GraphConv: x must be (N, {self.in_channels}, T, {self.A.shape[1]}), got {tuple(x.shape)}"
            )
        return graph_conv(x, self.weight, self.A, self.bias, self.edge_importance, self.use_fused_ops)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, K={self.A.shape[0]}, V={self.A.shape[1]}, "
                f"learnable_edges={self.edge_importance is not None}, use_fused_ops={self.use_fused_ops}")
