"""Every skdcore op under torch.autocast on the CPU (bfloat16), against float32 (cpp/common/op_autocast.cpp).

graph_conv computes in the autocast dtype (inputs rounded to bfloat16, float32 sums, a bfloat16
result); graph_matching_loss, temporal_shift, normalize_adjacency and gradient_revision run in
float32. Tolerances: bfloat16 keeps 8 significant bits (relative rounding 2**-9 = 0.2%); a sum of
C_in * K * V products of rounded operands stays within ~1% of its float32 value at these sizes.
"""
import pytest
import torch

import skdcore
from skdcore.ops import gradient_revision, graph_conv, graph_matching_loss, temporal_shift
from skdcore.reference.graph_conv import graph_conv_reference

BF16 = torch.bfloat16


def autocast():
    return torch.autocast("cpu", dtype=BF16)


def graph_conv_inputs(seed=0, edges=True):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(2, 8, 6, 5, generator=generator)
    weight = torch.randn(3, 16, 8, generator=generator) / 8**0.5
    A = torch.rand(3, 5, 5, generator=generator)
    bias = torch.randn(16, generator=generator)
    edge_importance = 1 + 0.1 * torch.randn(3, 5, 5, generator=generator) if edges else None
    return [t if t is None else t.requires_grad_() for t in (x, weight, A, bias, edge_importance)]


def grads(output, inputs, seed=1):
    upstream = torch.randn(output.shape, generator=torch.Generator().manual_seed(seed)).to(output.device)
    return torch.autograd.grad(output.float(), [t for t in inputs if t is not None], upstream)


def test_graph_conv_computes_in_bfloat16_with_float32_sums():
    inputs = graph_conv_inputs()
    with autocast():
        y = graph_conv(*inputs)
    assert y.dtype == BF16
    # Exactly: the float32 op on the inputs rounded to bfloat16, its result rounded once.
    rounded = [t.detach().to(BF16).float() for t in inputs]
    expected = graph_conv_reference(*rounded).to(BF16)
    torch.testing.assert_close(y, expected, rtol=2**-8, atol=1e-3)
    # ... and close to float32.
    y32 = graph_conv(*inputs)
    torch.testing.assert_close(y.float(), y32.detach(), rtol=2e-2, atol=2e-2 * y32.abs().max().item())


@pytest.mark.parametrize("edges", [True, False])
def test_graph_conv_gradients_reach_float32_inputs(edges):
    inputs = graph_conv_inputs(edges=edges)
    with autocast():
        y = graph_conv(*inputs)
    ours = grads(y, inputs)
    want = grads(graph_conv(*inputs), inputs)
    for got, expected in zip(ours, want):
        assert got.dtype == torch.float32
        torch.testing.assert_close(got, expected, rtol=3e-2, atol=3e-2 * expected.abs().max().item())


def test_graph_conv_float64_is_left_alone():
    inputs = [t.detach().double() for t in graph_conv_inputs() if t is not None]
    with autocast():
        y = graph_conv(*inputs)
    assert y.dtype == torch.float64
    torch.testing.assert_close(y, graph_conv(*inputs), rtol=0, atol=0)


def test_graph_conv_takes_bfloat16_features_with_float32_parameters():
    # What a network under autocast feeds the next layer: bfloat16 features, float32 weights.
    x, weight, A, bias, edges = graph_conv_inputs()
    with autocast():
        y = graph_conv(x.detach().to(BF16), weight, A, bias, edges)
    assert y.dtype == BF16
    with pytest.raises(TypeError, match="float32 or float64"):
        graph_conv(x.detach().to(BF16), weight, A, bias, edges)  # outside autocast: refused as before


def test_graph_matching_loss_runs_in_float32():
    generator = torch.Generator().manual_seed(2)
    student = torch.randn(3, 16, 5, 4, generator=generator).requires_grad_()
    teacher = torch.randn(3, 16, 5, 4, generator=generator)
    with autocast():
        loss = graph_matching_loss(student.to(BF16), teacher.to(BF16))  # bfloat16 features, e.g.
        (grad,) = torch.autograd.grad(loss, student)
    assert loss.dtype == torch.float32 and grad.dtype == torch.float32
    # Exactly the float32 op on the bfloat16-rounded features; the gradient goes back through the cast.
    rounded = student.detach().to(BF16).float().requires_grad_()
    expected = graph_matching_loss(rounded, teacher.to(BF16).float())
    (expected_grad,) = torch.autograd.grad(expected, rounded)
    torch.testing.assert_close(loss, expected, rtol=0, atol=0)
    torch.testing.assert_close(grad, expected_grad.to(BF16).float(), rtol=0, atol=0)
    # float32 features: untouched by autocast, the same number as without it.
    with autocast():
        loss32 = graph_matching_loss(student, teacher)
    torch.testing.assert_close(loss32, graph_matching_loss(student, teacher), rtol=0, atol=0)


def test_temporal_shift_runs_in_float32():
    generator = torch.Generator().manual_seed(3)
    x = torch.randn(2, 6, 10, 5, generator=generator).requires_grad_()
    shift = (3 * torch.rand(6, generator=generator) - 1.5).requires_grad_()
    with autocast():
        y = temporal_shift(x.to(BF16), shift, 2)  # bfloat16 features, float32 shifts
    assert y.dtype == torch.float32
    gx, gshift = torch.autograd.grad(y, (x, shift), torch.ones_like(y))
    rounded = x.detach().to(BF16).float().requires_grad_()
    expected = temporal_shift(rounded, shift, 2)
    ex, eshift = torch.autograd.grad(expected, (rounded, shift), torch.ones_like(expected))
    torch.testing.assert_close(y, expected, rtol=0, atol=0)
    torch.testing.assert_close(gshift, eshift, rtol=0, atol=0)
    torch.testing.assert_close(gx, ex.to(BF16).float(), rtol=0, atol=0)


def test_normalize_adjacency_runs_in_float32():
    A = torch.rand(3, 6, 6).to(BF16)
    with autocast():
        out = skdcore.normalize_adjacency(A)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, skdcore.normalize_adjacency(A.float()), rtol=0, atol=0)


def revision_inputs(dtype, seed=4):
    generator = torch.Generator().manual_seed(seed)
    shapes = [(4, 3), (7,), (2, 2, 2)]
    task = [torch.randn(s, generator=generator).to(dtype) for s in shapes]
    distill = [[torch.randn(s, generator=generator).to(dtype) for s in shapes] for _ in range(2)]
    return task, distill


@pytest.mark.parametrize("mode", ["skd", "pcgrad"])
def test_gradient_revision_float32_is_exact_under_autocast(mode):
    task, distill = revision_inputs(torch.float32)
    plain = gradient_revision(task, distill, mode=mode, seed=1)
    with autocast():
        result = gradient_revision(task, distill, mode=mode, seed=1)
    for got, want in zip(result.grads, plain.grads):
        assert got.dtype == torch.float32
        torch.testing.assert_close(got, want, rtol=0, atol=0)
    torch.testing.assert_close(result.stats, plain.stats, rtol=0, atol=0)


def test_gradient_revision_of_bfloat16_gradients_runs_in_float32():
    task, distill = revision_inputs(BF16)
    as_float = gradient_revision([t.float() for t in task], [[g.float() for g in d] for d in distill])
    with autocast():
        result = gradient_revision(task, distill)
        out = [torch.empty_like(t) for t in task]
        stats = torch.ops.skdcore.gradient_revision_(out, task, [g for d in distill for g in d], 2)
    for got, in_place, want in zip(result.grads, out, as_float.grads):
        # computed in float32, rounded once into the gradients' dtype
        assert got.dtype == BF16 and in_place.dtype == BF16
        torch.testing.assert_close(got, want.to(BF16), rtol=0, atol=0)
        torch.testing.assert_close(in_place, want.to(BF16), rtol=0, atol=0)
    torch.testing.assert_close(result.stats, as_float.stats, rtol=0, atol=0)
    torch.testing.assert_close(stats, as_float.stats, rtol=0, atol=0)


def test_every_public_op_has_an_autocast_rule():
    has_kernel = torch._C._dispatch_has_kernel_for_dispatch_key
    rules = ["graph_conv", "graph_matching_loss", "temporal_shift", "normalize_adjacency",
             "gradient_revision_gram", "gradient_revision_apply_"]
    for name in rules:
        for key in ("AutocastCPU", "AutocastCUDA"):
            assert has_kernel(f"skdcore::{name}", key), (name, key)


@pytest.mark.slow
def test_torch_compile_under_autocast_matches_eager():
    inputs = [t.detach() for t in graph_conv_inputs()]

    def step(x, weight, A, bias, edges):
        y = graph_conv(x, weight, A, bias, edges)
        return graph_matching_loss(y, torch.zeros_like(y))

    compiled = torch.compile(step, fullgraph=True)
    with autocast():
        # NB: inductor may keep graph_conv's output in float32 inside its fused kernel (it skips
        # the bfloat16 rounding unless emulate_precision_casts), hence a bfloat16-sized tolerance.
        torch.testing.assert_close(compiled(*inputs), step(*inputs), rtol=2**-7, atol=1e-5)


@pytest.mark.cuda
def test_cuda_autocast_graph_conv_in_bfloat16_and_losses_in_float32():
    inputs = [t.detach().cuda().requires_grad_() for t in graph_conv_inputs()]
    with torch.autocast("cuda", dtype=BF16):
        y = graph_conv(*inputs)
        loss = graph_matching_loss(y, torch.zeros_like(y))
    assert y.dtype == BF16 and loss.dtype == torch.float32
    y32 = graph_conv(*inputs)
    torch.testing.assert_close(y.float(), y32.detach(), rtol=2e-2, atol=2e-2 * y32.abs().max().item())
    ours = grads(y, inputs)
    want = grads(y32, inputs)
    for got, expected in zip(ours, want):
        assert got.dtype == torch.float32
        torch.testing.assert_close(got, expected, rtol=3e-2, atol=3e-2 * expected.abs().max().item())
