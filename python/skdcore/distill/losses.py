"""The four SKD losses: task CE, logit KL, feature MSE and graph matching (see docs/method.md).

The reference sums them with weight 1 each and uses no KL temperature; both are options here
(``LossConfig``, whose defaults come from ``LOSS_WEIGHTS``). The graph matching loss is the fused
op or the pure-PyTorch reference: :func:`graph_matching_loss_for` (the run's ``ops`` switch).
"""
from __future__ import annotations

from typing import Callable, Dict, Optional

import torch
import torch.nn.functional as F

# The four losses and their default weights (the reference: 1 each); "ce" is the task loss.
LOSS_WEIGHTS = {"ce": 1.0, "kl": 1.0, "mse": 1.0, "graph_matching": 1.0}
LOSS_NAMES = tuple(LOSS_WEIGHTS)


def graph_matching_loss_for(ops: str) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """The graph matching loss of ``ops``: "fused" (the compiled op) or "reference" (pure PyTorch)."""
    if ops == "fused":
        from ..ops.graph_matching import graph_matching_loss

        return graph_matching_loss
    if ops == "reference":
        from ..reference.graph_matching import graph_matching_loss_reference

        return graph_matching_loss_reference
    raise ValueError(f"ops must be 'fused' or 'reference', got {ops!r}")


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
        raise ValueError(f"feature_mse: student features {tuple(student_features.shape)} and teacher "
                         f"features {tuple(teacher_features.shape)} differ; give the student "
                         "adaption_channels equal to the teacher's feature width and the same temporal "
                         "strides")
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
    """The weighted losses of one SKD step, keyed by name (``LOSS_NAMES``; a missing weight is its
    ``LOSS_WEIGHTS`` default); a distillation loss with weight 0 is not computed."""
    weights = {**LOSS_WEIGHTS, **weights}
    terms = {
        "kl": lambda: kl_distillation(student_logits, teacher_logits, temperature),
        "mse": lambda: feature_mse(student_features, teacher_features),
        "graph_matching": lambda: graph_matching(student_features, teacher_features.detach()),
    }
    losses = {"ce": weights["ce"] * cross_entropy(student_logits, labels)}
    for name, term in terms.items():
        if weights[name] > 0:
            losses[name] = weights[name] * term()
    return losses
