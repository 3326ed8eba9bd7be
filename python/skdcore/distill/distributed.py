"""Gradient averaging and buffer sync for the SKD step under torch.distributed.

Gradients are averaged by hand (one all-reduce per step over a flat buffer) instead of wrapping
the model in DistributedDataParallel: SKD's revised backward takes one gradient per loss, which
DDP's hooks would all-reduce on every backward; the revision itself all-reduces what it needs.
BatchNorm running statistics are broadcast from rank 0 before each step, as DDP does.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass
class DistInfo:
    rank: int = 0
    world_size: int = 1

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def average_gradients(params, info: DistInfo) -> None:
    if not info.enabled:
        return
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= info.world_size
    offset = 0
    for g in grads:
        g.copy_(flat[offset:offset + g.numel()].view_as(g))
        offset += g.numel()


def broadcast_buffers(model: torch.nn.Module, info: DistInfo) -> None:
    if not info.enabled:
        return
    for buffer in model.buffers():
        dist.broadcast(buffer, 0)
