"""Two tiny trained runs (teacher on HQ, baseline on LQ) for the evaluation commands."""
from __future__ import annotations

import pytest


def _config(root, out, mode):
    return {"name": f"tiny_{mode}", "mode": mode, "seed": 0, "output_dir": str(out),
            "data": {"root": str(root), "batch_size": 8, "eval_batch_size": 32},
            "model": {"name": "shift_gcn", "args": {"channels": [8, 16], "strides": [1, 2]}},
            "optim": {"lr": 0.05, "epochs": 1, "milestones": []},
            "log": {"progress": False, "tensorboard": "off", "every_steps": 0}}


@pytest.fixture(scope="session")
def tiny_runs(tmp_path_factory):
    """{'data': prepared root, 'teacher': run dir, 'baseline': run dir}."""
    import torch

    from skdcore.data import prepare_dataset
    from skdcore.train import config_from_dict, train

    base = tmp_path_factory.mktemp("evaluation")
    root = base / "data"
    prepare_dataset(root, "synthetic", {"num_samples": 64, "clip_frames": 16, "num_classes": 4, "seed": 0},
                    num_frames=None, val_fraction=0.2, progress=False)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        runs = {"data": root}
        for mode in ("teacher", "baseline"):
            train(config_from_dict(_config(root, base / mode, mode)))
            runs[mode] = base / mode
    finally:
        torch.set_num_threads(threads)
    return runs

