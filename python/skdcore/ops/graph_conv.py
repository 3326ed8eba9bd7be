"""skdcore.graph_conv: fused spatial graph convolution of ST-GCN-family backbones (C++/CUDA op)."""
from __future__ import annotations

from typing import Optional

import torch

from ._fake_checks import check_same_device, op_checks

_check, _check_type = op_checks("graph_conv")


def graph_conv(
    x: torch.Tensor,
    weight: torch.Tensor,
    A: torch.Tensor,
    bias: Optional[torch.Tensor] = None,
    edge_importance: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    """Spatial graph convolution ``y = sum_k W_k x (A_k * M_k) + b`` as one fused operator.

    ``y[n, o, t, w] = sum_k sum_c sum_v weight[k, o, c] * x[n, c, t, v] * A_eff[k, v, w] + bias[o]``
    with ``A_eff = A * edge_importance`` (elementwise) when ``edge_importance`` is given. Same result
    as PYSKL's 1x1 conv to ``K * C_out`` channels followed by ``einsum('nkctv,kvw->nctw')``
    (:func:`skdcore.reference.graph_conv.graph_conv_reference`), without building the
    ``(N, K, C_out, T, V)`` intermediate.

    Args:
        x: (N, C_in, T, V) features: batch, channels, frames, joints.
        weight: (K, C_out, C_in) one channel projection per graph partition.
        A: (K, V, V) normalised partitions (e.g. self / inward / outward), ``A[k, v, w]`` the
            weight of the message from joint ``v`` to joint ``w``.
        bias: optional (C_out,).
        edge_importance: optional (K, V, V) learnable mask multiplied into ``A`` (ST-GCN).

    All tensors share one device and dtype: float32 or float64 (CPU, CUDA), float16 or bfloat16
    (CUDA only; accumulation in float32). Non-contiguous inputs are accepted; N = 0 returns an
    empty (0, C_out, T, V) tensor.

    Returns:
        (N, C_out, T, V) contiguous tensor. Differentiable w.r.t. every tensor argument (single
        backward; only the gradients autograd needs are computed).

    Raises:
        ValueError: wrong rank or mismatched K / V / C_in / C_out (the message names the argument
            and the expected shape), or tensors on different devices.
        TypeError: integer or mixed dtypes.
    """
    return torch.ops.skdcore.graph_conv(x, weight, A, bias, edge_importance)


def _check_shapes(x, weight, A, bias, edge_importance) -> None:
    # Same rules as the C++ check_graph_conv_inputs, for fake/meta tensors (torch.compile tracing;
    # a mix of meta and real tensors also lands here).
    check_same_device("graph_conv", "x", x,
                      (("weight", weight), ("A", A), ("bias", bias), ("edge_importance", edge_importance)))
    _check(x.dim() == 4, lambda: f"x must be (N, C_in, T, V), got {tuple(x.shape)}")
    _check(weight.dim() == 3, lambda: f"weight must be (K, C_out, C_in), got {tuple(weight.shape)}")
    _check(A.dim() == 3, lambda: f"A must be (K, V, V), got {tuple(A.shape)}")
    _check(weight.shape[2] == x.shape[1], lambda: "weight.size(2) must equal C_in of x")
    _check(A.shape[0] == weight.shape[0], lambda: "A.size(0) must equal K of weight")
    _check(A.shape[1] == x.shape[3] and A.shape[2] == x.shape[3], lambda: "A must be (K, V, V), V of x")
    if bias is not None:
        _check(tuple(bias.shape) == (weight.shape[1],), lambda: "bias must be (C_out,)")
    if edge_importance is not None:
        _check(edge_importance.shape == A.shape, lambda: "edge_importance must have the shape of A")


@torch.library.register_fake("skdcore::graph_conv")
def _graph_conv_fake(x, weight, A, bias=None, edge_importance=None):
    _check_shapes(x, weight, A, bias, edge_importance)
    N, _, T, V = x.shape
    return x.new_empty((N, weight.shape[1], T, V))


@torch.library.register_fake("skdcore::_graph_conv_backward")
def _graph_conv_backward_fake(grad, x, weight, A, edge_importance, output_mask):
    _check_shapes(x, weight, A, None, edge_importance)
    shapes = (x.shape, weight.shape, A.shape, (weight.shape[1],), A.shape)
    # An unrequested gradient is an empty (0,) tensor, as in the C++ kernels.
    return tuple(x.new_empty(shape if needed else (0,)) for shape, needed in zip(shapes, output_mask))
