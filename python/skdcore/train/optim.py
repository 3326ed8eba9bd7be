"""Optimiser and learning-rate schedule: SGD Nesterov (reference) or AdamW; linear warm-up then
multistep decay (``optim.schedule: step``, the reference) or cosine decay to ``min_lr``
(``cosine``), stepped once per optimizer step (so a resumed run continues mid-epoch exactly).
"""
from __future__ import annotations

import bisect
import math

import torch

from .config import OptimConfig
from .milestones import milestone_steps


def build_optimizer(params, cfg: OptimConfig) -> torch.optim.Optimizer:
    params = [p for p in params if p.requires_grad]
    if cfg.name == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov,
                               weight_decay=cfg.weight_decay)
    if cfg.name == "adamw":
        return torch.optim.AdamW(params, lr=cfg.lr, betas=tuple(cfg.betas), weight_decay=cfg.weight_decay)
    raise ValueError(f"optim.name: {cfg.name!r} is not valid; choose one of ['sgd', 'adamw']")


def lr_factor(step: int, steps_per_epoch: int, cfg: OptimConfig) -> float:
    """Multiplier of the base lr before optimizer step ``step`` (0-based)."""
    warmup_steps = int(round(cfg.warmup_epochs * steps_per_epoch))
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    if cfg.schedule == "cosine":
        total = max(cfg.epochs * steps_per_epoch - warmup_steps, 1)
        progress = min((step - warmup_steps) / max(total - 1, 1), 1.0)
        floor = cfg.min_lr / cfg.lr
        return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))
    drops = milestone_steps(cfg.milestones, cfg.epochs, steps_per_epoch)
    return cfg.gamma ** bisect.bisect_right(drops, step)


def build_scheduler(optimizer: torch.optim.Optimizer, cfg: OptimConfig, steps_per_epoch: int):
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_factor(step, steps_per_epoch, cfg))
