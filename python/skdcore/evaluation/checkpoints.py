"""Trained checkpoints as models, and a model's metrics on a prepared split (what `skd eval` runs)."""
from __future__ import annotations

from pathlib import Path

import torch

from ..checkpoints import load_trained_model
from ..data.batches import epoch_batches, iterate
from ..devices import resolve_device
from .metrics import evaluate


def default_device() -> torch.device:
    return resolve_device("auto")


def run_name(path, ckpt: dict) -> str:
    """A short name for a checkpoint: its run folder's name (as `skd plot` names runs: runs/own/skd/best.pt
    -> skd), else its run's config name."""
    return Path(path).resolve().parent.name or (ckpt.get("config") or {}).get("name") or "model"


def open_eval_dataset(ckpt: dict, path, data_root=None, split=None, lq: str = "fixed", **options):
    """The prepared split a checkpoint is evaluated on: ``data_root``/``split`` or the ones its run used."""
    from ..data import PairedSkeletonDataset

    run_data = (ckpt.get("config") or {}).get("data", {})
    root = data_root or run_data.get("root")
    if root is None:
        raise ValueError(f"{path} records no data root; pass --data DIR (a folder written by `skd prepare`)")
    if data_root is None and not (Path(root) / "manifest.json").exists():
        raise ValueError(f"{path} was trained on {root}, which holds no prepared dataset now (moved or "
                         "deleted?); pass --data DIR with the prepared data directory")
    split = split or run_data.get("test_split", "test")
    return PairedSkeletonDataset(root, split=split, lq=lq, **options)


def evaluate_checkpoint(path, data_root=None, split=None, use="lq", ops="fused", batch_size=64, dataset=None,
                        layout=None, trust: bool = False):
    """(metrics, dataset) of the checkpoint at ``path`` on its (or the given) test split."""
    model, ckpt = load_trained_model(path, ops, layout, trust)
    if dataset is None:
        dataset = open_eval_dataset(ckpt, path, data_root, split)
    batches = epoch_batches(len(dataset), batch_size, 0, 0, shuffle=False, drop_last=False)
    device = default_device()
    return evaluate(model.to(device), iterate(dataset, batches), device, dataset.num_classes, use), dataset


def load_models(paths, names=None, ops: str = "fused", layout=None, trust: bool = False):
    """{display name: (model, checkpoint dict, path)} in the given order; names made unique."""
    if names is not None and len(names) != len(paths):
        raise ValueError(f"--names: {len(names)} names for {len(paths)} checkpoints; give one per checkpoint")
    models = {}
    for i, path in enumerate(paths):
        model, ckpt = load_trained_model(path, ops, layout, trust)
        name = names[i] if names else run_name(path, ckpt)
        base, suffix = name, 2
        while name in models:
            name, suffix = f"{base}_{suffix}", suffix + 1
        models[name] = (model, ckpt, path)
    return models


def check_same_classes(models, dataset) -> None:
    """Every model of ``load_models`` predicts the dataset's classes, else a ValueError naming it."""
    for name, (model, _, path) in models.items():
        if getattr(model, "num_class", dataset.num_classes) != dataset.num_classes:
            raise ValueError(f"{path} ({name}) predicts {model.num_class} classes but {dataset.root} has "
                             f"{dataset.num_classes}; evaluate it on its own data with --data")
