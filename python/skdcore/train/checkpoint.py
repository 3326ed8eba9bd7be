"""Checkpoints: atomic writes, full training state (model, optimizer, scheduler, RNG), clear
errors when a checkpoint belongs to a different model.
"""
from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Optional, Union

import numpy as np
import torch

from ..data.manifest import atomic_write_text  # noqa: F401  (re-exported: one atomic writer)

FORMAT = "skdcore-checkpoint-1"


class CheckpointError(ValueError):
    """The checkpoint cannot be used with this model / run; the message says why and what to do."""


def atomic_torch_save(obj, path: Union[str, Path]) -> None:
    """torch.save to a temp file in the same directory, fsync, then os.replace: never a torn file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "wb") as f:
        torch.save(obj, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def rng_state() -> dict:
    state = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    return model.module if hasattr(model, "module") else model


def model_signature(model: torch.nn.Module) -> dict:
    """{state_dict key: shape}: what must match for a checkpoint to load."""
    return {k: tuple(v.shape) for k, v in unwrap(model).state_dict().items()}


def save_checkpoint(path, *, model, model_name: str, model_args: dict, optimizer=None, scheduler=None,
                    epoch: int = 0, step: int = 0, step_in_epoch: int = 0, best: Optional[dict] = None,
                    config: Optional[dict] = None, extra: Optional[dict] = None) -> None:
    atomic_torch_save({
        "format": FORMAT, "model_name": model_name, "model_args": model_args,
        "model": unwrap(model).state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "epoch": epoch, "step": step, "step_in_epoch": step_in_epoch, "best": best or {},
        "rng": rng_state(), "config": config, "extra": extra or {},
    }, path)


def load_checkpoint(path: Union[str, Path], map_location="cpu") -> dict:
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint {path} not found")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as error:  # a torn / foreign file: say which
        raise CheckpointError(f"{path} is not a readable checkpoint ({type(error).__name__}: {error})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not an skdcore training checkpoint (no '{FORMAT}' marker); a bare "
                              "state_dict can be loaded with model.load_state_dict(torch.load(path))")
    return ckpt


def load_model_state(model: torch.nn.Module, ckpt: dict, path: Union[str, Path], model_name: Optional[str] = None,
                     ignore: tuple = ()) -> None:
    """Strictly load ``ckpt['model']`` into ``model``; a different model raises CheckpointError naming keys.

    ``ignore``: key prefixes allowed to be absent from the checkpoint (e.g. the student's 'adaption.').
    """
    if model_name is not None and ckpt.get("model_name") != model_name:
        raise CheckpointError(f"{path} holds a {ckpt.get('model_name')!r} model but this run builds {model_name!r}; "
                              "use a checkpoint of the same model (model.name) or change the config")
    expected, found = model_signature(model), {k: tuple(v.shape) for k, v in ckpt["model"].items()}
    missing = [k for k in expected if k not in found and not k.startswith(ignore)]
    unexpected = [k for k in found if k not in expected]
    mismatched = [f"{k}: checkpoint {found[k]} vs model {expected[k]}" for k in expected
                  if k in found and found[k] != expected[k]]
    if missing or unexpected or mismatched:
        parts = []
        for title, items in (("missing", missing), ("unexpected", unexpected), ("shape mismatch", mismatched)):
            if items:
                parts.append(f"{len(items)} {title} (e.g. {items[:3]})")
        raise CheckpointError(f"{path} does not fit this model ({ckpt.get('model_name')} args "
                              f"{ckpt.get('model_args')}): " + "; ".join(parts)
                              + "; the checkpoint was saved from a different architecture: use the model settings "
                              "it was trained with (model.args) or another checkpoint")
    unwrap(model).load_state_dict(ckpt["model"], strict=not ignore)
