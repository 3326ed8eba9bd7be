"""skdcore.graph_matching_loss vs the pure-PyTorch reference: values, gradients, conventions, errors."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import warnings

import pytest
import torch

import skdcore
from skdcore.nn import GraphMatchingLoss
from skdcore.ops import graph_matching_loss
from skdcore.ops.paths import op_paths, set_op_path
from skdcore.reference.graph_matching import graph_matching_loss_reference

# graph_matching_cuda (skdcore.ops.paths): cuBLAS Gram chunks (default) or the fused kernels
CUDA_PATHS = ["gemm", "fused"]
TOLERANCE = {torch.float64: {"rtol": 1e-9, "atol": 1e-12}, torch.float32: {"rtol": 2e-4, "atol": 1e-6}}
OPTION_GRID = [
    {"distance": d, "loss": loss, "normalize": n, "reduction": r}
    for d, loss, n, r in itertools.product(
        ("euclidean", "squared_euclidean"),
        ("smooth_l1", "l2"),
        ("mean_positive", "none"),
        ("mean", "sum", "none"),
    )
]


def features(shape, dtype=torch.float64, seed=0, scale=1.0):
    generator = torch.Generator().manual_seed(seed)
    return (scale * torch.randn(shape, generator=generator, dtype=torch.float64)).to(dtype)


def value_and_grad(fn, student, teacher, **options):
    student = student.detach().clone().requires_grad_(True)
    out = fn(student, teacher, **options)
    (grad,) = torch.autograd.grad(out.sum(), student)
    return out.detach(), grad


def assert_matches_reference(student, teacher, **options):
    ours, our_grad = value_and_grad(graph_matching_loss, student, teacher, **options)
    ref, ref_grad = value_and_grad(graph_matching_loss_reference, student, teacher, **options)
    tol = TOLERANCE[student.dtype]
    torch.testing.assert_close(ours, ref, **tol)
    # Gradients are ~1/P^2 small: compare relative to their own scale.
    torch.testing.assert_close(
        our_grad, ref_grad, rtol=tol["rtol"] * 10, atol=tol["rtol"] * ref_grad.abs().max().item()
    )
    return ours, our_grad


@pytest.mark.parametrize("options", OPTION_GRID, ids=lambda o: "-".join(o.values()))
def test_all_options_match_reference_float64(options):
    # P = 20 nodes; values and gradients for every option combination.
    assert_matches_reference(features((3, 6, 4, 5)), features((3, 6, 4, 5), seed=1, scale=2.0), **options)


@pytest.mark.parametrize("beta", [0.0, 0.05, 3.0])
def test_beta_matches_reference(beta):
    assert_matches_reference(features((2, 5, 3, 4)), features((2, 5, 3, 4), seed=1), beta=beta)


@pytest.mark.parametrize("batch", [1, 5])  # 1 < threads: tile rows in parallel; 5: samples in parallel
def test_float32_several_tiles_match_reference(batch):
    # P = 300 > the 128-node CPU tile: off-diagonal, diagonal and ragged tiles.
    student = features((batch, 32, 20, 15), torch.float32)
    teacher = features((batch, 32, 20, 15), torch.float32, seed=1)
    assert_matches_reference(student, teacher)
    assert_matches_reference(student, teacher, distance="squared_euclidean", loss="l2", reduction="none")


def test_node_set_layout_and_non_contiguous_input_match_feature_map():
    student, teacher = features((2, 7, 4, 6)), features((2, 7, 4, 6), seed=1)
    def as_nodes(x):  # (N, P, C), non-contiguous view
        return x.flatten(2).transpose(1, 2)

    expected, expected_grad = value_and_grad(graph_matching_loss, student, teacher)
    ours, grad_nodes = value_and_grad(graph_matching_loss, as_nodes(student), as_nodes(teacher))
    torch.testing.assert_close(ours, expected, rtol=1e-12, atol=0)
    torch.testing.assert_close(grad_nodes, as_nodes(expected_grad), rtol=1e-10, atol=1e-16)
    assert_matches_reference(as_nodes(student).contiguous(), as_nodes(teacher).contiguous(), reduction="sum")
    permuted = student.permute(0, 1, 3, 2).contiguous().permute(0, 1, 3, 2)  # (N, C, T, V) strided
    torch.testing.assert_close(graph_matching_loss(permuted, teacher), expected, rtol=1e-12, atol=0)


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"distance": "squared_euclidean", "loss": "l2", "reduction": "none"},
        {"normalize": "none", "beta": 0.3},
    ],
)
def test_gradcheck_float64(options):
    student = features((2, 3, 2, 3)).requires_grad_(True)
    teacher = features((2, 3, 2, 3), seed=1)
    assert torch.autograd.gradcheck(lambda s: graph_matching_loss(s, teacher, **options), (student,))


def test_duplicate_nodes_give_clamped_distance_and_finite_gradient():
    # Small integers keep the Gram form exact: duplicates give d2 = 0 -> D = sqrt(1e-12) = 1e-6.
    generator = torch.Generator().manual_seed(0)
    student = torch.randint(-3, 4, (2, 4, 3, 3), generator=generator).double()
    student[:, :, 1] = student[:, :, 0]  # frame 1 duplicates frame 0: 3 duplicate node pairs
    teacher = torch.randint(-3, 4, (2, 4, 3, 3), generator=generator).double()
    _, grad = assert_matches_reference(student, teacher)
    assert torch.isfinite(grad).all()
    ours, _ = value_and_grad(graph_matching_loss, student, teacher, loss="l2", reduction="none")
    # Identical student and teacher still match exactly (duplicates included).
    torch.testing.assert_close(graph_matching_loss(student, student), torch.tensor(0.0, dtype=torch.float64))
    assert torch.isfinite(ours).all()


def test_all_zero_sample_convention():
    student = features((3, 4, 3, 3))
    teacher = features((3, 4, 3, 3), seed=1)
    student[1] = 0
    teacher[1] = 0
    student[2] = 0  # zero student, non-zero teacher
    losses, grad = assert_matches_reference(student, teacher, reduction="none")
    # Every off-diagonal distance is 1e-6 = the mean: both normalised matrices are 1 off-diagonal.
    torch.testing.assert_close(losses[1], torch.tensor(0.0, dtype=torch.float64))
    assert losses[2] > 0 and torch.isfinite(losses).all()
    # Below the clamp the gradient is 0 (no NaN, no inf).
    assert torch.equal(grad[1], torch.zeros_like(grad[1])) and torch.equal(grad[2], torch.zeros_like(grad[2]))


def test_single_node_and_empty_inputs_give_zero():
    # P = 1: no positive distance, normaliser 1, loss 0 (the reference's mean would be NaN).
    one_node = features((2, 5, 1, 1)).requires_grad_(True)
    out = graph_matching_loss(one_node, features((2, 5, 1, 1), seed=1))
    out.backward()
    assert out.item() == 0.0 and torch.equal(one_node.grad, torch.zeros_like(one_node))
    for reduction, shape in (("mean", ()), ("sum", ()), ("none", (0,))):
        empty = torch.zeros(0, 4, 3, 3, dtype=torch.float64, requires_grad=True)
        out = graph_matching_loss(empty, torch.zeros(0, 4, 3, 3, dtype=torch.float64), reduction=reduction)
        assert out.shape == shape and (out == 0).all()
        out.sum().backward()
        assert empty.grad.shape == empty.shape
        ref = graph_matching_loss_reference(empty.detach(), empty.detach(), reduction=reduction)
        torch.testing.assert_close(out.detach(), ref)


def test_teacher_requiring_grad_gets_no_gradient():
    student = features((2, 3, 3, 3)).requires_grad_(True)
    teacher = features((2, 3, 3, 3), seed=1).requires_grad_(True)
    graph_matching_loss(student, teacher).backward()
    assert teacher.grad is None
    _, expected = value_and_grad(graph_matching_loss_reference, student, teacher.detach())
    torch.testing.assert_close(student.grad, expected)
    # Only the teacher requiring grad: the output still has a graph, the teacher still gets nothing.
    out = graph_matching_loss(student.detach(), teacher)
    out.backward()
    assert teacher.grad is None


def test_double_backward_raises():
    student = features((1, 3, 2, 2)).requires_grad_(True)
    (grad,) = torch.autograd.grad(
        graph_matching_loss(student, features((1, 3, 2, 2), seed=1)), student, create_graph=True
    )
    with pytest.raises(NotImplementedError, match="double backward"):
        grad.sum().backward()


def test_module_matches_function():
    student, teacher = features((2, 4, 3, 3)), features((2, 4, 3, 3), seed=1)
    module = GraphMatchingLoss(distance="squared_euclidean", beta=0.5, reduction="sum")
    expected = graph_matching_loss(student, teacher, distance="squared_euclidean", beta=0.5, reduction="sum")
    torch.testing.assert_close(module(student, teacher), expected)
    assert "squared_euclidean" in repr(module)
    with pytest.raises(ValueError, match="beta must be >= 0"):
        GraphMatchingLoss(beta=-1.0)


def test_errors_name_the_problem_and_fix():
    student = features((2, 8, 3, 3))
    with pytest.raises(ValueError, match="adaption.*Conv2d\\(8, 16, 1\\)"):
        graph_matching_loss(student, features((2, 16, 3, 3)))
    with pytest.raises(ValueError, match="adaption"):
        graph_matching_loss(features((2, 9, 8)), features((2, 9, 4)))
    with pytest.raises(ValueError, match="same graphs"):
        graph_matching_loss(student, features((2, 8, 3, 4)))
    with pytest.raises(ValueError, match="teacher must have shape"):
        graph_matching_loss(student, features((2, 9, 8)))
    with pytest.raises(ValueError, match=r"\(N, C, T, V\) \(feature map\) or \(N, P, C\)"):
        graph_matching_loss(features((2, 8)), features((2, 8)))
    with pytest.raises(TypeError, match="same dtype"):
        graph_matching_loss(student, student.float())
    with pytest.raises(TypeError, match="float32 or float64"):
        graph_matching_loss(student.long(), student.long())
    for option, message in (
        ({"distance": "cosine"}, "distance must be 'euclidean' or 'squared_euclidean'"),
        ({"loss": "huber"}, "loss must be 'smooth_l1' or 'l2'"),
        ({"normalize": "max"}, "normalize must be 'mean_positive' or 'none'"),
        ({"reduction": "batchmean"}, "reduction must be 'mean', 'sum' or 'none'"),
        ({"beta": -0.5}, "beta must be a finite number >= 0"),
    ):
        with pytest.raises(ValueError, match=message):
            graph_matching_loss(student, student, **option)


def test_opcheck():
    student = features((2, 4, 3, 5)).requires_grad_(True)
    teacher = features((2, 4, 3, 5), seed=1)
    for kwargs in ({}, {"distance": "squared_euclidean", "loss": "l2", "reduction": "none"}):
        torch.library.opcheck(torch.ops.skdcore.graph_matching_loss.default, (student, teacher), kwargs)
    options = ("euclidean", "smooth_l1", 1.0, "mean_positive", "mean")
    _out, stats = torch.ops.skdcore._graph_matching_loss_forward(student.detach(), teacher, *options)
    torch.library.opcheck(
        torch.ops.skdcore._graph_matching_loss_forward.default, (student.detach(), teacher, *options)
    )
    torch.library.opcheck(
        torch.ops.skdcore._graph_matching_loss_backward.default,
        (torch.ones((), dtype=torch.float64), student.detach(), teacher, stats, *options),
    )


def test_torch_compile_fullgraph():
    torch._dynamo.reset()
    student = features((2, 4, 3, 5), torch.float32)
    teacher = features((2, 4, 3, 5), torch.float32, seed=1)

    def step(s, t):
        return 2 * skdcore.ops.graph_matching_loss(s, t, beta=0.5)

    compiled = torch.compile(step, fullgraph=True)
    ours, our_grad = value_and_grad(compiled, student, teacher)
    expected, expected_grad = value_and_grad(step, student, teacher)
    torch.testing.assert_close(ours, expected)
    torch.testing.assert_close(our_grad, expected_grad)


def gradient_sums_in_subprocess(variable, value):
    """(sum, sum of |.|) of a fixed input's gradient, in a fresh process with os.environ[variable] = value
    (the op path table reads its environment variables once, at the first call)."""
    code = (
        "import torch, skdcore\n"
        "g = torch.Generator().manual_seed(0)\n"
        "s = torch.randn(3, 8, 20, 10, generator=g, dtype=torch.float64, requires_grad=True)\n"
        "t = torch.randn(3, 8, 20, 10, generator=g, dtype=torch.float64)\n"
        "skdcore.ops.graph_matching_loss(s, t).backward()\n"
        "print(repr(s.grad.sum().item()), repr(s.grad.abs().sum().item()))\n"
    )
    env = dict(os.environ, **{variable: value})
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return [float(x) for x in result.stdout.split()]


def test_aten_tile_fallback_matches_blas_path():
    # SKDCORE_GM_GEMM=aten routes the tile GEMMs through at::mm (the path a torch without MKL takes).
    aten = gradient_sums_in_subprocess("SKDCORE_GM_GEMM", "aten")
    blas = gradient_sums_in_subprocess("SKDCORE_GM_GEMM", "blas")
    assert aten == pytest.approx(blas, rel=1e-9)


def test_op_path_table_names_every_variant_and_rejects_unknown_ones():
    choices = {"graph_conv_cuda": {"gemm", "fused"}, "graph_matching_cuda": {"gemm", "fused"},
               "graph_matching_cpu_gemm": {"blas", "aten"}}
    assert set(op_paths()) == set(choices) and all(op_paths()[name] in choices[name] for name in choices)
    with pytest.raises(ValueError,
                       match="graph_matching_cpu_gemm must be 'blas' \\(default\\) or 'aten', got 'mkl'"):
        set_op_path("graph_matching_cpu_gemm", "mkl")
    with pytest.raises(ValueError, match="unknown path 'graph_conv'"):
        set_op_path("graph_conv", "fused")
    # the CPU tile GEMM through at::mm, switched in-process: same loss as the BLAS path
    s, t = features((2, 6, 5, 4), torch.float64), features((2, 6, 5, 4), torch.float64, seed=1)
    blas = graph_matching_loss(s, t)
    set_op_path("graph_matching_cpu_gemm", "aten")  # restored after the test (tests/ops/conftest.py)
    torch.testing.assert_close(graph_matching_loss(s, t), blas, rtol=1e-12, atol=0)


@pytest.mark.cuda
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(
    "options", [{}, {"distance": "squared_euclidean", "loss": "l2", "normalize": "none", "reduction": "none"}]
)
@pytest.mark.parametrize("path", CUDA_PATHS)
def test_cuda_matches_cpu(path, dtype, options, monkeypatch):
    set_op_path("graph_matching_cuda", path)  # restored after the test (tests/ops/conftest.py)
    # P = 70 spans several 32-node CUDA tiles; both layouts.
    student, teacher = features((3, 40, 7, 10), dtype), features((3, 40, 7, 10), dtype, seed=1)
    for s, t in (
        (student, teacher),
        (student.flatten(2).transpose(1, 2), teacher.flatten(2).transpose(1, 2)),
    ):
        expected, expected_grad = value_and_grad(graph_matching_loss, s, t, **options)
        ours, grad = value_and_grad(graph_matching_loss, s.cuda(), t.cuda(), **options)
        tol = TOLERANCE[dtype]
        torch.testing.assert_close(ours.cpu(), expected, **tol)
        torch.testing.assert_close(
            grad.cpu(),
            expected_grad,
            rtol=tol["rtol"] * 10,
            atol=tol["rtol"] * expected_grad.abs().max().item(),
        )


@pytest.mark.cuda
def test_cuda_rejects_an_unknown_path():
    chosen = op_paths()["graph_matching_cuda"]  # gemm, or what SKDCORE_GRAPH_MATCHING_CUDA chose
    with pytest.raises(ValueError,
                       match="graph_matching_cuda must be 'gemm' \\(default\\) or 'fused', got 'cudnn'"):
        set_op_path("graph_matching_cuda", "cudnn")
    assert op_paths()["graph_matching_cuda"] == chosen
    graph_matching_loss(features((2, 4, 3, 5)).cuda(), features((2, 4, 3, 5), seed=1).cuda())


@pytest.mark.cuda
def test_cuda_gemm_path_keeps_fp32_accuracy_when_tf32_is_allowed(monkeypatch):
    # Nearby nodes (|f|^2 ~ 64, d^2 ~ 0.013): fp32 Gram products leave ~1e-3 relative error in the
    # loss, TF32 ones (10-bit mantissa) ~20x the loss itself (both measured with a CPU emulation).
    # The default (gemm) path runs its own products in fp32 under an at::NoTF32Guard, so the
    # result stays at fp32 accuracy; it used to warn and fall back to the fused kernels.
    set_op_path("graph_matching_cuda", "gemm")  # the default, whatever SKDCORE_GRAPH_MATCHING_CUDA says
    monkeypatch.setattr(torch.backends.cuda.matmul, "allow_tf32", True)
    base = features((2, 64, 1, 1))
    student = base + 0.01 * features((2, 64, 5, 8), seed=1)
    teacher = base + 0.01 * features((2, 64, 5, 8), seed=2)
    expected, expected_grad = value_and_grad(graph_matching_loss, student, teacher)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no fallback warning
        ours, grad = value_and_grad(graph_matching_loss, student.float().cuda(), teacher.float().cuda())
    torch.testing.assert_close(ours.double().cpu(), expected, rtol=2e-2, atol=0)
    torch.testing.assert_close(grad.double().cpu(), expected_grad, rtol=0,
                               atol=5e-2 * expected_grad.abs().max().item())
    # TF32 stays allowed for everything else: the guard is scoped to the op's own products.
    assert torch.backends.cuda.matmul.allow_tf32


@pytest.mark.cuda
def test_cuda_gemm_path_with_cublaslt_and_tf32_falls_back_accurately(monkeypatch):
    # torch's cublasLt backend ignores the NoTF32Guard in some versions: there the op warns and
    # runs the fused kernels, so the result keeps fp32 accuracy either way.
    monkeypatch.setattr(torch.backends.cuda.matmul, "allow_tf32", True)
    before = torch.backends.cuda.preferred_blas_library()
    torch.backends.cuda.preferred_blas_library("cublaslt")
    try:
        base = features((2, 64, 1, 1))
        student = base + 0.01 * features((2, 64, 5, 8), seed=1)
        teacher = base + 0.01 * features((2, 64, 5, 8), seed=2)
        with pytest.warns(UserWarning, match="cublasLt"):
            ours = graph_matching_loss(student.float().cuda(), teacher.float().cuda())
    finally:
        torch.backends.cuda.preferred_blas_library(before)
    torch.testing.assert_close(ours.double().cpu(), graph_matching_loss(student, teacher), rtol=2e-2, atol=0)
