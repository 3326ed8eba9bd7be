"""The four SKD losses: task CE, logit KL, feature MSE and graph matching (see SKD_NOTES.md).

The reference sums them with weight 1 each and uses no KL temperature; both are options here
(``LossConfig``). The graph matching loss is the fused op or the pure-PyTorch reference, chosen
by :func:`skdcore.train.ops_select.select_ops` (the one ``ops: fused|reference`` switch).
"""
from __future__ import annotations

from typing import Callable, Dict, Optional

import torch
import torch.nn.functional as F

LOSS_NAMES = ("ce", "kl", "mse", "graph_matching")


def cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Task loss: logits (N, num_class), labels (N,) int64."""
    return F.cross_entropy(logits, labels)


def kl_distillation(student_logits: torch.Tensor, teacher_logits: torch.Tensor,
                    temperature: Optional[float] = None) -> torch.Tensor:
    """KL(softmax(t) || softmax(s)) as the reference: ``kl_div(log_softmax(s), softmax(t), 'batchmean')``.

    With a temperature T both logits are divided by T and the loss is scaled by T^2 (Hinton et al.),
    so its gradient magnitude stays comparable; ``None`` is the reference (T = 1, no scaling).
    """
    teacher_logits = teacher_logits.detach()
    if temperature is None:
        return F.kl_div(F.log_softmax(student_logits, 1), F.softmax(teacher_logits, 1), reduction="batchmean")
    t = float(temperature)
    return F.kl_div(F.log_softmax(student_logits / t, 1), F.softmax(teacher_logits / t, 1),
                    reduction="batchmean") * (t * t)


def feature_mse(student_features: torch.Tensor, teacher_features: torch.Tensor) -> torch.Tensor:
    """MSE between the student's (adapted) and the teacher's final feature maps (N*M, C, T', V)."""
    if student_features.shape != teacher_features.shape:
        raise ValueError(f"feature_mse: student features {tuple(student_features.shape)} and teacher features "
                         f"{tuple(teacher_features.shape)} differ; give the student adaption_channels equal to the "
                         "teacher's feature width and the same temporal strides")
    return F.mse_loss(student_features, teacher_features.detach())


def skd_losses(
    student_logits: torch.Tensor,  # (N, num_class)
    student_features: torch.Tensor,  # (N*M, C, T', V), after the adaption conv
    teacher_logits: torch.Tensor,  # (N, num_class)
    teacher_features: torch.Tensor,  # (N*M, C, T', V)
    labels: torch.Tensor,  # (N,)
    weights: Dict[str, float],
    graph_matching: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    temperature: Optional[float] = None,
) -> Dict[str, torch.Tensor]:
    """The weighted losses of one SKD step, keyed by name; a loss with weight 0 is not computed."""
    losses = {"ce": weights.get("ce", 1.0) * cross_entropy(student_logits, labels)}
    if weights.get("kl", 1.0) > 0:
        losses["kl"] = weights.get("kl", 1.0) * kl_distillation(student_logits, teacher_logits, temperature)
    if weights.get("mse", 1.0) > 0:
        losses["mse"] = weights.get("mse", 1.0) * feature_mse(student_features, teacher_features)
    if weights.get("graph_matching", 1.0) > 0:
        losses["graph_matching"] = weights.get("graph_matching", 1.0) * graph_matching(
            student_features, teacher_features.detach())
    return losses
