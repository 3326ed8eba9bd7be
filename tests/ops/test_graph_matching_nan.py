"""NaN policy of graph_matching_loss, the reference's: a NaN or Inf in the student or teacher features
makes that sample's loss NaN and its gradient NaN (never a finite loss hiding a NaN gradient, which
would defeat the trainer's non-finite check); the other samples stay finite. Fused and matrix-product
paths, CPU and CUDA (the CUDA kernels also in tests/cuda_emulation)."""

import pytest
import torch

import skdcore
from skdcore.reference.graph_matching import graph_matching_loss_reference

OPTIONS = ("euclidean", "smooth_l1", 1.0, "mean_positive", "none")
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def _features(device, dtype, bad, where):
    torch.manual_seed(0)
    student = torch.randn(2, 6, 4, 5, dtype=dtype, device=device)  # N=2, C=6, T=4, V=5: P=20
    teacher = torch.randn(2, 6, 4, 5, dtype=dtype, device=device)
    (student if where == "student" else teacher)[0, 2, 1, 3] = bad
    return student.requires_grad_(), teacher


def _fused(student, teacher):
    loss = skdcore.graph_matching_loss(student, teacher, reduction="none")
    (grad,) = torch.autograd.grad(loss.sum(), student)
    return loss, grad


def _gemm(student, teacher):
    out, stats = torch.ops.skdcore._graph_matching_gemm_forward(student, teacher, *OPTIONS, 1)
    grad = torch.ops.skdcore._graph_matching_gemm_backward(
        torch.ones_like(out), student, teacher, stats, *OPTIONS, 1
    )
    return out, grad


def _reference(student, teacher):
    loss = graph_matching_loss_reference(student, teacher, reduction="none")
    (grad,) = torch.autograd.grad(loss.sum(), student)
    return loss, grad


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
@pytest.mark.parametrize("where", ["student", "teacher"])
@pytest.mark.parametrize("path", [_fused, _gemm, _reference], ids=["fused", "gemm", "reference"])
def test_non_finite_features_give_nan_loss_and_gradient(device, dtype, bad, where, path):
    student, teacher = _features(device, dtype, bad, where)
    loss, grad = path(student, teacher)
    assert torch.isnan(loss[0]), loss
    assert torch.isnan(grad[0]).any()
    assert torch.isfinite(loss[1]) and torch.isfinite(grad[1]).all()  # samples stay independent


@pytest.mark.parametrize("device", DEVICES)
def test_mean_reduction_is_nan_too(device):
    student, teacher = _features(device, torch.float32, float("nan"), "student")
    loss = skdcore.graph_matching_loss(student, teacher)
    loss.backward()
    assert torch.isnan(loss) and torch.isnan(student.grad).any()
