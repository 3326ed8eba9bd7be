"""The matrix-product path of graph_matching_loss (SKDCORE_GRAPH_MATCHING_CUDA=gemm), on every device.

torch.ops.skdcore._graph_matching_gemm_{forward,backward} run the driver the CUDA op takes
(cpp/graph_matching_gemm.cpp: batched Gram chunks in a bounded workspace + elementwise steps); on
the CPU its steps are loops with the same per-entry maths as the CUDA kernels. A tiny
workspace_bytes forces many sample groups and row chunks (the recomputing two-sweep forward).
"""
import pytest
import torch
from test_graph_matching import OPTION_GRID, TOLERANCE, features, value_and_grad

from skdcore.reference.graph_matching import graph_matching_loss_reference

gemm_forward = torch.ops.skdcore._graph_matching_gemm_forward
gemm_backward = torch.ops.skdcore._graph_matching_gemm_backward
fused_forward = torch.ops.skdcore._graph_matching_loss_forward
DEFAULTS = {"distance": "euclidean", "loss": "smooth_l1", "normalize": "mean_positive", "reduction": "mean"}
# (bytes, what it exercises) for float64 inputs of P = 20 nodes (one Gram block: 3200 bytes)
WORKSPACES = {"one_chunk": 0, "groups_of_2": 2 * 2 * 3200, "row_chunks": 2 * 8 * 20 * 8, "one_row": 1}


def options_tuple(options, beta=1.0):
    o = {**DEFAULTS, **options}
    return o["distance"], o["loss"], beta, o["normalize"], o["reduction"]


def gemm_value_and_grad(student, teacher, options, workspace, beta=1.0):
    args = options_tuple(options, beta)
    out, stats = gemm_forward(student, teacher, *args, workspace)
    grad_out = torch.ones_like(out)
    grad = gemm_backward(grad_out, student, teacher, stats, *args, workspace)
    return out, stats, grad


def reference_value_and_grad(student, teacher, options, beta=1.0):
    return value_and_grad(graph_matching_loss_reference, student, teacher, beta=beta,
                          **{**DEFAULTS, **options})


def assert_close_to_reference(student, teacher, options, workspace, beta=1.0):
    ours, stats, our_grad = gemm_value_and_grad(student, teacher, options, workspace, beta)
    ref, ref_grad = reference_value_and_grad(student, teacher, options, beta)
    tol = TOLERANCE[student.dtype]
    torch.testing.assert_close(ours, ref, **tol)
    torch.testing.assert_close(our_grad, ref_grad, rtol=tol["rtol"] * 10,
                               atol=tol["rtol"] * ref_grad.abs().max().item())
    return stats


@pytest.mark.parametrize("workspace", WORKSPACES.values(), ids=WORKSPACES.keys())
@pytest.mark.parametrize("options", OPTION_GRID, ids=lambda o: "-".join(o.values()))
def test_all_options_and_chunkings_match_reference_float64(options, workspace):
    student, teacher = features((5, 6, 4, 5)), features((5, 6, 4, 5), seed=1, scale=2.0)
    stats = assert_close_to_reference(student, teacher, options, workspace)
    # Same saved statistics as the fused kernel (the backward of either path can use them).
    _, fused_stats = fused_forward(student, teacher, *options_tuple(options))
    torch.testing.assert_close(stats, fused_stats, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("beta", [0.0, 0.05])
def test_beta_matches_reference(beta):
    assert_close_to_reference(features((2, 3, 7)), features((2, 3, 7), seed=1), {}, 1, beta)


@pytest.mark.parametrize("workspace", [0, 4096 * 3])
def test_node_set_layout_float32_several_chunks(workspace):
    # (N, P, C) node sets, P = 150 nodes, float32
    student, teacher = features((3, 150, 16), torch.float32), features((3, 150, 16), torch.float32, seed=1)
    assert_close_to_reference(student, teacher, {}, workspace)


def test_non_contiguous_input_matches_contiguous():
    student = features((2, 5, 4, 6)).transpose(2, 3)  # (N, C, V, T) view: a non-contiguous feature map
    teacher = features((2, 5, 4, 6), seed=1).transpose(2, 3)
    ours = gemm_value_and_grad(student, teacher, {}, 1)
    contiguous = gemm_value_and_grad(student.contiguous(), teacher.contiguous(), {}, 1)
    for a, b in zip(ours, contiguous):
        torch.testing.assert_close(a, b)


def test_duplicate_nodes_give_finite_gradient_like_the_fused_kernel():
    student = features((2, 4, 3, 5))
    student[:, :, 1, 2] = student[:, :, 0, 0]  # two identical nodes per sample
    teacher = features((2, 4, 3, 5), seed=1)
    out, stats, grad = gemm_value_and_grad(student, teacher, {}, 1)
    assert torch.isfinite(grad).all()
    assert_close_to_reference(student, teacher, {}, 1)


@pytest.mark.parametrize("shape", [(0, 4, 3, 5), (3, 4, 1, 1), (2, 0, 3, 5)], ids=["N=0", "P=1", "C=0"])
def test_degenerate_shapes_match_reference(shape):
    student, teacher = features(shape), features(shape, seed=1)
    for reduction in ("mean", "none"):
        ours, _stats, grad = gemm_value_and_grad(student, teacher, {"reduction": reduction}, 0)
        ref, ref_grad = reference_value_and_grad(student, teacher, {"reduction": reduction})
        torch.testing.assert_close(ours, ref)
        torch.testing.assert_close(grad, ref_grad)


def test_checks_inputs_like_the_op():
    student = features((2, 4, 3, 5))
    with pytest.raises(ValueError, match="_graph_matching_gemm_forward: student has C=4 channels"):
        gemm_forward(student, features((2, 6, 3, 5)), *options_tuple({}), 0)
    with pytest.raises(ValueError, match="distance must be 'euclidean' or 'squared_euclidean'"):
        gemm_forward(student, student, "cosine", "smooth_l1", 1.0, "mean_positive", "mean", 0)
    _, stats = gemm_forward(student, student, *options_tuple({}), 0)
    with pytest.raises(ValueError, match="grad must be a scalar"):
        gemm_backward(torch.ones(2, dtype=torch.float64), student, student, stats, *options_tuple({}), 0)


def test_opcheck():
    student, teacher = features((2, 4, 3, 5)), features((2, 4, 3, 5), seed=1)
    args = options_tuple({})
    torch.library.opcheck(torch.ops.skdcore._graph_matching_gemm_forward.default,
                          (student, teacher, *args, 1))
    _, stats = gemm_forward(student, teacher, *args, 1)
    torch.library.opcheck(torch.ops.skdcore._graph_matching_gemm_backward.default,
                          (torch.ones((), dtype=torch.float64), student, teacher, stats, *args, 1))


@pytest.mark.cuda
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("workspace", [0, 20000])
@pytest.mark.parametrize("options", [{}, {"distance": "squared_euclidean", "loss": "l2", "normalize": "none",
                                          "reduction": "none"}])
def test_cuda_matches_cpu(dtype, workspace, options):
    # P = 70 nodes (several row chunks with the small workspace), both layouts.
    student, teacher = features((3, 40, 7, 10), dtype), features((3, 40, 7, 10), dtype, seed=1)
    node_sets = (student.flatten(2).transpose(1, 2), teacher.flatten(2).transpose(1, 2))
    for s, t in ((student, teacher), node_sets):
        expected = gemm_value_and_grad(s, t, options, workspace)
        ours = gemm_value_and_grad(s.cuda(), t.cuda(), options, workspace)
        tol = TOLERANCE[dtype]
        for name, a, b in zip(("loss", "stats", "grad"), ours, expected):
            torch.testing.assert_close(a.cpu(), b, rtol=tol["rtol"] * 10,
                                       atol=tol["rtol"] * b.abs().max().item(), msg=name)


def test_private_ops_are_registered_once_for_every_device():
    has_kernel = torch._C._dispatch_has_kernel_for_dispatch_key
    for name in ("_graph_matching_gemm_forward", "_graph_matching_gemm_backward", "graph_matching_loss"):
        assert has_kernel(f"skdcore::{name}", "CompositeExplicitAutograd"), name
        assert not has_kernel(f"skdcore::{name}", "CPU"), name
    assert has_kernel("skdcore::_graph_matching_loss_forward", "CPU")
