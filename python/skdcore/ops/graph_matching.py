"""skdcore.graph_matching_loss: SKD's structural (graph-matching) distillation loss (fused C++/CUDA op)."""

from __future__ import annotations

import torch

from ._fake_checks import check_same_device, op_checks

_DISTANCES = ("euclidean", "squared_euclidean")
_LOSSES = ("smooth_l1", "l2")
_NORMALIZATIONS = ("mean_positive", "none")
_REDUCTIONS = ("mean", "sum", "none")
_STATS_COLUMNS = 4

_check, _check_type = op_checks("graph_matching_loss")


def graph_matching_loss(
    student: torch.Tensor,
    teacher: torch.Tensor,
    *,
    distance: str = "euclidean",
    loss: str = "smooth_l1",
    beta: float = 1.0,
    normalize: str = "mean_positive",
    reduction: str = "mean",
) -> torch.Tensor:
    """Match the node-distance structure of student features to the teacher's (SKD's graph loss).

    Each sample is a graph of ``P`` nodes with ``C``-dim features. ``D[i, j]`` is the distance of
    nodes ``i`` and ``j`` in Gram form, ``sqrt(max(|f_i|^2 + |f_j|^2 - 2 f_i.f_j, 1e-12))``, with
    ``D[i, i] = 0``; each matrix is divided by the mean of its strictly positive entries, and the
    per-sample loss is the mean over all ``P * P`` entries of ``loss(D_s / mu_s, D_t / mu_t)``.
    The ``P x P`` matrices are never stored (tiles are computed on the fly): memory is ``O(P * C)``.

    Args:
        student: (N, C, T, V) feature map (``P = T * V`` nodes) or (N, P, C) node features;
            float32/float64, CPU or CUDA. Gets the gradient.
        teacher: same shape, dtype and device as ``student``. Treated as a constant: it never
            receives a gradient, even if it requires grad (SKD's teacher is frozen).
            Different channel counts are an error: SKD adds a 1x1 conv "adaption" layer to the
            student first.
        distance: ``"euclidean"`` (SKD) or ``"squared_euclidean"`` (no square root).
        loss: ``"smooth_l1"`` (SKD; ``beta`` is its threshold, 0 gives L1) or ``"l2"`` (squared error).
        beta: smooth-L1 threshold, >= 0.
        normalize: ``"mean_positive"`` (SKD) or ``"none"``.
        reduction: ``"mean"`` | ``"sum"`` over samples (scalar) or ``"none"`` ((N,) per-sample losses).

    Conventions (same as :func:`skdcore.reference.graph_matching.graph_matching_loss_reference`):
        * Duplicate nodes (and an all-zero sample) get distance ``sqrt(1e-12) = 1e-6``, counted as
          positive, and gradient 0 (below the clamp the gradient is 0): never NaN. An all-zero sample
          therefore has every off-diagonal normalised distance equal to 1. (Exactly so when the Gram
          form is exact; with large norms its rounding can leave d2 slightly above the clamp, as in
          the reference: a small finite distance with a finite gradient.)
        * A graph without positive distances (P = 1) is divided by 1; P = 0 and N = 0 give loss 0.

    Returns:
        Scalar (mean/sum) or (N,) tensor, dtype of ``student``. Differentiable w.r.t. ``student``
        (single backward).
    """
    return torch.ops.skdcore.graph_matching_loss(
        student, teacher, distance=distance, loss=loss, beta=beta, normalize=normalize, reduction=reduction
    )


def _check_options(student, teacher, distance, loss, beta, normalize, reduction):
    check_same_device("graph_matching_loss", "student", student, (("teacher", teacher),))
    _check(
        student.dim() in (3, 4),
        lambda: f"student must be (N, C, T, V) or (N, P, C), got {tuple(student.shape)}",
    )
    _check(
        teacher.shape == student.shape,
        lambda: f"teacher shape {tuple(teacher.shape)} != student {tuple(student.shape)}",
    )
    _check_type(teacher.dtype == student.dtype, lambda: "teacher and student must have the same dtype")
    _check(distance in _DISTANCES, lambda: f"distance must be one of {_DISTANCES}, got {distance!r}")
    _check(loss in _LOSSES, lambda: f"loss must be one of {_LOSSES}, got {loss!r}")
    _check(beta >= 0, lambda: f"beta must be >= 0, got {beta}")
    _check(
        normalize in _NORMALIZATIONS, lambda: f"normalize must be one of {_NORMALIZATIONS}, got {normalize!r}"
    )
    _check(
        reduction in _REDUCTIONS, lambda: f"reduction must be one of {_REDUCTIONS}, got {reduction!r}"
    )


def _loss_like(student, reduction):
    shape = (student.shape[0],) if reduction == "none" else ()
    return student.new_empty(shape)


@torch.library.register_fake("skdcore::graph_matching_loss")
def _graph_matching_loss_fake(
    student,
    teacher,
    *,
    distance="euclidean",
    loss="smooth_l1",
    beta=1.0,
    normalize="mean_positive",
    reduction="mean",
):
    _check_options(student, teacher, distance, loss, beta, normalize, reduction)
    return _loss_like(student, reduction)


@torch.library.register_fake("skdcore::_graph_matching_loss_forward")
def _graph_matching_loss_forward_fake(student, teacher, distance, loss, beta, normalize, reduction):
    _check_options(student, teacher, distance, loss, beta, normalize, reduction)
    stats = student.new_empty((student.shape[0], _STATS_COLUMNS), dtype=torch.float64)
    return _loss_like(student, reduction), stats


@torch.library.register_fake("skdcore::_graph_matching_loss_backward")
def _graph_matching_loss_backward_fake(
    grad, student, teacher, stats, distance, loss, beta, normalize, reduction
):
    check_same_device("_graph_matching_loss_backward", "student", student,
                      (("grad", grad), ("teacher", teacher), ("stats", stats)))
    return torch.empty_like(student, memory_format=torch.contiguous_format)


# The matrix-product path (the CUDA op's SKDCORE_GRAPH_MATCHING_CUDA=gemm), same outputs.
@torch.library.register_fake("skdcore::_graph_matching_gemm_forward")
def _graph_matching_gemm_forward_fake(
    student, teacher, distance, loss, beta, normalize, reduction, workspace_bytes=0
):
    return _graph_matching_loss_forward_fake(student, teacher, distance, loss, beta, normalize, reduction)


@torch.library.register_fake("skdcore::_graph_matching_gemm_backward")
def _graph_matching_gemm_backward_fake(
    grad, student, teacher, stats, distance, loss, beta, normalize, reduction, workspace_bytes=0
):
    return _graph_matching_loss_backward_fake(grad, student, teacher, stats, distance, loss, beta, normalize,
                                              reduction)
