"""Deterministic batch order: the permutation of an epoch depends only on (seed, epoch), so a run
resumed at step k of an epoch sees exactly the batches an uninterrupted run would. Under
torch.distributed each rank takes its slice of every global batch (rank-major, like DistributedSampler).
"""
from __future__ import annotations

from typing import Iterator, List, Tuple

import numpy as np
import torch


def epoch_batches(num_samples: int, batch_size: int, seed: int, epoch: int, shuffle: bool = True,
                  rank: int = 0, world_size: int = 1, drop_last: bool = True) -> List[np.ndarray]:
    """Index arrays of this rank's batches for ``epoch``; global batch = batch_size * world_size."""
    if shuffle:
        generator = torch.Generator().manual_seed(int(seed) * 100_003 + int(epoch))
        order = torch.randperm(num_samples, generator=generator).numpy()
    else:
        order = np.arange(num_samples)
    global_batch = batch_size * world_size
    # Drop an incomplete last batch in training (BatchNorm on a batch of 1 fails) unless it is the only one.
    stop = (num_samples // global_batch) * global_batch if drop_last and num_samples >= global_batch else num_samples
    batches = []
    for start in range(0, stop, global_batch):
        chunk = order[start:start + global_batch]
        mine = chunk[rank * batch_size:(rank + 1) * batch_size] if world_size > 1 else chunk
        if len(mine):
            batches.append(mine)
    return batches


def fetch(dataset, indices: np.ndarray) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(hq (B, C, T, V, M), lq (B, C, T, V, M), labels (B,)) of ``indices`` via the dataset's batched read."""
    items = dataset.__getitems__(list(indices)) if hasattr(dataset, "__getitems__") else [dataset[i] for i in indices]
    hq, lq, labels = zip(*items)
    return torch.stack(hq), torch.stack(lq), torch.stack(labels)


def iterate(dataset, batches: List[np.ndarray], start: int = 0) -> Iterator:
    for indices in batches[start:]:
        yield fetch(dataset, indices)
