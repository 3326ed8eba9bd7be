"""The device-generic path of graph_conv's CUDA op, checked on every device.

torch.ops.skdcore._graph_conv_gemm{,_backward} (cuBLAS products, the CUDA default) run the same ATen
code the CUDA op dispatches to, so the CPU checks them here and a GPU (if any) checks them through
the CUDA op too. A second device-generic path would join PATHS (the `ops` fixture).
"""
import pytest
import torch
from test_graph_conv import make_inputs

from skdcore.reference.graph_conv import graph_conv_reference

ALL_GRADS = [True] * 5
PATHS = {
    "gemm": (torch.ops.skdcore._graph_conv_gemm, torch.ops.skdcore._graph_conv_gemm_backward),
}


@pytest.fixture(params=PATHS)
def ops(request):
    """(forward, backward) private ops of one path; every test runs for each."""
    return PATHS[request.param]


def reference_grads(inputs, grad):
    leaves = [t.detach().requires_grad_() if t is not None else None for t in inputs]
    y = graph_conv_reference(*leaves)
    wanted = [t for t in leaves if t is not None]
    grads = iter(torch.autograd.grad(y, wanted, grad))
    return [next(grads) if t is not None else None for t in leaves]


@pytest.mark.parametrize("edge_importance", [False, True])
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("channels", [(4, 6), (6, 4)])
@pytest.mark.parametrize("K", [1, 3])
@pytest.mark.parametrize("V", [25, 13])
def test_values_and_gradients_match_reference(V, K, channels, bias, edge_importance, ops):
    forward, backward = ops
    C_in, C_out = channels
    inputs = make_inputs(N=3, C_in=C_in, C_out=C_out, T=4, V=V, K=K, bias=bias,
                         edge_importance=edge_importance)
    torch.testing.assert_close(forward(*inputs), graph_conv_reference(*inputs), rtol=1e-10, atol=1e-10)
    x, weight, A, b, M = inputs
    grad = torch.randn(3, C_out, 4, V, dtype=torch.float64)
    mask = [True, True, True, bias, edge_importance]
    got = backward(grad, x, weight, A, M, mask)
    for name, ours, expected in zip(["x", "weight", "A", "bias", "edge_importance"], got,
                                    reference_grads(inputs, grad)):
        if expected is None:
            assert ours.numel() == 0, name
        else:
            torch.testing.assert_close(ours, expected, rtol=1e-10, atol=1e-10, msg=name)


@pytest.mark.parametrize("needed", range(5))
def test_output_mask_computes_only_what_is_asked(needed, ops):
    forward, backward = ops
    inputs = make_inputs(N=2, C_in=3, C_out=5, T=3, V=7)
    x, weight, A, b, M = inputs
    grad = torch.randn(2, 5, 3, 7, dtype=torch.float64)
    mask = [i == needed for i in range(5)]
    got = backward(grad, x, weight, A, M, mask)
    expected = reference_grads(inputs, grad)
    for i, (ours, ref) in enumerate(zip(got, expected)):
        if i == needed:
            torch.testing.assert_close(ours, ref, rtol=1e-10, atol=1e-10)
        else:
            assert ours.numel() == 0


def test_float32(ops):
    forward, backward = ops
    inputs = make_inputs(N=2, C_in=64, C_out=32, T=5, V=25, dtype=torch.float32)
    torch.testing.assert_close(forward(*inputs), graph_conv_reference(*inputs), rtol=1e-4, atol=1e-4)


def test_empty_batch(ops):
    forward, backward = ops
    inputs = make_inputs(N=0, C_in=3, C_out=4, T=3, V=6)
    y = forward(*inputs)
    torch.testing.assert_close(y, graph_conv_reference(*inputs))
    grad = torch.randn_like(y)
    ours_all = backward(grad, *inputs[:3], inputs[4], ALL_GRADS)
    for ours, expected in zip(ours_all, reference_grads(inputs, grad)):
        torch.testing.assert_close(ours, expected)


def test_no_input_channels_leaves_the_bias(ops):
    forward, backward = ops
    x, weight, A, b, M = make_inputs(N=2, C_in=0, C_out=4, T=3, V=6)
    torch.testing.assert_close(forward(x, weight, A, b, M), b.view(1, 4, 1, 1).expand(2, 4, 3, 6))
    grad = torch.randn(2, 4, 3, 6, dtype=torch.float64)
    gx, gw, gA, gb, gM = backward(grad, x, weight, A, M, ALL_GRADS)
    assert gx.shape == x.shape and gw.shape == weight.shape
    torch.testing.assert_close(gA, torch.zeros_like(A))
    torch.testing.assert_close(gM, torch.zeros_like(M))
    torch.testing.assert_close(gb, grad.sum((0, 2, 3)))


def test_checks_inputs_like_the_op(ops):
    forward, backward = ops
    x, weight, A, b, M = make_inputs(V=6)
    with pytest.raises(ValueError, match="C_in of x"):
        forward(x, weight[:, :, :2], A, b, M)


@pytest.mark.parametrize("N, C_in", [(40, 16), (7, 11)], ids=["chunked_640_groups", "prime_groups"])
def test_adjacency_gradient_over_many_row_chunks(N, C_in, ops):
    forward, backward = ops
    # the adjacency gradient sums over N*C_in*T rows in up to 512 batched chunks
    inputs = make_inputs(N=N, C_in=C_in, C_out=3, T=2, V=5)
    x, weight, A, b, M = inputs
    grad = torch.randn(N, 3, 2, 5, dtype=torch.float64)
    _, _, gA, _, gM = backward(grad, x, weight, A, M, [False, False, True, False, True])
    _, _, ref_A, _, ref_M = reference_grads(inputs, grad)
    torch.testing.assert_close(gA, ref_A, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(gM, ref_M, rtol=1e-10, atol=1e-10)
