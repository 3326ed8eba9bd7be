"""skdcore.temporal_shift (compiled) vs the pure-PyTorch reference: values, gradients, opcheck, compile."""
import pytest
import torch

from skdcore.ops import temporal_shift
from skdcore.reference.temporal_shift import temporal_shift_reference

TOLERANCE = {torch.float32: {"rtol": 1e-5, "atol": 1e-5}, torch.float64: {"rtol": 1e-12, "atol": 1e-12}}
SHAPES = [  # (N, C, T, V)
    (2, 5, 11, 25),
    (3, 4, 8, 18),
    (1, 6, 9, 17),
    (2, 3, 7, 13),
]


def sample(shape, dtype, device, seed=0):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=generator, dtype=dtype)
    C, T = shape[1], shape[2]
    # Fractional offsets inside and beyond the clip, both signs.
    shift = (torch.rand(C, generator=generator, dtype=dtype) - 0.5) * 2 * (T + 3)
    return x.to(device), shift.to(device)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("stride", [1, 2, 3])
@pytest.mark.parametrize("shape", SHAPES)
def test_forward_and_backward_match_reference(shape, stride, dtype, device):
    x, shift = sample(shape, dtype, device, seed=stride)
    x.requires_grad_(True)
    shift.requires_grad_(True)
    y = temporal_shift(x, shift, stride)
    expected = temporal_shift_reference(x, shift, stride)
    torch.testing.assert_close(y, expected, **TOLERANCE[dtype])
    grad = torch.randn_like(y)
    got = torch.autograd.grad(y, (x, shift), grad)
    want = torch.autograd.grad(expected, (x, shift), grad)
    # grad_shift sums N*T*V products: looser in float32.
    torch.testing.assert_close(got[0], want[0], **TOLERANCE[dtype])
    torch.testing.assert_close(got[1], want[1], rtol=1e-4 if dtype == torch.float32 else 1e-10,
                               atol=1e-4 if dtype == torch.float32 else 1e-10)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
@pytest.mark.parametrize("stride", [1, 2])
def test_non_finite_shift_makes_its_channel_nan(bad, stride, device):
    # NaN policy: output as the reference's (NaN in that channel only); gradients NaN for that
    # channel (the reference's backward gives 0 there, an artefact of its integer indexing), exact
    # elsewhere.
    x, shift = sample((2, 3, 9, 5), torch.float64, device)
    shift[1] = bad
    x.requires_grad_(True)
    shift.requires_grad_(True)
    y = temporal_shift(x, shift, stride)
    expected = temporal_shift_reference(x, shift, stride)
    torch.testing.assert_close(y, expected, equal_nan=True, **TOLERANCE[torch.float64])
    assert y[:, 1].isnan().all() and not y[:, [0, 2]].isnan().any()
    grad = torch.randn_like(y)
    grad_x, grad_shift = torch.autograd.grad(y, (x, shift), grad)
    want_x, want_shift = torch.autograd.grad(expected, (x, shift), grad)
    assert grad_x[:, 1].isnan().all() and grad_shift[1].isnan()
    torch.testing.assert_close(grad_x[:, [0, 2]], want_x[:, [0, 2]], **TOLERANCE[torch.float64])
    torch.testing.assert_close(grad_shift[[0, 2]], want_shift[[0, 2]], rtol=1e-10, atol=1e-10)


def test_integer_shifts_and_model_offsets(device):
    x = torch.randn(2, 4, 10, 3, device=device)
    shift = torch.tensor([-3.0, 0.0, 2.0, 0.5], device=device)
    y = temporal_shift(x, shift, 2)
    torch.testing.assert_close(y, temporal_shift_reference(x, shift, 2))
    torch.testing.assert_close(y[:, 1], x[:, 1, ::2])


@pytest.mark.parametrize("stride", [1, 2])
def test_gradcheck_float64(stride):
    torch.manual_seed(0)
    x = torch.randn(2, 3, 7, 4, dtype=torch.float64, requires_grad=True)
    shift = torch.tensor([-1.3, 0.4, 2.6], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: temporal_shift(a, b, stride), (x, shift))


def test_only_needed_gradients_are_returned():
    x = torch.randn(1, 2, 5, 3, requires_grad=True)
    shift = torch.tensor([0.3, -0.6])
    temporal_shift(x, shift).sum().backward()
    assert x.grad is not None and shift.grad is None


def test_double_backward_says_not_supported():
    x = torch.randn(1, 2, 5, 3, dtype=torch.float64, requires_grad=True)
    shift = torch.tensor([0.3, -0.6], dtype=torch.float64, requires_grad=True)
    (grad_x,) = torch.autograd.grad(temporal_shift(x, shift).square().sum(), x, create_graph=True)
    with pytest.raises(NotImplementedError, match="double backward is not supported"):
        grad_x.sum().backward()


def test_non_contiguous_and_empty_inputs():
    x = torch.randn(2, 6, 25, 9).transpose(2, 3)  # (2, 6, 9, 25), non-contiguous
    shift = torch.randn(12)[::2]
    assert not x.is_contiguous() and not shift.is_contiguous()
    torch.testing.assert_close(temporal_shift(x, shift, 2), temporal_shift_reference(x, shift, 2))
    assert temporal_shift(torch.zeros(0, 3, 6, 2), torch.zeros(3), 2).shape == (0, 3, 3, 2)
    assert temporal_shift(torch.zeros(1, 3, 1, 2), torch.zeros(3), 2).shape == (1, 3, 0, 2)
    x = torch.zeros(0, 3, 6, 2, requires_grad=True)
    temporal_shift(x, torch.zeros(3)).sum().backward()
    assert x.grad.shape == x.shape


def test_bad_input_errors_name_argument_and_shape():
    with pytest.raises(ValueError, match=r"x must have shape \(N, C, T, V\)"):
        temporal_shift(torch.zeros(3, 6, 2), torch.zeros(3))
    with pytest.raises(ValueError, match=r"shift.size\(0\) must equal C of x"):
        temporal_shift(torch.zeros(1, 3, 6, 2), torch.zeros(4))
    with pytest.raises(ValueError, match="stride must be a positive integer"):
        temporal_shift(torch.zeros(1, 3, 6, 2), torch.zeros(3), 0)
    with pytest.raises(TypeError, match="shift has dtype Double but x has dtype Float"):
        temporal_shift(torch.zeros(1, 3, 6, 2), torch.zeros(3, dtype=torch.float64))
    with pytest.raises(TypeError, match="x must be float32 or float64"):
        temporal_shift(torch.zeros(1, 3, 6, 2, dtype=torch.int64), torch.zeros(3, dtype=torch.int64))


@pytest.mark.parametrize("stride", [1, 2])
def test_opcheck(stride):
    x = torch.randn(2, 4, 9, 5, dtype=torch.float64, requires_grad=True)
    shift = torch.tensor([-1.5, 0.25, 0.0, 3.7], dtype=torch.float64, requires_grad=True)
    torch.library.opcheck(torch.ops.skdcore.temporal_shift.default, (x, shift, stride))
    grad = torch.randn(2, 4, 9 // stride, 5, dtype=torch.float64)
    torch.library.opcheck(torch.ops.skdcore._temporal_shift_backward.default,
                          (grad, x.detach(), shift.detach(), stride))


def test_torch_compile_fullgraph():
    def step(x, shift):
        return torch.relu(temporal_shift(x * 2, shift, 2)).sum(dim=(2, 3))

    x = torch.randn(2, 4, 10, 3, requires_grad=True)
    shift = torch.tensor([0.2, -1.4, 2.5, 0.0], requires_grad=True)
    compiled = torch.compile(step, fullgraph=True, backend="aot_eager")
    torch.testing.assert_close(compiled(x, shift), step(x, shift))
    compiled(x, shift).sum().backward()
    assert x.grad is not None and shift.grad is not None


@pytest.mark.cuda
def test_cuda_matches_cpu():
    x, shift = sample((4, 16, 20, 25), torch.float32, "cpu")
    grad = torch.randn(4, 16, 10, 25)
    results = []
    for device in ("cpu", "cuda"):
        xd = x.detach().to(device).requires_grad_(True)  # leaves on each device, so .grad fills
        sd = shift.detach().to(device).requires_grad_(True)
        y = temporal_shift(xd, sd, 2)
        y.backward(grad.to(device))
        results.append([t.detach().cpu() for t in (y, xd.grad, sd.grad)])
    for cpu, cuda in zip(*results, strict=True):
        torch.testing.assert_close(cuda, cpu, rtol=1e-4, atol=1e-4)


def test_backward_op_checks_grad_shape():
    x, shift = torch.zeros(1, 3, 6, 2), torch.zeros(3)
    expected = r"grad must have the output shape \(N, C, T // stride, V\) = \(1, 3, 3, 2\)"
    with pytest.raises(ValueError, match=expected):
        torch.ops.skdcore._temporal_shift_backward(torch.zeros(1, 3, 6, 2), x, shift, 2)
