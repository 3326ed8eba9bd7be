"""Reference spatial graph convolution (PYSKL's readable form)."""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F


def graph_conv_reference(
    x: torch.Tensor,  # (N, C_in, T, V)
    weight: torch.Tensor,  # (K, C_out, C_in)
    A: torch.Tensor,  # (K, V, V), A[k, v, w]: joint v -> joint w
    bias: Optional[torch.Tensor] = None,  # (C_out,)
    edge_importance: Optional[torch.Tensor] = None,  # (K, V, V), multiplied into A
) -> torch.Tensor:  # (N, C_out, T, V)
    """y[n,o,t,w] = sum_k sum_c sum_v weight[k,o,c] x[n,c,t,v] (A*M)[k,v,w] + bias[o]."""
    K, C_out, C_in = weight.shape
    if edge_importance is not None:
        A = A * edge_importance
    # 1x1 convolution to K*C_out channels, then aggregate over the graph.
    y = F.conv2d(x, weight.reshape(K * C_out, C_in, 1, 1))
    N, _, T, V = y.shape
    y = torch.einsum("nkctv,kvw->nctw", y.reshape(N, K, C_out, T, V), A)
    if bias is not None:
        y = y + bias.view(1, -1, 1, 1)
    return y
