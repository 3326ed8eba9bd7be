"""Deterministic batch order: the permutation of an epoch depends only on (seed, epoch), so a run
resumed at step k of an epoch sees exactly the batches an uninterrupted run would. Under
torch.distributed each rank takes its slice of every global batch (rank-major, like DistributedSampler).
"""
from __future__ import annotations

from typing import Iterator, List, Optional, Tuple

import numpy as np
import torch

MIN_TRAIN_BATCH = 2  # BatchNorm in training mode needs more than one sample


def epoch_batches(num_samples: int, batch_size: int, seed: int, epoch: int, shuffle: bool = True,
                  rank: int = 0, world_size: int = 1, drop_last: Optional[bool] = None) -> List[np.ndarray]:
    """Index arrays of this rank's batches for ``epoch``; global batch = batch_size * world_size.

    ``drop_last``: True drops an incomplete last batch, False keeps it, None (default) keeps it
    unless some rank's share of it has fewer than 2 samples (BatchNorm needs > 1; under
    torch.distributed every rank must take the same number of steps).
    """
    if shuffle:
        generator = torch.Generator().manual_seed(int(seed) * 100_003 + int(epoch))
        order = torch.randperm(num_samples, generator=generator).numpy()
    else:
        order = np.arange(num_samples)
    global_batch = batch_size * world_size
    full = (num_samples // global_batch) * global_batch
    if drop_last is None:
        rest = num_samples - full
        smallest_share = min(max(0, min(batch_size, rest - r * batch_size)) for r in range(world_size))
        drop_last = rest > 0 and smallest_share < MIN_TRAIN_BATCH
    # NB: a split smaller than one batch keeps its only batch
    stop = full if drop_last and num_samples >= global_batch else num_samples
    batches = []
    for start in range(0, stop, global_batch):
        chunk = order[start:start + global_batch]
        mine = chunk[rank * batch_size:(rank + 1) * batch_size] if world_size > 1 else chunk
        if len(mine):
            batches.append(mine)
    return batches


def fetch(dataset, indices: np.ndarray) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(hq (B, C, T, V, M), lq (B, C, T, V, M), labels (B,)) of ``indices`` via the dataset's batched read."""
    if hasattr(dataset, "__getitems__"):
        items = dataset.__getitems__(list(indices))
    else:
        items = [dataset[i] for i in indices]
    hq, lq, labels = zip(*items)
    return torch.stack(hq), torch.stack(lq), torch.stack(labels)


def iterate(dataset, batches: List[np.ndarray], start: int = 0) -> Iterator:
    for indices in batches[start:]:
        yield fetch(dataset, indices)
