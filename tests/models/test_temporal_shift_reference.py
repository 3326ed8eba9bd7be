"""temporal_shift_reference vs a literal per-element loop, torch.roll, and gradcheck."""
import math

import pytest
import torch

from skdcore.models import constrain_shift_grad
from skdcore.reference.temporal_shift import temporal_shift_reference


def shift_loop(x, shift, stride):
    """One output element at a time, as the reference CUDA forward kernel computes it."""
    N, C, T, V = x.shape
    T_out = T // stride
    y = torch.zeros(N, C, T_out, V, dtype=x.dtype)
    for n in range(N):
        for c in range(C):
            s = float(shift[c])
            first = math.floor(s)
            frac = s - first
            for t in range(T_out):
                for v in range(V):
                    total = 0.0
                    for source, weight in ((t * stride + first, 1 - frac), (t * stride + first + 1, frac)):
                        if 0 <= source < T:
                            total += weight * float(x[n, c, source, v])
                    y[n, c, t, v] = total
    return y


@pytest.mark.parametrize("stride", [1, 2, 3])
def test_matches_loop_on_fractional_shifts(stride):
    torch.manual_seed(stride)
    x = torch.randn(2, 5, 9, 3, dtype=torch.float64)
    shift = torch.tensor([-2.7, -0.25, 0.0, 1.5, 11.3], dtype=torch.float64)  # last one leaves the clip
    torch.testing.assert_close(temporal_shift_reference(x, shift, stride), shift_loop(x, shift, stride))


def roll_zero_fill(x, offset):
    """Channel series moved so that y[t] = x[t + offset], zeros where t + offset leaves the clip."""
    T = x.shape[-2]
    rolled = torch.roll(x, shifts=-offset, dims=-2)
    keep = torch.arange(T) + offset
    inside = ((keep >= 0) & (keep < T)).to(x.dtype).view(-1, 1)
    return rolled * inside


def test_integer_shifts_equal_roll_with_zero_fill():
    torch.manual_seed(0)
    x = torch.randn(3, 4, 10, 5)
    offsets = [-3, 0, 2, 12]
    y = temporal_shift_reference(x, torch.tensor(offsets, dtype=torch.float32), 1)
    for c, offset in enumerate(offsets):
        torch.testing.assert_close(y[:, c], roll_zero_fill(x[:, c], offset))


def test_stride_two_keeps_every_other_frame_at_zero_shift():
    x = torch.randn(2, 3, 8, 4)
    torch.testing.assert_close(temporal_shift_reference(x, torch.zeros(3), 2), x[:, :, ::2])
    assert temporal_shift_reference(torch.randn(1, 3, 7, 4), torch.zeros(3), 2).shape == (1, 3, 3, 4)


def test_gradcheck_x_and_shift():
    torch.manual_seed(1)
    x = torch.randn(2, 3, 7, 2, dtype=torch.float64, requires_grad=True)
    # Away from integers: the interpolation is piecewise linear in the shift.
    shift = torch.tensor([-1.3, 0.4, 2.6], dtype=torch.float64, requires_grad=True)
    for stride in (1, 2):
        assert torch.autograd.gradcheck(lambda a, b, s=stride: temporal_shift_reference(a, b, s), (x, shift))


def test_empty_batch_and_bad_input():
    y = temporal_shift_reference(torch.zeros(0, 3, 6, 2), torch.zeros(3), 2)
    assert y.shape == (0, 3, 3, 2)
    with pytest.raises(ValueError, match=r"shift must be \(C,\) = \(3,\)"):
        temporal_shift_reference(torch.zeros(1, 3, 6, 2), torch.zeros(4))
    with pytest.raises(ValueError, match="x must be"):
        temporal_shift_reference(torch.zeros(3, 6, 2), torch.zeros(3))
    with pytest.raises(ValueError, match="stride must be a positive integer"):
        temporal_shift_reference(torch.zeros(1, 3, 6, 2), torch.zeros(3), 0)


def test_constrain_shift_grad_is_reference_rule():
    shift = torch.tensor([0.5, -1.0, 2.0], requires_grad=True)
    out = constrain_shift_grad(shift)
    torch.testing.assert_close(out, shift.detach())
    (out * torch.tensor([3.0, -0.002, 0.0])).sum().backward()
    torch.testing.assert_close(shift.grad, torch.tensor([0.01, -0.01, 1e-4]))
