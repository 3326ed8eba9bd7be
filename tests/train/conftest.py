"""Tiny prepared synthetic dataset and tiny configs shared by the training tests."""
from __future__ import annotations

import pytest

from tiny_setup import tiny_config


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory):
    from skdcore.data import prepare_dataset

    root = tmp_path_factory.mktemp("data") / "tiny"
    prepare_dataset(root, "synthetic", {"num_samples": 96, "clip_frames": 16, "num_classes": 4, "seed": 0},
                    num_frames=None, progress=False)
    return root


@pytest.fixture(scope="session")
def tiny_teacher(tiny_data, tmp_path_factory):
    """A trained (2 epochs) tiny teacher checkpoint."""
    from skdcore.train import config_from_dict, train

    out = tmp_path_factory.mktemp("teacher")
    train(config_from_dict(tiny_config(tiny_data, out, "teacher")))
    return out / "best.pt"


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny models: one thread is faster, and far faster on a busy machine (OpenMP spin-waits)."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
