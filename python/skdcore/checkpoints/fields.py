"""Checks of a loaded checkpoint's fields that every reader of checkpoints runs (train's --resume,
eval, robustness, infer): the 'config' field's types and finite weights."""
from __future__ import annotations

import torch

from .checkpoint import CheckpointError


def check_finite_weights(ckpt: dict, path) -> None:
    """Every floating-point weight finite: a checkpoint with NaN/Inf weights gives meaningless results."""
    for key, tensor in ckpt["model"].items():
        if torch.is_tensor(tensor) and tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            bad = int((~torch.isfinite(tensor)).sum())
            raise CheckpointError(f"{path}: weight {key!r} holds {bad} NaN/Inf values of {tensor.numel()}; "
                                  "the model diverged or the file is damaged: use an earlier checkpoint")


def check_config_field(config, path) -> None:
    """The checkpoint's 'config' is absent or a dict whose name / data are of the right types."""
    if config is None:
        return
    if not isinstance(config, dict):
        raise CheckpointError(f"{path}: field 'config' is a {type(config).__name__}, expected a dict; the "
                              "checkpoint is damaged or was not written by skdcore")
    for key, kind in (("name", str), ("data", dict), ("mode", str)):
        if key in config and config[key] is not None and not isinstance(config[key], kind):
            raise CheckpointError(f"{path}: field 'config' has {key} of type {type(config[key]).__name__}, "
                                  f"expected a {kind.__name__}; the checkpoint is damaged")
    data = config.get("data") or {}
    for key in ("root", "test_split"):
        if key in data and data[key] is not None and not isinstance(data[key], str):
            raise CheckpointError(f"{path}: field 'config' has data.{key} of type "
                                  f"{type(data[key]).__name__}, expected a string; the checkpoint is damaged")
