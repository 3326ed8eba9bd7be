"""Shift-GCN as used by the SKD reference (which follows the public Shift-GCN code).

Reads top to bottom like the paper's figure: spatial shift graph conv (ShiftGraphConv), temporal
shift conv (ShiftTemporalConv), a unit of both with a residual (ShiftGCNUnit), and the 10-unit
network (ShiftGCN). Attribute and parameter names follow the reference (``l1..l10``, ``gcn1``,
``tcn1``, ``Linear_weight``, ``Feature_Mask``, ``shift_in.ypos``, ``temporal_linear``, ...) so the
reference's state_dicts (e.g. the released SKD teacher) load with ``strict=True``.

Generalised beyond the reference: any number of joints V (the spatial shift is defined for any V),
persons M, input channels, classes, and per-unit widths/strides (a small student is a real use case);
the defaults reproduce the reference exactly.
"""
from __future__ import annotations

import math
from typing import Optional, Sequence, Union

import numpy as np
import torch
from torch import nn

from ..layouts import Layout, get_layout
from ..nn.ops_choice import ChoosesOps, check_ops
from ..ops.temporal_shift import temporal_shift
from ..reference.temporal_shift import temporal_shift_reference
from .shift_grad import SHIFT_GRAD_MODES, constrain_shift_grad
from .skeleton_model import SkeletonModel

REFERENCE_CHANNELS = (64, 64, 64, 64, 128, 128, 128, 256, 256, 256)
REFERENCE_STRIDES = (1, 1, 1, 1, 2, 1, 1, 2, 1, 1)


def spatial_shift_indices(num_joints: int, channels: int, direction: int) -> np.ndarray:
    """Index permutation of the flattened (V, C) features for a channel-wise shift over the joints.

    Output joint v, channel c reads input joint (v + direction * c) mod V, channel c: channel c is
    moved by c joints (direction +1 = the reference's ``shift_in``, -1 = its ``shift_out``).
    """
    joint = np.arange(num_joints)[:, None]
    channel = np.arange(channels)[None, :]
    source_joint = (joint + direction * channel) % num_joints
    return (source_joint * channels + channel).reshape(-1).astype(np.int64)


def conv_init(conv: nn.Conv2d) -> None:
    nn.init.kaiming_normal_(conv.weight, mode="fan_out")
    if conv.bias is not None:
        nn.init.zeros_(conv.bias)


def bn_init(bn: nn.Module, scale: float) -> None:
    nn.init.constant_(bn.weight, scale)
    nn.init.zeros_(bn.bias)


class ShiftGraphConv(nn.Module):
    """Spatial shift graph conv (reference ``Shift_gcn``) on x of shape (N, C_in, T, V).

    shift in (channel c moves by +c joints) -> feature mask tanh(m)+1 -> linear C_in->C_out ->
    shift out (-c joints) -> BatchNorm1d over V*C_out -> + down(x) -> ReLU.
    """

    def __init__(self, in_channels: int, out_channels: int, num_joints: int = 25):
        super().__init__()
        self.in_channels, self.out_channels, self.num_joints = in_channels, out_channels, num_joints
        if in_channels != out_channels:
            self.down = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1), nn.BatchNorm2d(out_channels))
            conv_init(self.down[0])
            bn_init(self.down[1], 1)
        else:
            self.down = nn.Identity()
        self.Linear_weight = nn.Parameter(torch.empty(in_channels, out_channels))
        nn.init.normal_(self.Linear_weight, 0, math.sqrt(1.0 / out_channels))
        self.Linear_bias = nn.Parameter(torch.zeros(1, 1, out_channels))
        self.Feature_Mask = nn.Parameter(torch.zeros(1, num_joints, in_channels))
        self.bn = nn.BatchNorm1d(num_joints * out_channels)
        self.relu = nn.ReLU()
        # NB: buffers (the reference used frozen Parameters): same state_dict keys, never optimised.
        shift_in = spatial_shift_indices(num_joints, in_channels, +1)
        shift_out = spatial_shift_indices(num_joints, out_channels, -1)
        self.register_buffer("shift_in", torch.from_numpy(shift_in))
        self.register_buffer("shift_out", torch.from_numpy(shift_out))

    def forward(self, x0: torch.Tensor) -> torch.Tensor:
        n, c, t, v = x0.shape
        x = x0.permute(0, 2, 3, 1).reshape(n * t, v * c)
        x = torch.index_select(x, 1, self.shift_in).view(n * t, v, c)
        x = x * (torch.tanh(self.Feature_Mask) + 1)
        x = torch.matmul(x, self.Linear_weight) + self.Linear_bias  # (n*t, v, C_out)
        x = torch.index_select(x.reshape(n * t, -1), 1, self.shift_out)
        x = self.bn(x)
        x = x.view(n, t, v, self.out_channels).permute(0, 3, 1, 2)  # (n, C_out, t, v)
        return self.relu(x + self.down(x0))


class TemporalShift(ChoosesOps, nn.Module):
    """Learnable per-channel fractional shift in time (reference ``Shift`` module).

    ``ypos`` (C,) is the temporal offset in frames; for stride 2 the reference samples at
    ``ypos + 0.5`` (between the two frames a strided output covers), reproduced here.
    ``xpos`` is the reference's offset along the joints, initialised at +-1e-8 and never trained
    there (its gradient is forced to 0), so it is kept only as a buffer for checkpoint compatibility.
    ``shift_grad``: "reference" rescales the ypos gradient like the reference CUDA op
    (sign(g) * 0.01); "exact" keeps the true gradient. ``ops``: "fused" (the compiled
    ``skdcore.ops.temporal_shift``) or "reference" (pure PyTorch).
    """

    def __init__(self, channels: int, stride: int = 1, init_scale: float = 1.0, shift_grad: str = "reference",
                 ops: str = "fused"):
        super().__init__()
        if shift_grad not in SHIFT_GRAD_MODES:
            raise ValueError(
                f"TemporalShift: shift_grad must be one of {SHIFT_GRAD_MODES}, got {shift_grad!r}")
        self.stride, self.shift_grad = stride, shift_grad
        self.ops = check_ops(ops, "TemporalShift")
        self.register_buffer("xpos", torch.empty(channels).uniform_(-1e-8, 1e-8))
        self.ypos = nn.Parameter(torch.empty(channels).uniform_(-init_scale, init_scale))

    @property
    def gradient_ignores_loss_scale(self) -> bool:
        """Whether ypos's gradient is sign(g) * 0.01 whatever the loss's scale (fp16 loss scaling would
        divide it by the scale: train/amp.py refuses that)."""
        return self.shift_grad == "reference"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shift = constrain_shift_grad(self.ypos) if self.shift_grad == "reference" else self.ypos
        if self.stride != 1:
            shift = shift + 0.5
        return self.call_op(temporal_shift, temporal_shift_reference, x, shift, self.stride)

    def extra_repr(self) -> str:
        return f"{self.ypos.numel()}, stride={self.stride}, shift_grad={self.shift_grad!r}, ops={self.ops!r}"


class ShiftTemporalConv(nn.Module):
    """Temporal shift conv (reference ``Shift_tcn``).

    BN -> shift -> 1x1 conv -> ReLU -> shift (with the unit's stride) -> BN.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, shift_grad: str = "reference",
                 ops: str = "fused"):
        super().__init__()
        self.bn = nn.BatchNorm2d(in_channels)
        self.bn2 = nn.BatchNorm2d(out_channels)
        bn_init(self.bn2, 1)
        self.relu = nn.ReLU(inplace=True)
        self.shift_in = TemporalShift(in_channels, 1, shift_grad=shift_grad, ops=ops)
        self.shift_out = TemporalShift(out_channels, stride, shift_grad=shift_grad, ops=ops)
        self.temporal_linear = nn.Conv2d(in_channels, out_channels, 1)
        nn.init.kaiming_normal_(self.temporal_linear.weight, mode="fan_out")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.shift_in(self.bn(x))
        x = self.relu(self.temporal_linear(x))
        return self.bn2(self.shift_out(x))


class ResidualProjection(nn.Module):
    """1x1 conv with temporal stride + BN (reference ``tcn`` with kernel_size=1)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 1, stride=(stride, 1))
        self.bn = nn.BatchNorm2d(out_channels)
        conv_init(self.conv)
        bn_init(self.bn, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(x))


class ShiftGCNUnit(nn.Module):
    """relu(tcn1(gcn1(x)) + residual(x)) (reference ``TCN_GCN_unit``)."""

    def __init__(self, in_channels: int, out_channels: int, num_joints: int = 25, stride: int = 1,
                 residual: bool = True, shift_grad: str = "reference", ops: str = "fused"):
        super().__init__()
        self.gcn1 = ShiftGraphConv(in_channels, out_channels, num_joints)
        self.tcn1 = ShiftTemporalConv(out_channels, out_channels, stride, shift_grad, ops)
        self.relu = nn.ReLU()
        if not residual:
            self.residual = None
        elif in_channels == out_channels and stride == 1:
            self.residual = nn.Identity()
        else:
            self.residual = ResidualProjection(in_channels, out_channels, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.tcn1(self.gcn1(x))
        if self.residual is not None:
            residual = self.residual(x)
            # NB: strided shift gives T // s frames, the strided 1x1 conv ceil(T / s): equal for even T.
            y = y + residual[:, :, : y.shape[2]]
        return self.relu(y)


class ShiftGCN(SkeletonModel):
    """Shift-GCN backbone + classifier; ``forward(x (N, C, T, V, M)) -> (logits, features)``.

    Defaults reproduce the SKD reference teacher (NTU60, 25 joints, 2 persons, 3->64x4, 128x3,
    256x3, stride 2 at units 5 and 8). ``channels`` / ``strides`` give one entry per unit
    (units are named l1..lK). ``adaption_channels`` adds the student's 1x1 adaption conv.
    ``layout`` (a built-in name or Layout), if given, sets ``num_joints``; the spatial shift itself
    uses no edges. ``shift_grad``: "reference" (sign(g) * 0.01 for the temporal offsets, as the
    reference CUDA op) or "exact". ``ops``: "fused" (compiled temporal_shift) or "reference".
    ``centre_input``: subtract each clip's mean joint position first (raw, uncentred recordings).
    """

    compiled_ops = ("temporal_shift",)

    def __init__(
        self,
        num_class: int = 60,
        num_joints: int = 25,
        num_person: int = 2,
        in_channels: int = 3,
        channels: Sequence[int] = REFERENCE_CHANNELS,
        strides: Sequence[int] = REFERENCE_STRIDES,
        adaption_channels: Optional[int] = None,
        shift_grad: str = "reference",
        ops: str = "fused",
        layout: Union[str, Layout, None] = None,
        centre_input: bool = False,
    ):
        if layout is not None:  # the shift needs only the joint count
            num_joints = get_layout(layout).num_joints
        channels, strides = tuple(int(c) for c in channels), tuple(int(s) for s in strides)
        if not channels or len(channels) != len(strides):
            raise ValueError("ShiftGCN: channels and strides need one entry per unit (same non-zero length), "
                             f"got {len(channels)} channels and {len(strides)} strides")
        if any(c < 1 for c in channels) or any(s not in (1, 2) for s in strides):
            raise ValueError(
                f"ShiftGCN: channels must be positive and strides 1 or 2, got {channels}, {strides}")
        super().__init__(num_class, num_joints, num_person, in_channels, channels[-1], adaption_channels,
                         ops, centre_input)
        self.channels, self.strides = channels, strides
        self.data_bn = nn.BatchNorm1d(num_person * in_channels * num_joints)
        bn_init(self.data_bn, 1)
        self.num_units = len(channels)
        previous = in_channels
        for index, (width, stride) in enumerate(zip(channels, strides, strict=True), start=1):
            unit = ShiftGCNUnit(previous, width, num_joints, stride, residual=index > 1,
                                shift_grad=shift_grad, ops=ops)
            self.add_module(f"l{index}", unit)
            previous = width
        nn.init.normal_(self.fc.weight, 0, math.sqrt(2.0 / num_class))

    def backbone(self, x: torch.Tensor) -> torch.Tensor:
        for index in range(1, self.num_units + 1):
            x = getattr(self, f"l{index}")(x)
        return x
