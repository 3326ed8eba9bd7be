"""skdcore.gradient_revision: SKD's gradient revision over all parameters (fused C++/CUDA op).

Distillation gradients that conflict with the task gradient are projected off it; dot products run
over ALL parameters together (one global vector), without concatenating them.

Dtype/device policy: every gradient (and ``out``) must share one dtype (float32 or float64) and one
device; parameter ``i``'s gradients must all have the same shape. Reductions accumulate in float64.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch

from ._fake_checks import check_same_device, op_checks

_MODES = ("skd", "pcgrad")
MaybeTensor = torch.Tensor | None

_check, _check_type = op_checks("gradient_revision")


class RevisedGradients(NamedTuple):
    """grads: one entry per parameter (None where the parameter had no gradient at all);
    stats: (2, K) float64 on the gradients' device: row 0 cosine(g_k, g_task) (0 if either is
    zero), row 1 the number of projections applied to g_k (0/1 for "skd")."""

    grads: list
    stats: torch.Tensor

    @property
    def cosine(self) -> torch.Tensor:
        return self.stats[0]

    @property
    def projected(self) -> torch.Tensor:
        return self.stats[1] > 0


class _Lists(NamedTuple):
    index: list  # positions (in the caller's lists) of the parameters taking part
    task: list
    distill: list  # flat, loss-major
    num_losses: int
    num_params: int


def _prepare(task_grads: Sequence[MaybeTensor], distill_grads: Sequence[Sequence[MaybeTensor]]) -> _Lists:
    """Checks the nesting and applies the None policy.

    A parameter takes part if ANY of its gradients exists; its missing gradients count as zeros
    (e.g. SKD's adaption layer gets no task gradient). A parameter without any gradient is skipped.
    """
    if isinstance(task_grads, torch.Tensor) or not isinstance(task_grads, (list, tuple)):
        raise TypeError("gradient_revision: task_grads must be a list of tensors (one per parameter), "
                        f"got {type(task_grads).__name__}")
    if isinstance(distill_grads, torch.Tensor) or not isinstance(distill_grads, (list, tuple)):
        raise TypeError("gradient_revision: distill_grads must be a list of K lists of tensors, "
                        f"got {type(distill_grads).__name__}")
    num_params, num_losses = len(task_grads), len(distill_grads)
    for k, grads in enumerate(distill_grads):
        if isinstance(grads, torch.Tensor) or not isinstance(grads, (list, tuple)):
            raise TypeError(f"gradient_revision: distill_grads[{k}] must be a list of tensors (one per "
                            f"parameter), got {type(grads).__name__}; pass [[g_1 per param], [g_2 ...], ...]")
        if len(grads) != num_params:
            raise ValueError(f"gradient_revision: distill_grads[{k}] has {len(grads)} gradients but "
                             f"task_grads has {num_params}; give one entry (or None) per parameter")
    has_none = any(g is None for g in task_grads) or any(g is None for grads in distill_grads for g in grads)
    if not has_none:  # fast path: the C++ checks name the caller's own indices
        flat = [g for grads in distill_grads for g in grads]
        return _Lists(list(range(num_params)), list(task_grads), flat, num_losses, num_params)
    index, task, per_loss = [], [], [[] for _ in range(num_losses)]
    for i in range(num_params):
        column = [task_grads[i]] + [grads[i] for grads in distill_grads]
        present = [g for g in column if g is not None]
        if not present:
            continue
        like = present[0]
        names = ["task_grads"] + [f"distill_grads[{k}]" for k in range(num_losses)]
        for name, g in zip(names, column):
            if g is not None and g.shape != like.shape:
                raise ValueError(f"gradient_revision: {name}[{i}] has shape {tuple(g.shape)} but parameter "
                                 f"{i}'s other gradients have shape {tuple(like.shape)}")
        index.append(i)
        task.append(column[0] if column[0] is not None else torch.zeros_like(like))
        for k in range(num_losses):
            g = column[k + 1]
            per_loss[k].append(g if g is not None else torch.zeros_like(like))
    flat = [g for grads in per_loss for g in grads]
    return _Lists(index, task, flat, num_losses, num_params)


def _check_options(eps: float, mode: str) -> None:
    if mode not in _MODES:
        raise ValueError(f"gradient_revision: mode must be one of {_MODES}, got {mode!r}")
    if not eps >= 0:
        raise ValueError(f"gradient_revision: eps must be >= 0, got {eps}")


def _outputs(out: Sequence[MaybeTensor], lists: _Lists) -> list:
    if len(out) != lists.num_params:
        raise ValueError(f"gradient_revision: out has {len(out)} tensors but task_grads has "
                         f"{lists.num_params}; pass one output (e.g. p.grad) per parameter")
    selected = []
    for i in lists.index:
        if out[i] is None:
            raise ValueError(f"gradient_revision: out[{i}] is None but parameter {i} has a gradient; "
                             "allocate it (e.g. p.grad = torch.zeros_like(p))")
        selected.append(out[i])
    return selected


def _scatter(values: list, lists: _Lists) -> list:
    full: list = [None] * lists.num_params
    for i, v in zip(lists.index, values):
        full[i] = v
    return full


def _empty_stats(lists: _Lists) -> torch.Tensor:
    return torch.zeros(2, lists.num_losses, dtype=torch.float64)


def gradient_revision(
    task_grads: Sequence[MaybeTensor],
    distill_grads: Sequence[Sequence[MaybeTensor]],
    *,
    eps: float = 1e-12,
    mode: str = "skd",
    seed: int = 0,
    out: Sequence[MaybeTensor] | None = None,
) -> RevisedGradients:
    """Combines one step's per-loss gradients the SKD way.

    result_i = g_task_i + sum_k rev(g_k)_i,  rev(g) = g - min(0, <g, g_task>) / (||g_task||^2 + eps) * g_task,
    with <.,.> summed over ALL parameters.

    Args:
        task_grads: N tensors (or None), parameter i's task-loss gradient (any shapes).
        distill_grads: K lists of N tensors (or None), shaped like task_grads parameter by parameter.
            K = 0 is allowed (the result is the task gradient).
        eps: added to every squared norm in a denominator; a zero task gradient projects nothing.
        mode: "skd" (the paper) or "pcgrad" (also project the distillation gradients off each other,
            in an order drawn from ``seed``).
        out: optional N tensors (e.g. ``[p.grad for p in params]``) written in place; may be
            ``task_grads`` itself.

    Returns:
        RevisedGradients(grads, stats): grads (``out`` when given), stats (2, K) float64.
    """
    _check_options(eps, mode)
    lists = _prepare(task_grads, distill_grads)
    targets = _outputs(out, lists) if out is not None else None
    if not lists.task:
        grads = list(out) if out is not None else [None] * lists.num_params
        return RevisedGradients(grads, _empty_stats(lists))
    if targets is not None:
        stats = torch.ops.skdcore.gradient_revision_(targets, lists.task, lists.distill, lists.num_losses,
                                                     eps, mode, seed)
        return RevisedGradients(list(out), stats)
    grads, stats = torch.ops.skdcore.gradient_revision(lists.task, lists.distill, lists.num_losses, eps, mode,
                                                       seed)
    return RevisedGradients(_scatter(grads, lists), stats)


def gradient_revision_gram(
    task_grads: Sequence[MaybeTensor], distill_grads: Sequence[Sequence[MaybeTensor]], *, mode: str = "skd"
) -> torch.Tensor:
    """Stage 1: the (K+1, K+1) float64 Gram matrix of [g_task, g_1..g_K] over the given tensors.

    "skd" fills row/column 0 and the diagonal only (the rest is 0); "pcgrad" fills everything.
    Gram matrices of disjoint parameter shards add up, so a sharded driver all-reduces it (SUM).
    """
    _check_options(0.0, mode)
    lists = _prepare(task_grads, distill_grads)
    if not lists.task:
        return torch.zeros(lists.num_losses + 1, lists.num_losses + 1, dtype=torch.float64)
    return torch.ops.skdcore.gradient_revision_gram(lists.task, lists.distill, lists.num_losses, mode)


def gradient_revision_apply(
    task_grads: Sequence[MaybeTensor],
    distill_grads: Sequence[Sequence[MaybeTensor]],
    gram: torch.Tensor,
    *,
    eps: float = 1e-12,
    mode: str = "skd",
    seed: int = 0,
    out: Sequence[MaybeTensor] | None = None,
) -> RevisedGradients:
    """Stage 2: writes the revised gradients from a (possibly all-reduced) Gram matrix.

    ``mode`` must be the one the Gram matrix was computed with.
    """
    _check_options(eps, mode)
    lists = _prepare(task_grads, distill_grads)
    if gram.dim() != 2 or gram.shape[0] != lists.num_losses + 1 or gram.shape[1] != lists.num_losses + 1:
        raise ValueError(f"gradient_revision_apply: gram must have shape (K+1, K+1) = "
                         f"({lists.num_losses + 1}, {lists.num_losses + 1}), got {tuple(gram.shape)}")
    targets = _outputs(out, lists) if out is not None else None
    # NB: runs even without tensors (dispatched on gram): the stats come from the Gram matrix.
    if targets is not None:
        stats = torch.ops.skdcore.gradient_revision_apply_(targets, lists.task, lists.distill, gram, eps,
                                                           mode, seed)
        return RevisedGradients(list(out), stats)
    grads, stats = torch.ops.skdcore.gradient_revision_apply(lists.task, lists.distill, gram, eps, mode, seed)
    return RevisedGradients(_scatter(grads, lists), stats)


# --- fake kernels (shapes only, for torch.compile / FakeTensor) -----------------------------------
def _fake_outputs(task_grads):
    return [torch.empty_like(t, memory_format=torch.contiguous_format) for t in task_grads]


def _fake_stats(task_grads, num_losses, fallback_device=None):
    device = task_grads[0].device if len(task_grads) else fallback_device
    return torch.empty(2, num_losses, dtype=torch.float64, device=device)


def _fake_check(task_grads, distill_grads, num_losses, projection, out=(), gram=None):
    if len(task_grads):
        tensors = [(f"task_grads[{i}]", g) for i, g in enumerate(task_grads)]
        tensors += [(f"distill_grads[{i}]", g) for i, g in enumerate(distill_grads)]
        tensors += [(f"out[{i}]", g) for i, g in enumerate(out)] + [("gram", gram)]
        check_same_device("gradient_revision", "task_grads[0]", task_grads[0], tensors)
    _check(len(distill_grads) == num_losses * len(task_grads),
           lambda: "distill_grads must hold num_losses * len(task_grads) tensors")
    _check(projection in _MODES, lambda: f"projection must be one of {_MODES}, got {projection!r}")


@torch.library.register_fake("skdcore::gradient_revision")
def _gradient_revision_fake(task_grads, distill_grads, num_losses, eps=1e-12, projection="skd", seed=0):
    _fake_check(task_grads, distill_grads, num_losses, projection)
    return _fake_outputs(task_grads), _fake_stats(task_grads, num_losses)


@torch.library.register_fake("skdcore::gradient_revision_")
def _gradient_revision_inplace_fake(out, task_grads, distill_grads, num_losses, eps=1e-12, projection="skd",
                                    seed=0):
    _fake_check(task_grads, distill_grads, num_losses, projection, out)
    return _fake_stats(task_grads, num_losses)


@torch.library.register_fake("skdcore::gradient_revision_gram")
def _gradient_revision_gram_fake(task_grads, distill_grads, num_losses, projection="skd"):
    _fake_check(task_grads, distill_grads, num_losses, projection)
    device = task_grads[0].device if len(task_grads) else None
    return torch.empty(num_losses + 1, num_losses + 1, dtype=torch.float64, device=device)


@torch.library.register_fake("skdcore::gradient_revision_apply")
def _gradient_revision_apply_fake(task_grads, distill_grads, gram, eps=1e-12, projection="skd", seed=0):
    num_losses = gram.shape[0] - 1
    _fake_check(task_grads, distill_grads, num_losses, projection, gram=gram)
    return _fake_outputs(task_grads), _fake_stats(task_grads, num_losses, gram.device)


@torch.library.register_fake("skdcore::gradient_revision_apply_")
def _gradient_revision_apply_inplace_fake(out, task_grads, distill_grads, gram, eps=1e-12, projection="skd",
                                          seed=0):
    num_losses = gram.shape[0] - 1
    _fake_check(task_grads, distill_grads, num_losses, projection, out, gram)
    return _fake_stats(task_grads, num_losses, gram.device)
