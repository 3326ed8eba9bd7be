"""What ``--resume`` checks before it continues a run from ``last.pt``.

A resumed run must compute what the interrupted one would have: the same config (batch size, epochs,
schedule, amp, seed, ...), an epoch and step inside that config's schedule, and an optimizer state of
the optimizer the config builds. A changed config is refused, naming every change, unless the caller
allows it (``--allow-config-change``, then the changes are logged); a crafted or stale checkpoint (an
epoch of 10**12, an SGD state given to AdamW, a wrong type anywhere) is a CheckpointError naming the
file, never a traceback from deep inside torch.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Optional, Union

import torch

from ..checkpoints.checkpoint import CheckpointError

# Settings that do not change what a run computes: where it writes, how it logs, where the data and
# teacher are now, which kernels compute the same math, and how far this invocation goes.
FREE_TO_CHANGE = ("name", "output_dir", "device", "max_steps", "log", "teacher_checkpoint", "data.root",
                  "ops", "train.compile", "deterministic")
MAX_LISTED = 8


def _flatten(value, prefix: str = "", depth: int = 0) -> dict:
    if isinstance(value, dict) and depth < 16:
        out = {}
        for key, item in value.items():
            out.update(_flatten(item, f"{prefix}{key}.", depth + 1))
        return out
    if isinstance(value, tuple):
        value = list(value)
    return {prefix[:-1]: value}


def _free(key: str) -> bool:
    return any(key == free or key.startswith(free + ".") for free in FREE_TO_CHANGE)


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def config_changes(recorded, current: dict, defaults: Optional[dict] = None) -> list:
    """['optim.epochs: 30 -> 40', ...]: the settings that differ (those in FREE_TO_CHANGE aside). A key the
    recorded config lacks (a setting added since, e.g. data.augment) is no change where ``current`` has its
    value in ``defaults`` (the default, which keeps what the older run computed)."""
    old, new = _flatten(recorded), _flatten(current)
    default = _flatten(defaults or {})
    changes = []
    for key in sorted(set(old) | set(new)):
        if _free(key) or old.get(key, "<unset>") == new.get(key, "<unset>"):
            continue
        if key not in old and key in default and new.get(key) == default[key]:
            continue
        changes.append(f"{key}: {_short(old.get(key, '<unset>'))} -> {_short(new.get(key, '<unset>'))}")
    return changes


def check_resume_config(ckpt: dict, path: Union[str, Path], current: dict, allow_change: bool,
                        defaults: Optional[dict] = None) -> list:
    """The config changes since the checkpoint was written; CheckpointError when there are any and
    ``allow_change`` is False, or when the checkpoint records no config to compare with. ``defaults``: the
    schema's default config (keys added since the checkpoint, at their defaults, are no change)."""
    recorded = ckpt.get("config")
    if not isinstance(recorded, dict):
        if allow_change:
            return ["(the checkpoint records no config)"]
        raise CheckpointError(f"{path} records no run config, so --resume cannot check it continues the same "
                              "run; pass --allow-config-change to resume anyway")
    changes = config_changes(recorded, current, defaults)
    if changes and not allow_change:
        listed = "; ".join(changes[:MAX_LISTED]) + (f"; and {len(changes) - MAX_LISTED} more"
                                                     if len(changes) > MAX_LISTED else "")
        raise CheckpointError(
            f"--resume: the config differs from the one {path} was trained with ({listed}); a resumed run "
            "would no longer be the run it continues. Restore those settings, start a new run (--force or "
            "another --output-dir), or pass --allow-config-change to resume with the new ones"
        )
    return changes


def check_progress(state: dict, path, epochs: int, steps_per_epoch: int) -> None:
    """epoch, step and step_in_epoch inside the schedule the config describes."""
    epoch, step, in_epoch = state["epoch"], state["step"], state["step_in_epoch"]
    if not 0 <= epoch <= epochs:
        raise CheckpointError(f"{path}: epoch {str(epoch)[:24]} is outside this run's 0..{epochs} epochs "
                              "(optim.epochs); the checkpoint is damaged, crafted or from another config")
    if not 0 <= in_epoch <= steps_per_epoch:
        raise CheckpointError(f"{path}: step_in_epoch {str(in_epoch)[:24]} is outside 0..{steps_per_epoch} "
                              "(the steps of one epoch with this data and batch size)")
    if not 0 <= step <= (epochs + 1) * steps_per_epoch:
        raise CheckpointError(f"{path}: step {str(step)[:24]} is beyond {epochs} epochs of {steps_per_epoch} "
                              "steps; the checkpoint is damaged, crafted or from another config")


def check_optimizer_state(saved, optimizer: torch.optim.Optimizer, path) -> None:
    """``saved`` is a state of ``optimizer``'s kind for these parameters: the same groups with the same
    settings' names, the same parameter count, per-parameter tensors of the parameters' shapes."""
    fresh = optimizer.state_dict()
    kind = type(optimizer).__name__
    groups = saved.get("param_groups") if isinstance(saved, dict) else None
    state = saved.get("state") if isinstance(saved, dict) else None
    if not isinstance(groups, list) or not isinstance(state, dict):
        raise CheckpointError(f"{path}: field 'optimizer' is not an optimizer state (param_groups, state)")
    if len(groups) != len(fresh["param_groups"]) or not all(isinstance(g, dict) for g in groups):
        raise CheckpointError(f"{path}: its optimizer has {len(groups)} parameter groups, this run's {kind} "
                              f"has {len(fresh['param_groups'])}; the checkpoint is from another config")
    params = [p for group in optimizer.param_groups for p in group["params"]]
    for old, new in zip(groups, fresh["param_groups"]):
        if set(old) != set(new):
            raise CheckpointError(
                f"{path}: its optimizer state is not one of {kind} (settings {sorted(old)[:6]}, expected "
                f"{sorted(new)[:6]}): it was trained with another optim.name; resume with that optimizer")
        if not isinstance(old["params"], list) or len(old["params"]) != len(new["params"]):
            raise CheckpointError(f"{path}: its optimizer covers another number of parameters than this "
                                  "model")
    by_id = dict(zip((i for g in fresh["param_groups"] for i in g["params"]), params))
    for key, entry in state.items():
        if key not in by_id or not isinstance(entry, dict):
            raise CheckpointError(f"{path}: its optimizer state names parameter {str(key)[:20]}, which this "
                                  "model does not have")
        for name, value in entry.items():
            if torch.is_tensor(value) and value.dim() > 0 and value.shape != by_id[key].shape:
                raise CheckpointError(f"{path}: optimizer state {name!r} of parameter {key} has shape "
                                      f"{tuple(value.shape)}, the parameter {tuple(by_id[key].shape)}")
            if not torch.is_tensor(value) and not isinstance(value, (int, float, bool)):
                raise CheckpointError(f"{path}: optimizer state {name!r} of parameter {key} is a "
                                      f"{type(value).__name__}, expected a tensor or number")
    needed = {"step", "exp_avg", "exp_avg_sq"} if kind in ("Adam", "AdamW") else set()
    for key, entry in state.items():
        missing = needed - set(entry)
        if missing:
            raise CheckpointError(f"{path}: the {kind} state of parameter {key} lacks {sorted(missing)}: it "
                                  "was saved by another optimizer (optim.name); resume with that optimizer")


def _kind(value) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return "list" if isinstance(value, (list, tuple)) else type(value).__name__


def check_scheduler_state(saved, scheduler, path) -> None:
    """``saved`` has the fields of this run's lr schedule, each of the same kind (a number, a list, ...):
    torch's schedulers copy a state in without looking at it."""
    fresh = scheduler.state_dict()
    if not isinstance(saved, dict) or set(saved) != set(fresh):
        found = sorted(saved)[:6] if isinstance(saved, dict) else type(saved).__name__
        raise CheckpointError(f"{path}: its lr schedule state ({found}) is not one of this run's schedule "
                              f"({sorted(fresh)[:6]}); the checkpoint is damaged or from another config")
    for key, value in fresh.items():
        if value is not None and _kind(saved[key]) != _kind(value):
            raise CheckpointError(f"{path}: lr schedule field {key!r} is a {_kind(saved[key])}, expected a "
                                  f"{_kind(value)}; the checkpoint is damaged")
        if _kind(value) == "number" and not math.isfinite(saved[key]):
            raise CheckpointError(f"{path}: lr schedule field {key!r} is {saved[key]}; the checkpoint is "
                                  "damaged")


def restore(what: str, path, action) -> None:
    """Run ``action()`` (a load_state_dict); anything torch raises on a bad state is a CheckpointError."""
    try:
        action()
    except (KeyError, ValueError, TypeError, IndexError, RuntimeError, AttributeError,
            OverflowError) as error:
        raise CheckpointError(f"{path}: cannot restore the {what} from it ({type(error).__name__}: "
                              f"{str(error)[:200]}); the checkpoint is damaged or from another "
                              "config") from None
