"""Reference degree normalisation of (K, V, V) adjacency partitions."""
from __future__ import annotations

import torch


def _safe_degree_and_mask(degree: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    # (degree with 1 where it is <= 0, 0/1 mask of degree > 0). NB: the normalised entries divide
    # by the degrees rather than multiplying by 1/degree, which overflows to inf for a denormal
    # degree while the ratio is finite; the masked branch keeps a finite gradient; a NaN degree is
    # not <= 0, so it propagates (NaN times the mask's 0 of another joint is still NaN).
    nonpositive = degree <= 0
    return torch.where(nonpositive, torch.ones_like(degree), degree), (~nonpositive).to(degree.dtype)


def normalize_adjacency_reference(A: torch.Tensor, mode: str = "in_degree") -> torch.Tensor:
    """in_degree: A[k,v,w] / sum_v A[k,v,w]; symmetric: D^-1/2 A D^-1/2 with row sums D.

    Degrees <= 0 give a scale of 0.
    """
    if mode == "in_degree":
        safe, mask = _safe_degree_and_mask(A.sum(dim=-2, keepdim=True))
        return A / safe * mask
    if mode == "symmetric":
        safe, mask = _safe_degree_and_mask(A.sum(dim=-1))
        root = safe.sqrt()
        return A / root.unsqueeze(-1) / root.unsqueeze(-2) * mask.unsqueeze(-1) * mask.unsqueeze(-2)
    raise ValueError(f"mode must be 'in_degree' or 'symmetric', got {mode!r}")
