"""Reference degree normalisation of (K, V, V) adjacency partitions."""
from __future__ import annotations

import torch


def _inverse_or_zero(degree: torch.Tensor, power: float) -> torch.Tensor:
    # NB: where(...) keeps the gradient of the masked branch finite (no 0 ** -1); a NaN degree
    # is not <= 0, so it propagates.
    nonpositive = degree <= 0
    safe = torch.where(nonpositive, torch.ones_like(degree), degree)
    return torch.where(nonpositive, torch.zeros_like(degree), safe.pow(power))


def normalize_adjacency_reference(A: torch.Tensor, mode: str = "in_degree") -> torch.Tensor:
    """in_degree: A[k,v,w] / sum_v A[k,v,w]; symmetric: D^-1/2 A D^-1/2 with row sums D.

    Degrees <= 0 give a scale of 0.
    """
    if mode == "in_degree":
        return A * _inverse_or_zero(A.sum(dim=-2, keepdim=True), -1.0)
    if mode == "symmetric":
        scale = _inverse_or_zero(A.sum(dim=-1), -0.5)
        return A * scale.unsqueeze(-1) * scale.unsqueeze(-2)
    raise ValueError(f"mode must be 'in_degree' or 'symmetric', got {mode!r}")
