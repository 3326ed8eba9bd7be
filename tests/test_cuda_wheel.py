"""A CUDA build of skdcore (`make check-wheel-cuda` runs this on a machine with or without a GPU): every
op has a CUDA kernel, `skd info` names the architectures compiled in, and a CUDA request on a machine
without a GPU fails with a message that says so and what to do."""
import re
import subprocess
import sys

import pytest
import torch

import skdcore
from skdcore.devices import DeviceError, resolve_device

pytestmark = pytest.mark.skipif(not skdcore.build_info()["cuda"], reason="a CPU build of skdcore")
NO_GPU = pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
OPS = ["graph_conv", "graph_matching_loss", "gradient_revision", "normalize_adjacency", "temporal_shift"]


def test_skd_info_lists_the_compiled_architectures():
    out = subprocess.run([sys.executable, "-m", "skdcore.cli", "info"], capture_output=True, text=True,
                         check=True).stdout
    listed = re.search(r"cuda_archs: (\S+)", out).group(1).split(",")
    assert listed and all(re.fullmatch(r"sm_\d+[af]?|compute_\d+[af]?", arch) for arch in listed), out
    # PTX of the newest arch only, so later GPUs can JIT-compile it
    assert [arch for arch in listed if arch.startswith("compute_")] == [f"compute_{listed[-2][3:]}"], out


def test_every_op_with_a_cpu_kernel_has_a_cuda_kernel():
    names = {schema.name for schema in torch._C._jit_get_all_schemas() if schema.name.startswith("skdcore::")}
    per_device = [name for name in names if torch._C._dispatch_has_kernel_for_dispatch_key(name, "CPU")]
    # every op family has device kernels (the rest are composites of them)
    assert all(any(op in name for name in per_device) for op in OPS), per_device
    assert [name for name in per_device
            if not torch._C._dispatch_has_kernel_for_dispatch_key(name, "CUDA")] == []


@NO_GPU
def test_a_cuda_device_without_a_gpu_is_a_clear_error():
    with pytest.raises(DeviceError, match=r"'cuda' but this machine has no CUDA device.*set device: cpu"):
        resolve_device("cuda")


@NO_GPU
def test_a_cuda_op_call_without_a_gpu_raises_instead_of_crashing():
    x = torch.randn(2, 3, 4, 5)
    with pytest.raises(RuntimeError, match=r"(?i)no nvidia driver|no cuda gpus are available"):
        skdcore.temporal_shift(x.to("cuda"), torch.zeros(3, device="cuda"))
