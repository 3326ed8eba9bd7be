"""tiny_config(): the smallest useful experiment config for the training tests."""
from __future__ import annotations

TINY_MODEL = {"name": "shift_gcn", "args": {"channels": [8, 16], "strides": [1, 2]}}


def tiny_config(root, out, mode="teacher", **overrides) -> dict:
    cfg = {
        "name": f"tiny_{mode}", "mode": mode, "ops": "fused", "seed": 0, "output_dir": str(out),
        "data": {"root": str(root), "batch_size": 8, "eval_batch_size": 32},
        "model": TINY_MODEL,
        "optim": {"lr": 0.05, "epochs": 2, "milestones": [0.5], "warmup_epochs": 0.5},
        "log": {"progress": False, "tensorboard": "off"},
    }
    for key, value in overrides.items():
        section, _, field = key.partition("__")
        if field:
            cfg.setdefault(section, {})[field] = value
        else:
            cfg[key] = value
    return cfg
