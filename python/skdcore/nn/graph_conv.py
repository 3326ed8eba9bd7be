"""skdcore.nn.GraphConv: the spatial graph convolution layer of ST-GCN-family backbones."""
from __future__ import annotations

import math

import torch
from torch import nn

from ..ops.graph_conv import graph_conv
from ..reference.graph_conv import graph_conv_reference
from .ops_choice import ChoosesOps, check_ops


class GraphConv(ChoosesOps, nn.Module):
    """``y = sum_k W_k x (A_k * M_k) + b`` over a fixed skeleton graph, as one fused op.

    Args:
        in_channels: C_in of the input (N, C_in, T, V).
        out_channels: C_out of the output (N, C_out, T, V).
        A: (K, V, V) normalised graph partitions (tensor or array, e.g.
            ``skdcore.graph.partition_matrices("ntu25")``), stored as a buffer (moves with
            ``.to()``, saved in the state dict, not trained).
        learnable_edges: add ST-GCN's learnable edge importance ``M`` (K, V, V), initialised to
            ones and multiplied into ``A``.
        bias: add a learnable (C_out,) bias.
        ops: "fused" (default: the compiled ``skdcore.ops.graph_conv``) or "reference" (the
            pure-PyTorch reference, for debugging); devices without a kernel use the reference.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        A,
        learnable_edges: bool = False,
        bias: bool = True,
        ops: str = "fused",
    ) -> None:
        super().__init__()
        A = torch.as_tensor(A, dtype=torch.get_default_dtype()).clone()
        if A.dim() != 3 or A.shape[1] != A.shape[2]:
            raise ValueError(f"GraphConv: A must have shape (K, V, V), got {tuple(A.shape)}")
        if in_channels <= 0 or out_channels <= 0:
            raise ValueError(
                f"GraphConv: in_channels and out_channels must be positive, got {in_channels}, {out_channels}"
            )
        self.in_channels, self.out_channels = in_channels, out_channels
        self.ops = check_ops(ops, "GraphConv")
        self.register_buffer("A", A)
        self.weight = nn.Parameter(torch.empty(A.shape[0], out_channels, in_channels))
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self.edge_importance = nn.Parameter(torch.ones_like(A)) if learnable_edges else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # Same init as the reference's 1x1 Conv2d to K*C_out channels (fan_in = C_in).
        bound = 1.0 / math.sqrt(self.in_channels)
        nn.init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            nn.init.uniform_(self.bias, -bound, bound)
        if self.edge_importance is not None:
            nn.init.ones_(self.edge_importance)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, C_in, T, V) -> (N, C_out, T, V)
        if x.dim() != 4 or x.shape[1] != self.in_channels or x.shape[3] != self.A.shape[1]:
            raise ValueError(
                f"GraphConv: x must be (N, {self.in_channels}, T, {self.A.shape[1]}), got {tuple(x.shape)}"
            )
        return self.call_op(graph_conv, graph_conv_reference, x, self.weight, self.A, self.bias,
                            self.edge_importance)

    def extra_repr(self) -> str:
        K, V = self.A.shape[0], self.A.shape[1]
        return (
            f"{self.in_channels}, {self.out_channels}, K={K}, V={V}, bias={self.bias is not None}, "
            f"learnable_edges={self.edge_importance is not None}, ops={self.ops!r}"
        )
