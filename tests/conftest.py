"""Shared test fixtures: the devices to run on (CPU always, CUDA when present)."""
import pytest
import torch

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.fixture(params=DEVICES)
def device(request):
    return torch.device(request.param)


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip_cuda = pytest.mark.skip(reason="needs a CUDA GPU (none found)")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip_cuda)
