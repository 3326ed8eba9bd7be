"""GraphMatchingLoss: SKD's structural distillation loss as an nn.Module."""

from __future__ import annotations

import torch
from torch import nn

from ..ops.graph_matching import graph_matching_loss


class GraphMatchingLoss(nn.Module):
    """Module form of :func:`skdcore.ops.graph_matching_loss` (options fixed at construction).

    ``loss = GraphMatchingLoss()(student_features, teacher_features)``; both (N, C, T, V) or
    (N, P, C). The teacher never receives a gradient (SKD's teacher is frozen).

    Args:
        distance: ``"euclidean"`` (SKD) or ``"squared_euclidean"``.
        loss: ``"smooth_l1"`` (SKD) or ``"l2"``.
        beta: smooth-L1 threshold (>= 0).
        normalize: ``"mean_positive"`` (SKD) or ``"none"``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.
    """

    def __init__(
        self,
        distance: str = "euclidean",
        loss: str = "smooth_l1",
        beta: float = 1.0,
        normalize: str = "mean_positive",
        reduction: str = "mean",
    ) -> None:
        super().__init__()
        if beta < 0:
            raise ValueError(
                f"GraphMatchingLoss: beta must be >= 0 (0 makes smooth_l1 an L1 loss), got {beta}"
            )
        self.distance = distance
        self.loss = loss
        self.beta = float(beta)
        self.normalize = normalize
        self.reduction = reduction

    def forward(self, student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
        return graph_matching_loss(
            student,
            teacher,
            distance=self.distance,
            loss=self.loss,
            beta=self.beta,
            normalize=self.normalize,
            reduction=self.reduction,
        )

    def extra_repr(self) -> str:
        return (
            f"distance={self.distance!r}, loss={self.loss!r}, beta={self.beta}, "
            f"normalize={self.normalize!r}, reduction={self.reduction!r}"
        )
