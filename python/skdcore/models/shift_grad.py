"""The reference Shift-GCN op's rescaled gradient for the temporal offsets, as a separate step.

The reference CUDA op does not return d loss / d ypos: it averages the gradient over the batch
and then replaces it per channel by sign(g) * 0.01 (and by 1e-4 where g == 0), a fixed-size step
that keeps the offsets from jumping (its "applyShiftConstraint"). Keeping that rule out of the
shift op itself leaves the op with its exact, gradcheck-able gradient; the model inserts this
identity-in-forward function in front of the op when ``shift_grad="reference"``.
"""
from __future__ import annotations

import torch

SHIFT_GRAD_MODES = ("reference", "exact")
REFERENCE_SHIFT_STEP = 0.01
REFERENCE_ZERO_GRAD_STEP = 1e-4


class _ConstrainShiftGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, shift: torch.Tensor) -> torch.Tensor:
        return shift.clone()

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        step = torch.sign(grad) * REFERENCE_SHIFT_STEP
        return torch.where(grad == 0, torch.full_like(grad, REFERENCE_ZERO_GRAD_STEP), step)


def constrain_shift_grad(shift: torch.Tensor) -> torch.Tensor:
    """Identity on ``shift`` (C,); its gradient becomes sign(g) * 0.01 (1e-4 where g == 0).

    Without a gradient to rescale (``torch.no_grad()``, inference) or under ``torch.jit.trace`` (a
    traced module is for inference and cannot hold a Python autograd.Function) ``shift`` is returned
    as is.
    """
    if torch.jit.is_tracing() or not (torch.is_grad_enabled() and shift.requires_grad):
        return shift
    return _ConstrainShiftGrad.apply(shift)
