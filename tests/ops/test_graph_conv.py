"""skdcore.graph_conv vs the PYSKL-style reference: values, gradients, registration, errors."""
import pytest
import torch

import skdcore.ops
from skdcore.graph import partition_matrices
from skdcore.layouts import BUILTIN_LAYOUTS
from skdcore.nn import GraphConv
from skdcore.ops.paths import op_paths, set_op_path
from skdcore.reference.graph_conv import graph_conv_reference

graph_conv = skdcore.ops.graph_conv
TOLERANCE = {torch.float32: dict(rtol=1e-4, atol=1e-4), torch.float64: dict(rtol=1e-10, atol=1e-10)}
CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
# graph_conv_cuda (skdcore.ops.paths): cuBLAS products (default), the kernels, or a graph product + cuDNN conv
CUDA_PATHS = ["gemm", "fused", "conv2d"]


def use_cuda_path(path, monkeypatch):
    set_op_path("graph_conv_cuda", path)  # restored after the test (tests/ops/conftest.py)
    # conv2d follows cuDNN's TF32 switch (on by default, like eager convolutions): fp32 to compare
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)


def cuda_tolerance(expected):
    """GPU vs CPU: float32 sums in another order differ by a few ulps of the largest term."""
    if expected.dtype == torch.float64:
        return {}
    return dict(rtol=1e-4, atol=1e-5 * max(1.0, expected.abs().max().item()))


def make_inputs(N=2, C_in=4, C_out=6, T=3, V=25, K=3, bias=True, edge_importance=True,
                dtype=torch.float64, device="cpu", seed=0):
    generator = torch.Generator().manual_seed(seed)

    def rand(*shape):
        return torch.randn(*shape, generator=generator, dtype=dtype).to(device)

    x = rand(N, C_in, T, V)
    weight = rand(K, C_out, C_in)
    A = torch.rand(K, V, V, generator=generator, dtype=dtype).to(device)
    b = rand(C_out) if bias else None
    M = (1 + 0.5 * rand(K, V, V)) if edge_importance else None
    return x, weight, A, b, M


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("edge_importance", [False, True])
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("channels", [(4, 6), (6, 4)], ids=["graph_first", "channels_first"])
@pytest.mark.parametrize("K", [1, 3])
@pytest.mark.parametrize("V", [25, 18, 17, 13])
def test_forward_matches_reference(V, K, channels, bias, edge_importance, dtype):
    C_in, C_out = channels
    inputs = make_inputs(N=3, C_in=C_in, C_out=C_out, T=4, V=V, K=K, bias=bias,
                         edge_importance=edge_importance, dtype=dtype)
    y = graph_conv(*inputs)
    assert y.shape == (3, C_out, 4, V) and y.dtype == dtype and y.is_contiguous()
    torch.testing.assert_close(y, graph_conv_reference(*inputs), **TOLERANCE[dtype])


@pytest.mark.parametrize("channels", [(5, 7), (7, 5)], ids=["graph_first", "channels_first"])
def test_non_contiguous_inputs(channels):
    C_in, C_out = channels
    x, weight, A, b, M = make_inputs(N=3, C_in=C_in, C_out=C_out, T=6, V=18)
    x_nc = x.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2)  # channels-last storage
    weight_nc = weight.transpose(1, 2).contiguous().transpose(1, 2)
    A_nc = A.transpose(1, 2).contiguous().transpose(1, 2)
    b_nc = torch.stack([b, b], dim=1)[:, 0]  # stride 2
    M_nc = M.transpose(0, 2).contiguous().transpose(0, 2)
    args = (x_nc, weight_nc, A_nc, b_nc, M_nc)
    assert not any(t.is_contiguous() for t in args)
    torch.testing.assert_close(graph_conv(*args), graph_conv_reference(x, weight, A, b, M))
    x_sliced = torch.stack([x, -x], dim=3)[:, :, :, 0]  # time stride 2 * V
    assert not x_sliced.is_contiguous()
    torch.testing.assert_close(graph_conv(x_sliced, weight, A), graph_conv_reference(x, weight, A))


@pytest.mark.parametrize("channels", [(4, 6), (6, 4)], ids=["graph_first", "channels_first"])
def test_single_sample_and_more_samples_than_threads(channels):
    # N=1 runs as one chunk (multi-threaded GEMMs), N=7 splits unevenly across the threads.
    C_in, C_out = channels
    for N in (1, 7):
        ours = [t.requires_grad_() for t in make_inputs(N=N, C_in=C_in, C_out=C_out, V=17)]
        theirs = [t.detach().clone().requires_grad_() for t in ours]
        graph_conv(*ours).sum().backward()
        graph_conv_reference(*theirs).sum().backward()
        for a, b in zip(ours, theirs):
            torch.testing.assert_close(a.grad, b.grad)


def test_empty_batch():
    x, weight, A, b, M = make_inputs(N=0, V=17)
    x.requires_grad_()
    weight.requires_grad_()
    y = graph_conv(x, weight, A, b, M)
    assert y.shape == (0, 6, 3, 17)
    y.sum().backward()
    assert x.grad.shape == x.shape
    torch.testing.assert_close(weight.grad, torch.zeros_like(weight))


@pytest.mark.parametrize("channels", [(3, 5), (5, 3)], ids=["graph_first", "channels_first"])
def test_gradcheck_every_input(channels):
    C_in, C_out = channels
    inputs = [t.requires_grad_() for t in make_inputs(N=2, C_in=C_in, C_out=C_out, T=2, V=5, K=2)]
    assert torch.autograd.gradcheck(graph_conv, inputs)
    assert torch.autograd.gradcheck(graph_conv, inputs[:3])  # no bias / edge importance


@pytest.mark.parametrize("channels", [(4, 6), (6, 4)], ids=["graph_first", "channels_first"])
@pytest.mark.parametrize("wanted", [(0,), (1,), (2,), (3,), (4,), (0, 4), (1, 2, 3)])
def test_gradients_of_a_subset_match_reference(channels, wanted):
    C_in, C_out = channels
    inputs = make_inputs(N=3, C_in=C_in, C_out=C_out, T=4, V=13, K=3)
    ours = [t.clone().requires_grad_(i in wanted) for i, t in enumerate(inputs)]
    theirs = [t.clone().requires_grad_(i in wanted) for i, t in enumerate(inputs)]
    grad_y = torch.randn(3, C_out, 4, 13, dtype=torch.float64)
    graph_conv(*ours).backward(grad_y)
    graph_conv_reference(*theirs).backward(grad_y)
    for i, (a, b) in enumerate(zip(ours, theirs)):
        if i in wanted:
            torch.testing.assert_close(a.grad, b.grad)
        else:
            assert a.grad is None


def test_backward_op_skips_unrequested_gradients():
    x, weight, A, _, M = make_inputs(C_in=4, C_out=6, V=13)
    grad = torch.randn(2, 6, 3, 13, dtype=torch.float64)
    mask = [True, False, False, True, False]
    gx, gw, ga, gb, gm = torch.ops.skdcore._graph_conv_backward(grad, x, weight, A, M, mask)
    assert gx.shape == x.shape and gb.shape == (6,)
    assert gw.numel() == ga.numel() == gm.numel() == 0
    torch.testing.assert_close(gb, grad.sum((0, 2, 3)))


def test_double_backward_is_not_supported():
    inputs = [t.requires_grad_() for t in make_inputs(V=13)]
    (grad_x,) = torch.autograd.grad(graph_conv(*inputs).square().sum(), inputs[0], create_graph=True)
    with pytest.raises(NotImplementedError, match="double backward is not supported"):
        grad_x.sum().backward()


@pytest.mark.parametrize("channels", [(4, 6), (6, 4)], ids=["graph_first", "channels_first"])
def test_opcheck(channels):
    C_in, C_out = channels
    x, weight, A, b, M = make_inputs(C_in=C_in, C_out=C_out, V=13, dtype=torch.float32)
    samples = [
        (x, weight, A, b, M),
        (x.requires_grad_(), weight.requires_grad_(), A, None, None),
        (x, weight, A.requires_grad_(), b.requires_grad_(), M.requires_grad_()),
    ]
    for args in samples:
        torch.library.opcheck(torch.ops.skdcore.graph_conv.default, args)
    grad = torch.randn(2, C_out, 3, 13)
    torch.library.opcheck(torch.ops.skdcore._graph_conv_backward.default,
                          (grad, x.detach(), weight.detach(), A.detach(), M.detach(),
                           [True, True, False, True, True]))


def test_torch_compile_fullgraph():
    x, weight, A, b, M = make_inputs(C_in=4, C_out=6, V=25, dtype=torch.float32)

    def block(x, weight, A, b, M):
        return torch.relu(graph_conv(x, weight, A, b, M)) * 2

    compiled = torch.compile(block, fullgraph=True, backend="aot_eager")
    weight.requires_grad_()
    y = compiled(x, weight, A, b, M)
    torch.testing.assert_close(y, torch.relu(graph_conv_reference(x, weight, A, b, M)) * 2)
    y.sum().backward()
    assert weight.grad is not None and weight.grad.shape == weight.shape


def test_torch_compile_inductor():
    x, weight, A, b, _ = make_inputs(C_in=6, C_out=4, V=18, dtype=torch.float32)
    compiled = torch.compile(lambda x: graph_conv(x, weight, A, b) + 1, fullgraph=True)
    torch.testing.assert_close(compiled(x), graph_conv_reference(x, weight, A, b) + 1)


@pytest.mark.parametrize(
    "change, error, match",
    [
        (dict(x=torch.zeros(2, 4, 25)), ValueError, r"x must have shape \(N, C_in, T, V\)"),
        (dict(weight=torch.zeros(3, 6)), ValueError, r"weight must have shape \(K, C_out, C_in\)"),
        (dict(A=torch.zeros(2, 25, 25)), ValueError, r"A.size\(0\) must equal K of weight"),
        (dict(A=torch.zeros(3, 18, 18)), ValueError, r"A.size\(1\) must equal V of x"),
        (dict(A=torch.zeros(3, 25, 24)), ValueError, r"A must be square"),
        (dict(weight=torch.zeros(3, 6, 5)), ValueError, r"weight.size\(2\) must equal C_in of x"),
        (dict(bias=torch.zeros(5)), ValueError, r"bias.size\(0\) must equal C_out"),
        (dict(edge_importance=torch.zeros(3, 25, 24)), ValueError,
         r"edge_importance must have the shape of A"),
        (dict(x=torch.zeros(2, 4, 3, 25, dtype=torch.int64)), TypeError, r"x must be float32 or float64"),
        (dict(A=torch.zeros(3, 25, 25, dtype=torch.float64)), TypeError,
         r"A has dtype Double but x has dtype Float"),
    ],
)
def test_bad_input_names_argument_and_shape(change, error, match):
    args = dict(x=torch.zeros(2, 4, 3, 25), weight=torch.zeros(3, 6, 4), A=torch.zeros(3, 25, 25),
                bias=None, edge_importance=None)
    args.update(change)
    with pytest.raises(error, match=match):
        graph_conv(**args)


def test_mixed_devices_are_rejected():
    x, weight, A, _, _ = make_inputs(dtype=torch.float32)
    with pytest.raises((ValueError, RuntimeError), match="device"):
        graph_conv(x, weight, A.to("meta"))


@pytest.mark.parametrize("learnable_edges", [False, True])
def test_module_matches_reference_path(learnable_edges):
    A = torch.rand(3, 18, 18)
    layer = GraphConv(8, 16, A, learnable_edges=learnable_edges)
    if learnable_edges:
        with torch.no_grad():
            layer.edge_importance.uniform_(0.5, 1.5)
    x = torch.randn(2, 8, 5, 18, requires_grad=True)
    y = layer(x)
    layer.ops = "reference"
    torch.testing.assert_close(y, layer(x), rtol=1e-4, atol=1e-5)
    assert y.shape == (2, 16, 5, 18)
    y.sum().backward()
    expected = {"weight", "bias"} | ({"edge_importance"} if learnable_edges else set())
    assert {name for name, p in layer.named_parameters() if p.grad is not None} == expected
    assert "A" in layer.state_dict()


@pytest.mark.parametrize("layout", sorted(BUILTIN_LAYOUTS))
def test_module_on_builtin_skeleton_graphs(layout):
    A = partition_matrices(layout)  # (3, V, V) numpy, in-degree normalised
    layer = GraphConv(6, 4, A, learnable_edges=True)
    x = torch.randn(2, 6, 3, A.shape[-1])
    expected = graph_conv_reference(x, layer.weight, layer.A, layer.bias, layer.edge_importance)
    torch.testing.assert_close(layer(x), expected, rtol=1e-4, atol=1e-5)


def test_module_rejects_bad_adjacency():
    with pytest.raises(ValueError, match=r"A must have shape \(K, V, V\)"):
        GraphConv(4, 8, torch.zeros(25, 25))


@pytest.mark.cuda
@CUDA
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("channels", [(4, 6), (6, 4), (64, 128)])
@pytest.mark.parametrize("V", [25, 13])
@pytest.mark.parametrize("path", CUDA_PATHS)
def test_cuda_matches_cpu(path, V, channels, dtype, monkeypatch):
    use_cuda_path(path, monkeypatch)
    C_in, C_out = channels
    inputs = make_inputs(N=3, C_in=C_in, C_out=C_out, T=7, V=V, dtype=dtype)
    cpu = [t.requires_grad_() for t in inputs]
    gpu = [t.detach().cuda().requires_grad_() for t in inputs]
    y_cpu, y_gpu = graph_conv(*cpu), graph_conv(*gpu)
    torch.testing.assert_close(y_gpu.cpu(), y_cpu, **cuda_tolerance(y_cpu))
    grad = torch.randn_like(y_cpu)
    y_cpu.backward(grad)
    y_gpu.backward(grad.cuda())
    for a, b in zip(gpu, cpu):
        torch.testing.assert_close(a.grad.cpu(), b.grad, **cuda_tolerance(b.grad))


@pytest.mark.cuda
@CUDA
def test_cuda_rejects_an_unknown_path():
    chosen = op_paths()["graph_conv_cuda"]  # gemm, or what SKDCORE_GRAPH_CONV_CUDA chose
    expected = "graph_conv_cuda must be 'gemm' \\(default\\), 'fused' or 'conv2d', got 'cudnn'"
    with pytest.raises(ValueError, match=expected):
        set_op_path("graph_conv_cuda", "cudnn")
    assert op_paths()["graph_conv_cuda"] == chosen
    assert graph_conv(*make_inputs(device="cuda")).is_cuda


@pytest.mark.cuda
@CUDA
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("path", CUDA_PATHS)
def test_cuda_half_precision(path, dtype, monkeypatch):
    use_cuda_path(path, monkeypatch)
    rounded = [t.to(dtype) for t in make_inputs(N=2, C_in=8, C_out=16, T=5, V=25, dtype=torch.float32)]
    # the reference on the same rounded inputs, in float32: what is left is the op's own error
    expected = graph_conv_reference(*[t.float() for t in rounded])
    y = graph_conv(*[t.cuda() for t in rounded])
    assert y.dtype == dtype
    scale = expected.abs().max().item()
    torch.testing.assert_close(y.float().cpu(), expected, rtol=2e-2, atol=1e-2 * scale)
