"""skdcore.normalize_adjacency vs its pure-PyTorch reference, gradients, dispatcher checks."""
import numpy as np
import pytest
import torch

import skdcore
from skdcore.graph import normalize_in_degree_numpy, partitions
from skdcore.layouts import BUILTIN_LAYOUTS
from skdcore.reference.normalize_adjacency import normalize_adjacency_reference

MODES = ["in_degree", "symmetric"]
TOLERANCE = {torch.float32: dict(rtol=1e-5, atol=1e-6), torch.float64: dict(rtol=1e-12, atol=1e-12)}


def random_adjacency(K, V, dtype, device, zero_degrees=True):
    A = torch.rand(K, V, V, dtype=dtype, device=device)
    A[A < 0.5] = 0
    if zero_degrees and V > 3:
        A[0, :, 1] = 0  # a joint that receives nothing (in-degree 0)
        A[-1, 2, :] = 0  # a joint that sends nothing (row degree 0)
    return A


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("K,V", [(1, 2), (3, 25), (3, 18), (3, 17), (3, 13), (2, 40)])
def test_matches_reference(device, mode, dtype, K, V):
    A = random_adjacency(K, V, dtype, device)
    out = skdcore.normalize_adjacency(A, mode)
    torch.testing.assert_close(out, normalize_adjacency_reference(A, mode), **TOLERANCE[dtype])
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", sorted(BUILTIN_LAYOUTS))
def test_in_degree_matches_numpy_graph_module(name):
    A = partitions(name)
    out = skdcore.normalize_adjacency(torch.from_numpy(A)).numpy()
    np.testing.assert_allclose(out, normalize_in_degree_numpy(A), rtol=1e-6)
    # every joint with an incoming edge receives a convex combination
    received = out.sum(axis=1)
    np.testing.assert_allclose(received[A.sum(axis=1) > 0], 1.0, rtol=1e-6)


def test_symmetric_of_symmetric_graph_is_symmetric():
    A = torch.rand(3, 9, 9, dtype=torch.float64)
    A = A + A.transpose(1, 2)
    out = skdcore.normalize_adjacency(A, "symmetric")
    torch.testing.assert_close(out, out.transpose(1, 2))


@pytest.mark.parametrize("mode", MODES)
def test_non_contiguous_input(mode):
    base = torch.rand(7, 7, 3, dtype=torch.float64)
    A = base.permute(2, 0, 1)  # (3, 7, 7) view, not contiguous
    assert not A.is_contiguous()
    torch.testing.assert_close(skdcore.normalize_adjacency(A, mode), normalize_adjacency_reference(A, mode))


@pytest.mark.parametrize("shape", [(0, 5, 5), (3, 0, 0)])
def test_empty(shape):
    out = skdcore.normalize_adjacency(torch.empty(shape))
    assert out.shape == shape


def test_nan_propagates():
    A = torch.rand(1, 4, 4)
    A[0, 1, 2] = float("nan")
    out = skdcore.normalize_adjacency(A)
    assert torch.isnan(out[0, :, 2]).all()  # the whole column shares the NaN degree
    assert torch.isfinite(out[0, :, 0]).all()


@pytest.mark.parametrize("dtype,tiny", [(torch.float64, 1e-320), (torch.float32, 1e-40)])
def test_denormal_degrees_give_finite_ratios(device, dtype, tiny):
    # Three equal denormal entries in a column: 1/deg overflows to inf, the ratio is exactly 1/3
    # (issue #23 item 6: the kernels multiplied by 1/deg). Symmetric: entries of joints whose row
    # sums are denormal; A[v, 0] / sqrt(d_v d_0) with d_v = d_0 = tiny is 1.
    A = torch.zeros(1, 3, 3, dtype=dtype, device=device)
    A[0, :, 0] = tiny
    assert A[0, 0, 0].item() != 0  # really denormal, not flushed to zero
    out = skdcore.normalize_adjacency(A, "in_degree")
    torch.testing.assert_close(out[0, :, 0], torch.full((3,), 1 / 3, dtype=dtype, device=device))
    torch.testing.assert_close(out, normalize_adjacency_reference(A, "in_degree"))
    out = skdcore.normalize_adjacency(A, "symmetric")
    torch.testing.assert_close(out[0, :, 0], torch.ones(3, dtype=dtype, device=device))
    torch.testing.assert_close(out, normalize_adjacency_reference(A, "symmetric"))


def test_symmetric_nan_degree_wins_over_zero_degree():
    # Row 2 sends nothing (degree 0), row 3 has a NaN: the entry between them is NaN, not 0.
    A = torch.rand(1, 5, 5, dtype=torch.float64)
    A[0, 2, :] = 0
    A[0, 3, 3] = float("nan")
    out = skdcore.normalize_adjacency(A, "symmetric")
    assert torch.isnan(out[0, 2, 3]) and torch.isnan(out[0, 3, 2])
    torch.testing.assert_close(out, normalize_adjacency_reference(A, "symmetric"), equal_nan=True)


@pytest.mark.parametrize("mode", MODES)
def test_gradcheck(device, mode):
    # Degrees must stay away from 0: the scale jumps there (deg -> 0+ gives 1/deg), so finite
    # differences are meaningless at zero degree; that case is tested separately below.
    A = (torch.rand(3, 6, 6, dtype=torch.float64, device=device) + 0.1).requires_grad_()
    assert torch.autograd.gradcheck(lambda a: skdcore.normalize_adjacency(a, mode), (A,))


@pytest.mark.parametrize("mode", MODES)
def test_gradient_matches_reference_with_zero_degrees(mode):
    A = random_adjacency(3, 8, torch.float64, "cpu").requires_grad_()
    A_ref = A.detach().clone().requires_grad_()
    g = torch.randn(3, 8, 8, dtype=torch.float64)
    skdcore.normalize_adjacency(A, mode).backward(g)
    normalize_adjacency_reference(A_ref, mode).backward(g)
    torch.testing.assert_close(A.grad, A_ref.grad)


def test_double_backward_is_rejected():
    A = (torch.rand(2, 4, 4, dtype=torch.float64) + 0.1).requires_grad_()
    (grad,) = torch.autograd.grad(skdcore.normalize_adjacency(A).sum(), A, create_graph=True)
    with pytest.raises(NotImplementedError, match="double backward"):
        grad.sum().backward()


@pytest.mark.parametrize("mode", MODES)
def test_opcheck(mode):
    A = (torch.rand(3, 5, 5, dtype=torch.float64) + 0.1).requires_grad_()
    torch.library.opcheck(torch.ops.skdcore.normalize_adjacency.default, (A, mode))
    grad = torch.rand(3, 5, 5, dtype=torch.float64)
    torch.library.opcheck(torch.ops.skdcore._normalize_adjacency_backward.default, (grad, A.detach(), mode))


def test_torch_compile_fullgraph():
    def f(a):
        return skdcore.normalize_adjacency(a, "symmetric") * 2 + 1

    A = torch.rand(3, 25, 25)
    compiled = torch.compile(f, fullgraph=True, backend="inductor")
    torch.testing.assert_close(compiled(A), normalize_adjacency_reference(A, "symmetric") * 2 + 1)


@pytest.mark.parametrize(
    "A,mode,error,match",
    [
        (torch.rand(4, 4), "in_degree", ValueError, r"A must have shape \(K, V, V\)"),
        (torch.rand(2, 4, 5), "in_degree", ValueError, "must be square"),
        (torch.ones(2, 4, 4, dtype=torch.int64), "in_degree", TypeError, "float32 or float64"),
        (torch.rand(2, 4, 4), "row", ValueError, "mode must be 'in_degree' or 'symmetric'"),
    ],
)
def test_bad_input(A, mode, error, match):
    with pytest.raises(error, match=match):
        skdcore.normalize_adjacency(A, mode)


@pytest.mark.cuda
def test_cuda_matches_cpu():
    A = random_adjacency(3, 25, torch.float32, "cpu")
    for mode in MODES:
        torch.testing.assert_close(
            skdcore.normalize_adjacency(A.cuda(), mode).cpu(), skdcore.normalize_adjacency(A, mode)
        )
