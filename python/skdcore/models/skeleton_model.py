"""What every skdcore backbone shares: input checks, person folding, pooling head, adaption.

Input layout everywhere: x of shape (N, C, T, V, M) (batch, coordinates, frames, joints, persons).
``forward`` returns ``(logits, features)``: logits (N, num_class) and the final feature map
(N*M, C_feat, T', V) before pooling (persons folded into the batch), which is what feature MSE
and the graph matching loss read. A student built with ``adaption_channels`` passes that map
through one 1x1 conv ("adaption", as in the SKD reference) before returning it; the logits are
pooled from the un-adapted map, exactly as the reference does.

A model class knows itself: ``compiled_ops`` names the skdcore ops its layers call (``ops="fused"``,
the default; ``ops="reference"`` runs their pure-PyTorch references, see
:mod:`skdcore.nn.ops_choice`), and :meth:`SkeletonModel.arguments_from_data` says how it is built
for a dataset of clips shaped (N, C, T, V, M).
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Sequence, Tuple

import torch
from torch import nn

from ..graph import partition_matrices
from ..layouts import get_layout
from ..nn.ops_choice import check_ops


def centre_on_clip_mean(x: torch.Tensor) -> torch.Tensor:
    """Each clip of x (N, C, T, V, M) minus the mean position of its present joints; absent joints
    (all coordinates 0, e.g. occluded in LQ) stay 0.

    NB: where a person stands in raw, uncentred recordings differs from clip to clip by far more than
    the joints move within a clip; data_bn then scales the motion down to a small signal and a small
    GCN underfits (benchmarks/RESULTS.md, "Small data"). One offset per clip keeps the motion (also
    of the whole body) and, unlike centring each frame on one joint, does not depend on a joint an
    occlusion may hide.
    """
    present = (x != 0).any(dim=1, keepdim=True).to(x.dtype)  # (N, 1, T, V, M)
    count = present.sum(dim=(2, 3, 4), keepdim=True).clamp_min(1.0)
    mean = (x * present).sum(dim=(2, 3, 4), keepdim=True) / count  # (N, C, 1, 1, 1)
    return (x - mean) * present


def stacked_blocks(model: str, channels: Sequence[int], strides: Sequence[int], layout: Any,
                   A: Optional[torch.Tensor]) -> Tuple[tuple, tuple, torch.Tensor]:
    """(channels, strides, A) of a stack of graph blocks, checked: one width and one temporal stride per
    block, and the (K, V, V) float32 partitions (given, or the layout's)."""
    channels, strides = tuple(int(c) for c in channels), tuple(int(s) for s in strides)
    if not channels or len(channels) != len(strides):
        raise ValueError(f"{model}: channels and strides need one entry per block (same non-zero length), "
                         f"got {len(channels)} channels and {len(strides)} strides")
    if A is None:
        A = torch.from_numpy(partition_matrices(get_layout(layout)))
    return channels, strides, torch.as_tensor(A, dtype=torch.float32)


class SkeletonModel(nn.Module):
    """Base class: subclasses set ``self.data_bn`` and implement ``backbone(x) -> (N*M, C, T', V)``."""

    compiled_ops: Sequence[str] = ()  # the skdcore ops the layers call when ops="fused"

    def __init__(self, num_class: int, num_joints: int, num_person: int, in_channels: int,
                 feature_channels: int, adaption_channels: Optional[int] = None, ops: str = "fused",
                 centre_input: bool = False):
        super().__init__()
        self.ops = check_ops(ops, type(self).__name__)
        self.centre_input = bool(centre_input)
        for name, value in (("num_class", num_class), ("num_joints", num_joints),
                            ("num_person", num_person), ("in_channels", in_channels)):
            if int(value) != value or value < 1:
                raise ValueError(f"{type(self).__name__}: {name} must be a positive integer, got {value!r}")
        self.num_class, self.num_joints = num_class, num_joints
        self.num_person, self.in_channels = num_person, in_channels
        self.feature_channels = feature_channels
        self.fc = nn.Linear(feature_channels, num_class)
        # NB: attribute name "adaption" (sic) matches the SKD reference so its student checkpoints load.
        self.adaption = nn.Conv2d(feature_channels, adaption_channels, 1) if adaption_channels else None

    @classmethod
    def arguments_from_data(cls, shape: Sequence[int], layout: Any = None) -> Dict[str, Any]:
        """Constructor arguments implied by clips of shape (N, C, T, V, M) and the data's layout
        (a built-in name, a Layout, or a layout dict as stored in a prepared dataset's manifest)."""
        _, channels, _, joints, persons = shape
        args = {"in_channels": int(channels), "num_person": int(persons), "num_joints": int(joints)}
        if layout is not None:
            args["layout"] = layout
        return args

    # -- input ---------------------------------------------------------------------------------
    def check_input(self, x: torch.Tensor) -> None:
        if x.dim() != 5:
            raise ValueError(
                f"{type(self).__name__}: x must be (N, C, T, V, M) = (batch, {self.in_channels}, frames, "
                f"{self.num_joints}, persons), got shape {tuple(x.shape)}; add missing axes with x[..., None]"
            )
        _, C, _, V, M = x.shape
        if C != self.in_channels:
            raise ValueError(f"{type(self).__name__}: x has C={C} channels but the model was built with "
                             f"in_channels={self.in_channels}")
        if V != self.num_joints:
            raise ValueError(f"{type(self).__name__}: x has V={V} joints but the model was built for "
                             f"{self.num_joints} (num_joints / layout)")
        if self.persons_fixed and M != self.num_person:
            raise ValueError(f"{type(self).__name__}: x has M={M} persons but the model was built with "
                             f"num_person={self.num_person} (its data_bn normalises each person's slot)")

    # Shift-GCN's data_bn has one slot per person, so M is fixed at construction; ST-GCN's is shared.
    persons_fixed = True

    def normalise_and_fold(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, T, V, M) -> [centre_input: centre_on_clip_mean] -> data_bn -> (N*M, C, T, V)."""
        if self.centre_input:
            x = centre_on_clip_mean(x)
        N, C, T, V, M = x.shape
        bn_persons = M if self.persons_fixed else 1
        x = x.permute(0, 4, 3, 1, 2).contiguous().view(N * M // bn_persons, bn_persons * V * C, T)
        x = self.data_bn(x)
        return x.view(N, M, V, C, T).permute(0, 1, 3, 4, 2).contiguous().view(N * M, C, T, V)

    def backbone(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    # -- output --------------------------------------------------------------------------------
    def forward(self, x: torch.Tensor):
        self.check_input(x)
        N, M = x.shape[0], x.shape[4]
        features = self.backbone(self.normalise_and_fold(x))  # (N*M, C, T', V)
        pooled = features.reshape(N, M, features.shape[1], -1).mean(3).mean(1)  # (N, C)
        logits = self.fc(pooled)
        if self.adaption is not None:
            features = self.adaption(features)
        return logits, features
