"""Reference temporal shift (Shift-GCN's learnable fractional shift in time).

Semantics, for x of shape (N, C, T, V), a per-channel offset ``shift`` (C,) and a stride s::

    T_out = T // s
    y[n, c, t, v] = (1 - f_c) * x[n, c, t*s + i_c, v] + f_c * x[n, c, t*s + i_c + 1, v]
    with i_c = floor(shift[c]), f_c = shift[c] - i_c, and x[.., tau, ..] = 0 outside 0 <= tau < T

i.e. every channel is moved in time by its own real-valued offset with linear interpolation
between the two neighbouring frames and zeros beyond the clip. This is the forward pass of the
Shift-GCN "shift" CUDA op (its ``ypos`` axis; the op's other axis, ``xpos``, moves along the
joints but is frozen at ~1e-8 by the reference, whose backward forces its gradient to 0, so it is
below float32 resolution and not modelled here). The op's ``+0.5`` on the offset for stride 2 is
applied by the calling module (:class:`skdcore.models.TemporalShift`), not here.

Autograd through this function gives the exact gradient for ``x`` and ``shift``
(d y / d shift[c] = x[.., t*s+i_c+1, ..] - x[.., t*s+i_c, ..]); the reference CUDA op's
rescaled shift gradient is a separate, optional step (:func:`skdcore.models.constrain_shift_grad`).
"""
from __future__ import annotations

import torch


def temporal_shift_reference(
    x: torch.Tensor,  # (N, C, T, V)
    shift: torch.Tensor,  # (C,) offset in frames; positive reads later frames
    stride: int = 1,
) -> torch.Tensor:  # (N, C, T // stride, V)
    """Per-channel fractional shift in time with bilinear interpolation, zero outside the clip."""
    if x.dim() != 4:
        raise ValueError(f"temporal_shift: x must be (N, C, T, V), got shape {tuple(x.shape)}")
    N, C, T, V = x.shape
    if shift.shape != (C,):
        raise ValueError(f"temporal_shift: shift must be (C,) = ({C},) to match x, got {tuple(shift.shape)}")
    if int(stride) != stride or stride < 1:
        raise ValueError(f"temporal_shift: stride must be a positive integer, got {stride!r}")
    stride = int(stride)
    T_out = T // stride
    floor = torch.floor(shift.detach())
    frac = (shift - floor).to(x.dtype)  # (C,) carries the gradient to shift
    start = torch.arange(T_out, device=x.device) * stride
    # NB: clamped before the integer cast; beyond [-(T+2), T+1] both taps are outside the clip anyway.
    first = start.unsqueeze(0) + floor.clamp(-(T + 2), T + 1).to(torch.long).unsqueeze(1)  # (C, T_out)

    if T == 0 or T_out == 0:
        return x.new_zeros(N, C, T_out, V) + 0 * frac.sum()
    # Each (channel, frame) is one contiguous row of V values in the (N, C*T, V) view: index_select
    # copies whole rows, far cheaper than an elementwise gather.
    rows_of = x.reshape(N, C * T, V)
    channel_start = (torch.arange(C, device=x.device) * T).unsqueeze(1)

    def frames(index: torch.Tensor) -> torch.Tensor:  # (C, T_out) source frames -> (N, C, T_out, V)
        inside = ((index >= 0) & (index < T)).to(x.dtype).view(1, C, T_out, 1)
        rows = (channel_start + index.clamp(0, T - 1)).reshape(-1)
        return rows_of.index_select(1, rows).view(N, C, T_out, V) * inside

    weight_next = frac.view(1, C, 1, 1)
    return frames(first) * (1 - weight_next) + frames(first + 1) * weight_next
