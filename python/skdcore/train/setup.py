"""A run's set-up, apart from the loop (``trainer.py``): seeding, the datasets of a config, the model's
arguments completed from the data, the frozen teacher of a distill run."""
from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import torch

from ..checkpoints import CheckpointError, load_checkpoint, load_model_state, model_from_checkpoint
from ..layouts import get_layout
from ..models import model_class
from .config import SELECT_ON_TEST_LABEL, ExperimentConfig
from .selection import no_validation
from .typed_yaml import ConfigError


def seed_everything(seed: int, deterministic: bool = False) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True


def open_datasets(cfg: ExperimentConfig):
    """(train, selection) PairedSkeletonDatasets; runs ``data.prepare`` first when the root is not prepared.

    The selection split is ``data.val_split``, or ``data.test_split`` under ``data.select_on_test``
    (the reference's behaviour). The test split is opened only at the end (:func:`open_test_set`).
    """
    from ..data import PairedSkeletonDataset, prepare_dataset

    root = Path(cfg.data.root)
    if not (root / "manifest.json").exists():
        if cfg.data.prepare is None:
            raise ConfigError(f"data.root {root} holds no prepared dataset; run `skd prepare --out {root}`, "
                              "point data.root at a prepared folder, or add a data.prepare section")
        try:
            prepare_dataset(root, **cfg.data.prepare)
        except (ValueError, TypeError) as error:
            raise ConfigError(f"data.prepare: {error}") from None
    check_splits(cfg, root)
    train = PairedSkeletonDataset(root, split=cfg.data.train_split, lq=cfg.data.lq, seed=cfg.seed,
                                  lq_config=cfg.data.lq_corruption)
    selection = selection_split(cfg)
    try:
        select = PairedSkeletonDataset(root, split=selection, lq="fixed")
    except ValueError as error:
        raise ConfigError(f"{error}. data.val_split={selection!r} selects best.pt: prepare a validation "
                          "split (skd prepare ... --val-fraction 0.1), set data.val_split to an existing "
                          "split or to null (no validation: every training clip trains, best.pt is the last "
                          f"epoch), or set data.select_on_test: true ({SELECT_ON_TEST_LABEL})") from None
    return train, select


def selection_split(cfg: ExperimentConfig) -> str:
    """The split best.pt is chosen on; with no validation split (``data.val_split: null``) the training
    split, whose fit is logged while best.pt follows the last epoch (:mod:`.selection`)."""
    if cfg.data.select_on_test or cfg.data.val_split is None:
        if no_validation(cfg):
            return cfg.data.train_split
        return cfg.data.test_split
    return cfg.data.val_split


def unused_val_clips(cfg: ExperimentConfig) -> int:
    """Clips of the prepared 'val' split, which a run without a validation split does not train on."""
    path = Path(cfg.data.root) / "split_val.npy"
    if cfg.data.train_split == "val" or not path.exists():
        return 0
    return int(np.load(path, mmap_mode="r").shape[0])


def check_splits(cfg: ExperimentConfig, root: Path) -> None:
    """The train and test splits exist (the test split is read only after training: a typo there would
    otherwise cost the whole run)."""
    known = sorted(p.stem[len("split_"):] for p in root.glob("split_*.npy"))
    for key in ("train_split", "test_split"):
        split = getattr(cfg.data, key)
        if split not in known:
            raise ConfigError(f"data.{key}: split {split!r} not in {root}; available splits: {known}")


def open_test_set(cfg: ExperimentConfig):
    from ..data import PairedSkeletonDataset

    return PairedSkeletonDataset(cfg.data.root, split=cfg.data.test_split, lq="fixed")


def data_layout(cfg: ExperimentConfig, dataset, layout=None, key: str = "data.layout (--layout)") -> dict:
    """The layout the model is built for, as plain data: ``layout`` (model.args.layout), ``data.layout``
    (an override) or the manifest's; an override must have the data's joints."""
    joints = dataset.data.shape[3]
    if layout is None and cfg.data.layout is None:
        return dataset.layout.to_dict()
    try:
        layout = get_layout(cfg.data.layout if layout is None else layout)
    except ValueError as error:
        raise ConfigError(f"{key}: {error}") from None
    if layout.num_joints != joints:
        raise ConfigError(f"{key}: layout {layout.name!r} has {layout.num_joints} joints but "
                          f"{cfg.data.root} holds V={joints}; give the layout the data was prepared with")
    return layout.to_dict()


def augment_num_coords(dataset) -> tuple[int, str]:
    """(num_coords, a note or '') for ``data.augment``: the coordinate channels the manifest records; an
    older manifest without them: min(3, C) when C <= 3 (the note says so), else a ConfigError."""
    from ..data.augment import check_num_coords

    channels = int(dataset.data.shape[1]) // 2  # NB: LQ and HQ stacked on C
    manifest = getattr(dataset, "manifest", None)
    recorded = manifest.get("num_coords") if isinstance(manifest, dict) else None
    note = ""
    if recorded is None:
        if channels > 3:
            where = getattr(dataset, "root", "the training data")
            raise ConfigError(f"data.augment: the manifest of {where} does not record how many of its "
                              f"{channels} channels are coordinates (prepared by an older skdcore); re-run "
                              "skd prepare on the data, or set data.augment.rotate_deg and "
                              "data.augment.scale to 0")
        recorded = min(3, channels)
        note = (f"the manifest records no num_coords (older prepared data): the {recorded} channels are "
                "taken as coordinates")
    try:
        check_num_coords(int(recorded), channels)
    except ValueError as error:
        raise ConfigError(f"data.augment: {error}") from None
    return int(recorded), note


def model_arguments(cfg: ExperimentConfig, dataset) -> dict:
    """cfg.model.args completed with what the data says: the classes, and what the model class reads
    from the clip shape and the layout (channels, persons, joints, graph).

    The layout is stored as a plain dict, so checkpoints and configs rebuild the same graph."""
    args = dict(cfg.model.args)
    N, channels, T, V, M = (len(dataset.data),) + tuple(dataset.data.shape[1:])
    clip_shape = (N, channels // 2, T, V, M)  # NB: the dataset stores LQ and HQ stacked on C
    layout = (data_layout(cfg, dataset, args.pop("layout"), "model.args.layout") if "layout" in args
              else data_layout(cfg, dataset))
    from_data = model_class(cfg.model.name).arguments_from_data(clip_shape, layout)
    return {"num_class": dataset.num_classes, **from_data, **args}


def load_teacher(cfg: ExperimentConfig, num_classes: int, device: torch.device, trust: bool = False):
    """The frozen teacher of a distill run (eval mode, no gradients) from ``cfg.teacher_checkpoint``."""
    path = cfg.teacher_checkpoint
    if not path:
        raise ConfigError("mode: distill needs teacher_checkpoint: pass --teacher PATH or set "
                          "teacher_checkpoint (train one with `skd train` on a mode: teacher config)")
    ckpt = load_checkpoint(path, trust=trust)
    teacher = model_from_checkpoint(ckpt, path, ops=cfg.ops)
    load_model_state(teacher, ckpt, path)
    for p in teacher.parameters():
        p.requires_grad_(False)
    if teacher.num_class != num_classes:
        raise CheckpointError(f"teacher {path} predicts {teacher.num_class} classes "
                              f"but the data has {num_classes}")
    return teacher.to(device).eval()
