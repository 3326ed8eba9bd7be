"""Reference gradient revision: flatten every gradient into one vector, project, unflatten.

What the SKD reference code does (one global vector over all parameters), written plainly and
computed in float64. PCGrad mode projects each distillation gradient off the task gradient first,
then off the other ORIGINAL distillation gradients it still conflicts with, in the seeded order of
`pcgrad_order` (the same integer PRNG as the C++/CUDA kernels).
"""
from __future__ import annotations

import torch

_MASK64 = (1 << 64) - 1


def _splitmix64(state: int) -> tuple[int, int]:
    state = (state + 0x9E3779B97F4A7C15) & _MASK64
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return state, z ^ (z >> 31)


def pcgrad_order(seed: int, k: int, num_losses: int) -> list[int]:
    """Order (1-based loss indices, k excluded) in which loss k is projected off the others."""
    state = (seed & _MASK64) ^ ((0xD1B54A32D192ED03 * (k + 1)) & _MASK64)
    order = list(range(1, num_losses + 1))
    for i in range(num_losses - 1, 0, -1):
        state, value = _splitmix64(state)
        j = value % (i + 1)
        order[i], order[j] = order[j], order[i]
    return [j for j in order if j != k]


def gradient_revision_reference(
    task_grads: list[torch.Tensor],
    distill_grads: list[list[torch.Tensor]],
    eps: float = 1e-12,
    mode: str = "skd",
    seed: int = 0,
) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Returns (revised gradients in the input dtype, stats (2, K) float64: cosines; projections).

    revised = g_task + sum_k rev(g_k), rev(g) = g - min(0, <g, g_task>) / (||g_task||^2 + eps) g_task.
    """
    if mode not in ("skd", "pcgrad"):
        raise ValueError(f"mode must be 'skd' or 'pcgrad', got {mode!r}")
    num_losses = len(distill_grads)

    def flat(grads: list[torch.Tensor]) -> torch.Tensor:
        if not grads:
            return torch.zeros(0, dtype=torch.float64)
        return torch.cat([g.detach().reshape(-1).double().cpu() for g in grads])

    task = flat(task_grads)
    originals = [flat(g) for g in distill_grads]
    task_sq = task.dot(task)
    stats = torch.zeros(2, num_losses, dtype=torch.float64)
    total = task.clone()
    for k, g_k in enumerate(originals, start=1):
        revised = g_k.clone()
        others = [originals[j - 1] for j in pcgrad_order(seed, k, num_losses)] if mode == "pcgrad" else []
        refs = [task] + others
        for ref in refs:
            dot = revised.dot(ref)
            if dot < 0:
                revised = revised - dot / (ref.dot(ref) + eps) * ref
                stats[1, k - 1] += 1
        norms = g_k.dot(g_k) * task_sq
        stats[0, k - 1] = g_k.dot(task) / norms.sqrt() if norms > 0 else 0.0
        total = total + revised
    out, offset = [], 0
    for g in task_grads:
        n = g.numel()
        out.append(total[offset : offset + n].reshape(g.shape).to(dtype=g.dtype, device=g.device))
        offset += n
    return out, stats
