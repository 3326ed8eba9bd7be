"""The fake (meta) kernels refuse bad inputs the way the C++ kernels do: the same exception type and the
``skdcore.<op>:`` prefix their messages and docstrings promise (torch.compile traces through them)."""
import pytest
import torch

import skdcore


def gradient_revision(device, **_):
    task = [torch.randn(5, device=device)]
    return torch.ops.skdcore.gradient_revision(task, [torch.randn(5, device=device)] * 2, 1)


def tensors(device, *shapes, dtype=torch.float32):
    return [torch.randn(*shape, device=device, dtype=dtype) for shape in shapes]


CASES = {  # op name in the message -> a call with one bad input on ``device``
    "graph_conv": lambda d: skdcore.graph_conv(*tensors(d, (2, 4, 25), (3, 6, 4), (3, 25, 25))),
    "temporal_shift": lambda d: skdcore.temporal_shift(*tensors(d, (2, 4, 6), (4,))),
    "graph_matching_loss": lambda d: skdcore.graph_matching_loss(*tensors(d, (2, 4), (2, 4))),
    "normalize_adjacency": lambda d: skdcore.normalize_adjacency(*tensors(d, (3, 4, 5))),
    "gradient_revision": gradient_revision,
}


@pytest.mark.parametrize("op", CASES)
def test_fake_kernel_error_matches_the_cpu_kernel(op):
    with pytest.raises(Exception) as cpu:
        CASES[op]("cpu")
    with pytest.raises(Exception) as meta:
        CASES[op]("meta")
    assert str(cpu.value).startswith(f"skdcore.{op}"), cpu.value
    assert type(meta.value) is type(cpu.value) and str(meta.value).startswith(f"skdcore.{op}: "), meta.value


def test_fake_kernel_dtype_error_is_a_type_error():
    student, teacher = torch.randn(2, 4, 6, 3, device="meta"), torch.randn(2, 4, 6, 3, device="meta")
    with pytest.raises(TypeError, match=r"^skdcore\.graph_matching_loss: teacher and student must have"):
        skdcore.graph_matching_loss(student, teacher.double())
