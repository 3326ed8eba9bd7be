"""skdcore.temporal_shift: Shift-GCN's learnable per-channel fractional shift in time (fused C++/CUDA op)."""
from __future__ import annotations

import torch

from ._fake_checks import check_same_device, op_checks

_check, _check_type = op_checks("temporal_shift")


def temporal_shift(x: torch.Tensor, shift: torch.Tensor, stride: int = 1) -> torch.Tensor:
    """Move every channel of ``x`` in time by its own real-valued offset, with linear interpolation.

    Args:
        x: (N, C, T, V) float32/float64 tensor (CPU or CUDA); non-contiguous input is accepted.
        shift: (C,) offsets in frames, same dtype/device as ``x``; positive reads later frames.
        stride: temporal stride s >= 1 (output frame t samples input time t*s + shift).

    Returns:
        (N, C, T // stride, V): ``y[n,c,t,v] = (1-f) x[n,c,t*s+i,v] + f x[n,c,t*s+i+1,v]`` with
        ``i = floor(shift[c])``, ``f = shift[c] - i`` and zeros outside the clip: the forward of the
        Shift-GCN "shift" CUDA op along time
        (see :func:`skdcore.reference.temporal_shift.temporal_shift_reference`).
        Differentiable w.r.t. ``x`` and ``shift`` with the exact gradient (single backward); the
        reference's rescaled shift gradient is :func:`skdcore.models.constrain_shift_grad`.

    NaN policy: a non-finite ``shift[c]`` (NaN or +-inf, e.g. after a diverged update) makes channel
    ``c`` of the output NaN, as in the reference, and its gradients (``grad_x[:, c]``,
    ``grad_shift[c]``) NaN too; other channels are unaffected. NaN in ``x`` propagates as usual.
    """
    return torch.ops.skdcore.temporal_shift(x, shift, stride)


def _check_fake_args(x, shift, stride, grad=None):
    check_same_device("temporal_shift", "x", x, (("shift", shift), ("grad", grad)))
    _check(x.dim() == 4, lambda: f"x must be (N, C, T, V), got {tuple(x.shape)}")
    _check(shift.dim() == 1 and shift.shape[0] == x.shape[1],
           lambda: f"shift must be (C,) = ({x.shape[1]},), got {tuple(shift.shape)}")
    _check(stride >= 1, lambda: f"stride must be a positive integer, got {stride}")


@torch.library.register_fake("skdcore::temporal_shift")
def _temporal_shift_fake(x, shift, stride=1):
    _check_fake_args(x, shift, stride)
    N, C, T, V = x.shape
    return x.new_empty((N, C, T // stride, V))


@torch.library.register_fake("skdcore::_temporal_shift_backward")
def _temporal_shift_backward_fake(grad, x, shift, stride):
    _check_fake_args(x, shift, stride, grad)
    return (torch.empty_like(x, memory_format=torch.contiguous_format),
            torch.empty_like(shift, memory_format=torch.contiguous_format))
