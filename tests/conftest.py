"""Shared test fixtures: the devices to run on (CPU always, CUDA when present), one torch thread."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.fixture(params=DEVICES)
def device(request):
    return torch.device(request.param)


@pytest.fixture
def one_torch_thread():
    """Tiny models: one thread is faster, and far faster on a busy machine (OpenMP spin-waits)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip_cuda = pytest.mark.skip(reason="needs a CUDA GPU (none found)")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip_cuda)


@pytest.fixture(scope="session")
def repaired_wheel(tmp_path_factory):
    """`make wheel` (pip wheel against this torch + auditwheel repair) into a temporary folder, once per
    session (tests/test_wheel.py and tests/test_wheel_alone.py use it)."""
    if shutil.which("make") is None:
        pytest.skip("make not found")
    out = tmp_path_factory.mktemp("wheelhouse")
    python = Path(sys.executable)
    subprocess.run(
        ["make", "-s", "wheel", f"PY={python}", f"VENV={python.parents[1]}", f"WHEEL_DIR={out}"],
        cwd=Path(__file__).resolve().parents[1],
        check=True,
        capture_output=True,
        text=True,
    )
    (wheel,) = out.glob("skdcore-*.whl")
    return wheel
