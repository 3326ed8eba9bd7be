"""skdcore.normalize_adjacency: degree normalisation of graph partitions (fused C++/CUDA op)."""
from __future__ import annotations

import torch

from ._fake_checks import op_checks

_MODES = ("in_degree", "symmetric")

_check, _check_type = op_checks("normalize_adjacency")


def normalize_adjacency(A: torch.Tensor, mode: str = "in_degree") -> torch.Tensor:
    """Degree-normalise (K, V, V) adjacency partitions, as every GCN needs.

    Args:
        A: (K, V, V) float32/float64 tensor (CPU or CUDA), ``A[k, v, w]`` the weight of the
            message from joint ``v`` to joint ``w``. Non-contiguous input is accepted.
        mode: ``"in_degree"``: ``A[k,v,w] / sum_v A[k,v,w]`` (ST-GCN's ``normalize_digraph``);
            ``"symmetric"``: ``D^-1/2 A D^-1/2`` with ``D`` the row sums.

    Returns:
        (K, V, V) tensor, same dtype/device. A joint whose degree is <= 0 gets scale 0.
        NaN/Inf in ``A`` propagate (no check: this op runs inside training loops).
        Differentiable w.r.t. ``A`` (single backward).
    """
    return torch.ops.skdcore.normalize_adjacency(A, mode)


@torch.library.register_fake("skdcore::normalize_adjacency")
def _normalize_adjacency_fake(A, mode="in_degree"):
    _check(A.dim() == 3 and A.shape[1] == A.shape[2],
           lambda: f"A must be (K, V, V), got {tuple(A.shape)}")
    _check(mode in _MODES, lambda: f"mode must be one of {_MODES}, got {mode!r}")
    return torch.empty_like(A, memory_format=torch.contiguous_format)


@torch.library.register_fake("skdcore::_normalize_adjacency_backward")
def _normalize_adjacency_backward_fake(grad, A, mode):
    return torch.empty_like(A, memory_format=torch.contiguous_format)
