"""Reference graph-matching (structural) distillation loss of SKD, materialising P x P matrices.

Each sample's feature map is a graph of P nodes (C-dim features). The pairwise distance matrix
of the student is matched to the teacher's after each is divided by the mean of its strictly
positive entries. Written to mirror the SKD reference code step by step (see docs/method.md).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

# NB: the reference clamps the Gram-form squared distance here before the square root, so a
# duplicate node pair gets distance sqrt(1e-12) = 1e-6 (> 0) and gradient 0 (clamped).
DISTANCE_CLAMP = 1e-12

DISTANCES = ("euclidean", "squared_euclidean")
LOSSES = ("smooth_l1", "l2")
NORMALIZATIONS = ("mean_positive", "none")
REDUCTIONS = ("mean", "sum", "none")


def as_nodes(features: torch.Tensor) -> torch.Tensor:
    """(N, C, T, V) feature map -> (N, P=T*V, C) node features; (N, P, C) passes through."""
    if features.dim() == 4:
        return features.flatten(2).transpose(1, 2)
    if features.dim() == 3:
        return features
    raise ValueError(f"features must be (N, C, T, V) or (N, P, C), got shape {tuple(features.shape)}")


def pairwise_distances(nodes: torch.Tensor, squared: bool = False) -> torch.Tensor:
    """(N, P, C) -> (N, P, P): Gram form ||a||^2 + ||b||^2 - 2 a.b, clamped, diagonal 0."""
    square_norms = nodes.pow(2).sum(dim=-1)
    gram = nodes @ nodes.transpose(1, 2)
    distances = (square_norms.unsqueeze(2) + square_norms.unsqueeze(1) - 2 * gram).clamp(min=DISTANCE_CLAMP)
    if not squared:
        distances = distances.sqrt()
    eye = torch.eye(nodes.shape[1], dtype=torch.bool, device=nodes.device)
    return distances.masked_fill(eye, 0.0)


def mean_positive(distances: torch.Tensor) -> torch.Tensor:
    """(N, P, P) -> (N, 1, 1): mean of the strictly positive entries; 1 where there are none."""
    positive = distances > 0
    count = positive.sum(dim=(1, 2), keepdim=True)
    total = torch.where(positive, distances, torch.zeros_like(distances)).sum(dim=(1, 2), keepdim=True)
    # NB: only a P = 1 graph has no positive entry (the clamp makes every off-diagonal one > 0);
    # its matrix is all zero, so dividing by 1 gives loss 0 instead of NaN.
    return torch.where(count > 0, total / count.clamp(min=1), torch.ones_like(total))


def graph_matching_loss_reference(
    student: torch.Tensor,
    teacher: torch.Tensor,
    *,
    distance: str = "euclidean",
    loss: str = "smooth_l1",
    beta: float = 1.0,
    normalize: str = "mean_positive",
    reduction: str = "mean",
) -> torch.Tensor:
    """SKD graph-matching loss. student/teacher: (N, C, T, V) or (N, P, C); teacher gets no gradient.

    Returns a scalar (reduction mean | sum) or (N,) per-sample losses (reduction none).
    """
    if distance not in DISTANCES or loss not in LOSSES or normalize not in NORMALIZATIONS:
        raise ValueError(f"bad option: distance={distance!r} loss={loss!r} normalize={normalize!r}")
    if beta < 0:
        raise ValueError(f"beta must be >= 0, got {beta}")
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    squared = distance == "squared_euclidean"
    student_distances = pairwise_distances(as_nodes(student), squared)
    with torch.no_grad():
        teacher_distances = pairwise_distances(as_nodes(teacher.detach()), squared)
    if normalize == "mean_positive":
        student_distances = student_distances / mean_positive(student_distances)
        teacher_distances = teacher_distances / mean_positive(teacher_distances)
    if loss == "smooth_l1":
        elementwise = F.smooth_l1_loss(student_distances, teacher_distances, beta=beta, reduction="none")
    else:
        elementwise = F.mse_loss(student_distances, teacher_distances, reduction="none")
    # NB: empty graphs (P = 0) and empty batches (N = 0) give loss 0, not the NaN of an empty mean.
    nodes = student_distances.shape[1]
    per_sample = elementwise.sum(dim=(1, 2)) / max(nodes * nodes, 1)
    if reduction == "mean":
        return per_sample.sum() / max(per_sample.shape[0], 1)
    if reduction == "sum":
        return per_sample.sum()
    return per_sample
