"""Gradient revision across data-parallel ranks, with only the Gram matrix all-reduced.

Why not simply all-reduce the K+1 scalars of every rank's LOCAL gradients? Dot products are not
additive over ranks: <sum_r g_r, sum_r t_r> != sum_r <g_r, t_r>. They ARE additive over disjoint
parameter shards. So each rank owns a shard of the parameters (whole tensors, balanced by size):

1. reduce:     each loss's gradients of shard r are summed onto rank r (one `dist.reduce` of a
               flat (K+1) x |shard r| buffer per rank) and divided by the world size;
2. gram:       every rank computes the (K+1, K+1) Gram matrix of its shard (gradient_revision_gram);
3. all-reduce: the Gram matrices are summed: the only all-reduce, (K+1)^2 float64 scalars;
4. apply:      every rank writes the revised gradient of its shard (gradient_revision_apply);
5. broadcast:  each shard is sent from its owner to all ranks.

Traffic: (K+1) reduces + 1 broadcast of the gradient (about (K+2)/2 all-reduces' worth) instead
of K+1 full all-reduces. Averaging convention: gradients are MEANS over ranks (as in DDP), so with
mean-reduced losses and equal per-rank batches the result equals the single-process result on the
concatenated batch. (Batch-statistics layers such as BatchNorm see per-rank batches, as in DDP
without SyncBatchNorm.) Every rank must pass gradients for the same parameters (None in the same
places). Do not also wrap the model in DistributedDataParallel: this does the gradient sync.
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch
import torch.distributed as dist

from ..ops.gradient_revision import MaybeTensor, RevisedGradients, gradient_revision_apply, gradient_revision_gram


def shard_owners(numels: Sequence[int], world_size: int) -> list[int]:
    """Owner rank of each tensor: largest first onto the least-loaded rank (deterministic)."""
    load = [0] * world_size
    owners = [0] * len(numels)
    for i in sorted(range(len(numels)), key=lambda i: (-numels[i], i)):
        rank = min(range(world_size), key=lambda r: (load[r], r))
        owners[i] = rank
        load[rank] += numels[i]
    return owners


def _flatten(tensors: list[torch.Tensor]) -> torch.Tensor:
    if not tensors:
        return torch.zeros(0)
    return torch.cat([t.reshape(-1) for t in tensors])


def _unflatten_into(flat: torch.Tensor, targets: list[torch.Tensor]) -> None:
    offset = 0
    for t in targets:
        n = t.numel()
        t.copy_(flat[offset : offset + n].view_as(t))
        offset += n


def distributed_gradient_revision(
    task_grads: Sequence[MaybeTensor],
    distill_grads: Sequence[Sequence[MaybeTensor]],
    out: Sequence[torch.Tensor],
    *,
    eps: float = 1e-12,
    mode: str = "skd",
    seed: int = 0,
    group: Optional[dist.ProcessGroup] = None,
) -> RevisedGradients:
    """Like gradient_revision(..., out=out) on the rank-averaged gradients (see module docstring).

    ``out`` (e.g. the parameters' ``.grad``) receives the revised, rank-averaged gradient on
    every rank; the returned stats are identical on every rank.
    """
    world, rank = dist.get_world_size(group), dist.get_rank(group)
    num_losses = len(distill_grads)
    columns = [[task_grads[i]] + [grads[i] for grads in distill_grads] for i in range(len(task_grads))]
    present = [i for i, column in enumerate(columns) if any(g is not None for g in column)]
    for i in present:
        if out[i] is None:
            raise ValueError(f"distributed_gradient_revision: out[{i}] is None but parameter {i} has a gradient")
    owners = shard_owners([out[i].numel() for i in present], world)
    mine = [i for i, owner in zip(present, owners) if owner == rank]

    # 1. sum each loss's gradients of every shard onto its owner, then average
    local: dict[int, list[torch.Tensor]] = {}
    for r in range(world):
        shard = [i for i, owner in zip(present, owners) if owner == r]
        pieces = []
        for j in range(num_losses + 1):
            for i in shard:
                g = columns[i][j]
                pieces.append(g if g is not None else torch.zeros_like(out[i]))
        buffer = _flatten(pieces).to(out[present[0]]) if pieces else None
        if buffer is not None:
            dist.reduce(buffer, dst=r, op=dist.ReduceOp.SUM, group=group)
        if r == rank and buffer is not None:
            buffer /= world
            views, offset = [], 0
            for j in range(num_losses + 1):
                for i in shard:
                    n = out[i].numel()
                    views.append(buffer[offset : offset + n].view_as(out[i]))
                    offset += n
            for j in range(num_losses + 1):
                local[j] = views[j * len(shard) : (j + 1) * len(shard)]

    # 2-4. Gram of my shard, summed over ranks, then the write into my shard's outputs
    my_task = local.get(0, [])
    my_distill = [local.get(k + 1, []) for k in range(num_losses)]
    gram = gradient_revision_gram(my_task, my_distill, mode=mode)
    gram = gram.to(out[present[0]].device) if present else gram
    dist.all_reduce(gram, op=dist.ReduceOp.SUM, group=group)
    result = gradient_revision_apply(my_task, my_distill, gram, eps=eps, mode=mode, seed=seed,
                                     out=[out[i] for i in mine])

    # 5. every shard from its owner to everyone
    for r in range(world):
        shard = [i for i, owner in zip(present, owners) if owner == r]
        if not shard:
            continue
        buffer = _flatten([out[i] for i in shard]) if r == rank else torch.empty(
            sum(out[i].numel() for i in shard), dtype=out[shard[0]].dtype, device=out[shard[0]].device)
        dist.broadcast(buffer, src=r, group=group)
        if r != rank:
            _unflatten_into(buffer, [out[i] for i in shard])
    return RevisedGradients(list(out), result.stats)
