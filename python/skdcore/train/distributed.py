"""torchrun support for the trainer: process-group set-up from the environment, metric averaging,
prediction gathering. The SKD step's own part (gradient averaging, buffer sync) is
``skdcore.distill.distributed``; ``model.sync_bn``: batch statistics over the global batch, see
sync_batchnorm.py. Train metrics
are averaged over ranks; evaluation runs on every rank's shard and the predictions are gathered.
"""
from __future__ import annotations

import atexit
import os

import torch
import torch.distributed as dist

from ..distill.distributed import DistInfo


def init_from_env(device: torch.device) -> DistInfo:
    """Join the process group torchrun describes (WORLD_SIZE > 1); gloo on CPU, nccl on GPU."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return DistInfo()
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        # The group must go before the interpreter does: left to interpreter finalization, gloo's worker
        # threads still hold finished work (tensors with Python references) and freeing them then
        # aborts the process ("terminate called without an active exception", exit -6) at random.
        atexit.register(destroy_process_group)
    return DistInfo(dist.get_rank(), dist.get_world_size())


def destroy_process_group() -> None:
    """Leave the process group, if still in one (idempotent: also runs at exit)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


def average_over_ranks(values: dict, info: DistInfo) -> dict:
    """{name: float} averaged over ranks (every rank must pass the same names)."""
    if not info.enabled or not values:
        return dict(values)
    names = sorted(values)
    flat = torch.tensor([float(values[k]) for k in names], dtype=torch.float64)
    flat = _all_reduce_on_backend(flat)
    return {k: float(v) / info.world_size for k, v in zip(names, flat.tolist())}


def gather_predictions(logits: torch.Tensor, labels: torch.Tensor, info: DistInfo):
    """Every rank's (logits (n_r, K), labels (n_r,)) concatenated in rank order, on every rank."""
    if not info.enabled:
        return logits, labels
    device = _backend_device()
    count = torch.tensor([labels.numel()], dtype=torch.int64, device=device)
    counts = [torch.zeros_like(count) for _ in range(info.world_size)]
    dist.all_gather(counts, count)
    counts = [int(c) for c in counts]
    width = max(counts)
    num_classes = torch.tensor([logits.shape[1] if logits.dim() == 2 else 0], device=device)
    dist.all_reduce(num_classes, op=dist.ReduceOp.MAX)  # a rank with no test batch has a (0, 0) tensor
    padded = torch.zeros(width, int(num_classes), dtype=torch.float32, device=device)
    padded_labels = torch.zeros(width, dtype=torch.int64, device=device)
    if counts[info.rank]:
        padded[:counts[info.rank]] = logits.float().to(device)
        padded_labels[:counts[info.rank]] = labels.long().to(device)
    all_logits = [torch.zeros_like(padded) for _ in range(info.world_size)]
    all_labels = [torch.zeros_like(padded_labels) for _ in range(info.world_size)]
    dist.all_gather(all_logits, padded)
    dist.all_gather(all_labels, padded_labels)
    return (torch.cat([g[:n] for g, n in zip(all_logits, counts)]).cpu(),
            torch.cat([g[:n] for g, n in zip(all_labels, counts)]).cpu())


def _backend_device() -> torch.device:
    """nccl collectives need CUDA tensors, gloo CPU ones."""
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def _all_reduce_on_backend(flat: torch.Tensor) -> torch.Tensor:
    moved = flat.to(_backend_device())
    dist.all_reduce(moved)
    return moved.cpu()


def rank_device(device: torch.device, info: DistInfo) -> torch.device:
    """Under torchrun each rank drives its own GPU (LOCAL_RANK); CPU ranks share the CPU."""
    if device.type != "cuda" or not info.enabled:
        return device
    index = int(os.environ.get("LOCAL_RANK", info.rank % max(torch.cuda.device_count(), 1)))
    local = torch.device("cuda", index)
    torch.cuda.set_device(local)
    return local
