"""Tiny prepared synthetic dataset and tiny configs shared by the training tests."""
from __future__ import annotations

import pytest
from tiny_setup import tiny_config


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory):
    from skdcore.data import prepare_dataset

    root = tmp_path_factory.mktemp("data") / "tiny"
    prepare_dataset(root, "synthetic", {"num_samples": 96, "clip_frames": 16, "num_classes": 4, "seed": 0},
                    num_frames=None, val_fraction=0.2, progress=False)
    return root


@pytest.fixture(scope="session")
def tiny_teacher(tiny_data, tmp_path_factory):
    """A trained (2 epochs) tiny teacher checkpoint."""
    from skdcore.train import config_from_dict, train

    out = tmp_path_factory.mktemp("teacher")
    train(config_from_dict(tiny_config(tiny_data, out, "teacher")))
    return out / "best.pt"


@pytest.fixture(autouse=True)
def _train_tests_use_one_thread(one_torch_thread):
    yield
