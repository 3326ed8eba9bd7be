"""Tiny prepared synthetic dataset and tiny configs shared by the training tests."""
from __future__ import annotations

import pytest

TINY_MODEL = {"name": "shift_gcn", "args": {"channels": [8, 16], "strides": [1, 2]}}


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory):
    from skdcore.data import prepare_dataset

    root = tmp_path_factory.mktemp("data") / "tiny"
    prepare_dataset(root, "synthetic", {"num_samples": 96, "clip_frames": 16, "num_classes": 4, "seed": 0},
                    num_frames=None, progress=False)
    return root


def tiny_config(root, out, mode="teacher", **overrides) -> dict:
    cfg = {
        "name": f"tiny_{mode}", "mode": mode, "ops": "fused", "seed": 0, "output_dir": str(out),
        "data": {"root": str(root), "batch_size": 8, "eval_batch_size": 32},
        "model": TINY_MODEL,
        "optim": {"lr": 0.05, "epochs": 2, "milestones": [1], "warmup_epochs": 0.5},
        "log": {"progress": False, "tensorboard": "off"},
    }
    for key, value in overrides.items():
        section, _, field = key.partition("__")
        if field:
            cfg.setdefault(section, {})[field] = value
        else:
            cfg[key] = value
    return cfg


@pytest.fixture(scope="session")
def tiny_teacher(tiny_data, tmp_path_factory):
    """A trained (2 epochs) tiny teacher checkpoint."""
    from skdcore.train import config_from_dict, train

    out = tmp_path_factory.mktemp("teacher")
    train(config_from_dict(tiny_config(tiny_data, out, "teacher")))
    return out / "best.pt"
