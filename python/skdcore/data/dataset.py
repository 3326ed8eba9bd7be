"""``PairedSkeletonDataset``: (hq, lq, label) torch tensors from a prepared directory.

The array is opened as a numpy memmap, so workers share the page cache and nothing is
loaded up front.  ``lq="fixed"`` serves the LQ stored by ``prepare``; ``lq="random"``
regenerates LQ from the stored HQ each epoch with ``sample_rng(seed, index, epoch)``
(call :meth:`set_epoch`), i.e. a fresh occlusion pattern per epoch that is still
reproducible.  NB: random LQ is made on the stored (already cut to T) HQ, while the
stored LQ was made on the full-length clip before the cut, like the reference.

Batched fetching (``__getitems__``, used by ``torch.utils.data.DataLoader`` with
automatic batching) reads sorted indices in one fancy-indexing call, which is much
faster on a memmap than one read per sample.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..safe_names import check_file_name
from .lq import build_lq, sample_rng
from .manifest import damaged, load_manifest, manifest_layout
from .prepared_checks import check_labels, check_split, load_array, manifest_lq, manifest_num_classes


class PairedSkeletonDataset(torch.utils.data.Dataset):
    """Samples of a prepared directory as ``(hq, lq, label)``.

    Args:
        root: directory written by :func:`skdcore.data.prepare_dataset`.
        split: a split name from the manifest ('train', 'test', 'xsub_train', ...) or None
            for every valid sample.
        lq: 'fixed' (stored) or 'random' (regenerated per epoch).
        lq_config: generator for ``lq='random'``; default: the one used by prepare.
        seed: seed of the random LQ (combined with sample index and epoch).
        in_memory: copy the array to RAM instead of memory-mapping it.

    ``hq`` and ``lq`` are float32 (C, T, V, M); ``label`` an int64 scalar tensor.
    """

    def __init__(self, root: str | Path, split: str | None = None, lq: str = "fixed",
                 lq_config=None, seed: int = 0, in_memory: bool = False):
        self.root = Path(root)
        self.manifest = load_manifest(self.root)
        if lq not in ("fixed", "random"):
            raise ValueError(f"lq must be 'fixed' or 'random', got {lq!r}")
        self.lq_mode = lq
        self.in_memory = bool(in_memory)
        self._data = None
        num_classes = manifest_num_classes(self.manifest, self.root)
        labels = check_labels(load_array(self.root / "labels.npy"), len(self.data), num_classes, self.root)
        if split is None:
            self.indices = np.flatnonzero(labels >= 0)
        else:
            path = self.root / f"split_{check_file_name(split, 'split')}.npy"
            if not path.exists():
                known = sorted(p.stem[len("split_"):] for p in self.root.glob("split_*.npy"))
                raise ValueError(f"split {split!r} not in {self.root}; available splits: {known}")
            self.indices = check_split(load_array(path), labels, path)
        self.labels = labels
        self.num_channels = self.data.shape[1] // 2
        self.seed, self.epoch = int(seed), 0
        if lq_config is None:
            lq_config = manifest_lq(self.manifest, self.root)
        self.generator = build_lq(lq_config)

    @property
    def data(self) -> np.ndarray:
        """(N, 2C, T, V, M) array, opened lazily so each DataLoader worker maps it itself."""
        if self._data is None:
            path = self.root / "data.npy"
            data = load_array(path, mmap_mode=None if self.in_memory else "r")
            if data.ndim != 5 or data.shape[1] % 2:
                raise damaged(path, f"shape {data.shape} is not (N, 2C, T, V, M) (LQ and HQ stacked on C)")
            self._data = data
        return self._data

    def __getstate__(self):
        # NB: pickling a memmap would copy the whole array into every spawned worker
        state = dict(self.__dict__)
        if not self.in_memory:
            state["_data"] = None
        return state

    @property
    def num_classes(self) -> int:
        return int(self.manifest["num_classes"])

    @property
    def layout(self):
        """The :class:`skdcore.layouts.Layout` the data was prepared with (from the manifest)."""
        return manifest_layout(self.manifest, where=str(self.root / "manifest.json"))

    @property
    def label_names(self):
        return self.manifest.get("label_names")

    def set_epoch(self, epoch: int) -> None:
        """Select the random-LQ pattern of ``epoch`` (no effect for fixed LQ)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.indices)

    def _split(self, block: np.ndarray, rows: np.ndarray):
        C = self.num_channels
        hq = block[:, C:]
        if self.lq_mode == "fixed":
            lq = block[:, :C]
        else:
            lq = np.stack([self.generator(h, sample_rng(self.seed, r, self.epoch)) for h, r in zip(hq, rows)])
        return np.ascontiguousarray(hq), np.ascontiguousarray(lq)

    def __getitem__(self, i: int):
        if not -len(self) <= i < len(self):
            raise IndexError(f"index {i} out of range for {len(self)} samples")
        row = int(self.indices[i])
        hq, lq = self._split(np.array(self.data[row:row + 1]), np.array([row]))
        return torch.from_numpy(hq[0]), torch.from_numpy(lq[0]), torch.tensor(int(self.labels[row]))

    def __getitems__(self, batch_indices):
        """A list of samples read with one sorted memmap access (DataLoader's batched path)."""
        rows = self.indices[np.asarray(batch_indices, dtype=np.int64)]
        order = np.argsort(rows, kind="stable")
        block = np.empty((len(rows),) + self.data.shape[1:], dtype=np.float32)
        block[order] = self.data[rows[order]]
        hq, lq = self._split(block, rows)
        hq_t, lq_t = torch.from_numpy(hq), torch.from_numpy(lq)
        labels = torch.from_numpy(self.labels[rows].astype(np.int64))
        return _Batch([(hq_t[k], lq_t[k], labels[k]) for k in range(len(rows))], (hq_t, lq_t, labels))


class _Batch(list):
    """The samples of one batch (a list, as DataLoader expects) that also carries them
    already stacked, so :func:`collate_paired` need not copy them again."""

    def __init__(self, samples, stacked):
        super().__init__(samples)
        self.stacked = stacked


def collate_paired(batch):
    """``default_collate`` that returns the pre-stacked tensors of a batched fetch as they are."""
    if isinstance(batch, _Batch):
        return batch.stacked
    return torch.utils.data.default_collate(batch)


def make_loader(dataset: PairedSkeletonDataset, batch_size: int = 16, shuffle: bool = True, workers: int = 0,
                pin_memory: bool | None = None, seed: int = 0, drop_last: bool = False):
    """A DataLoader using the batched memmap path; ``pin_memory`` defaults to CUDA availability.

    Batches are (hq (B, C, T, V, M), lq (B, C, T, V, M), labels (B,))."""
    if pin_memory is None:
        pin_memory = torch.cuda.is_available()
    generator = torch.Generator().manual_seed(int(seed))
    return torch.utils.data.DataLoader(
        dataset, batch_size=batch_size, shuffle=shuffle, num_workers=workers, pin_memory=pin_memory,
        generator=generator, drop_last=drop_last, persistent_workers=workers > 0, collate_fn=collate_paired,
    )
