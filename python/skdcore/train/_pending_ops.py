"""TEMPORARY stand-ins for work other branches deliver; delete once they are merged.

- ``graph_matching_loss_reference``: until ``skdcore.reference.graph_matching`` (branch gm) lands.
- ``reference_revised_backward``: the plain 4-backward gradient revision, until
  ``skdcore.train.multi_loss_backward.MultiLossBackward`` (branch gradrev) lands.
Only :mod:`skdcore.train.ops_select` imports this module, and only as a fallback.
"""
from __future__ import annotations

from typing import Dict, List

import torch
import torch.distributed as dist
import torch.nn.functional as F


def graph_matching_loss_reference(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """SKD graph matching on (N, C, T, V) maps: Gram-form pdist, mean-positive normalised, smooth L1."""
    def distances(x):
        nodes = x.flatten(2).transpose(1, 2)  # (N, P, C)
        sq = nodes.pow(2).sum(-1)
        d = (sq[:, :, None] + sq[:, None, :] - 2 * nodes @ nodes.transpose(1, 2)).clamp(min=1e-12).sqrt()
        d = d.masked_fill(torch.eye(d.shape[1], dtype=torch.bool, device=d.device), 0.0)
        positive = d > 0
        return d / (torch.where(positive, d, 0).sum((1, 2), keepdim=True) / positive.sum((1, 2), keepdim=True).clamp(min=1))

    student_d = distances(student)
    with torch.no_grad():
        teacher_d = distances(teacher.detach())
    return F.smooth_l1_loss(student_d, teacher_d, reduction="none").mean((1, 2)).mean()


def reference_revised_backward(losses: Dict[str, torch.Tensor], params: List[torch.nn.Parameter],
                               task: str = "ce") -> Dict[str, float]:
    """One backward per loss (retain_graph), flat gradients, global projection, result in p.grad.

    Under torch.distributed each flat gradient is averaged over ranks first, so the dot products
    are those of the global (whole-batch) gradients.
    """
    names = [task] + [k for k in losses if k != task]
    flats = []
    for i, name in enumerate(names):
        grads = torch.autograd.grad(losses[name], params, retain_graph=i < len(names) - 1, allow_unused=True)
        flat = torch.cat([(g if g is not None else torch.zeros_like(p)).reshape(-1) for g, p in zip(grads, params)])
        if dist.is_available() and dist.is_initialized():
            dist.all_reduce(flat)
            flat /= dist.get_world_size()
        flats.append(flat)
    g_task = flats[0]
    total, info = g_task.clone(), {}
    task_sq = g_task.double().dot(g_task.double())
    for name, g in zip(names[1:], flats[1:]):
        dot = g.double().dot(g_task.double())
        info[f"cos_{name}"] = float(dot / (task_sq.sqrt() * g.double().norm() + 1e-12))
        if dot < 0:
            g = g - (dot / (task_sq + 1e-12)).to(g.dtype) * g_task
        info[f"projected_{name}"] = float(dot < 0)
        total += g
    offset = 0
    for p in params:
        n = p.numel()
        p.grad = total[offset:offset + n].view_as(p).clone()
        offset += n
    return info


def op_revised_backward(losses: Dict[str, torch.Tensor], params: List[torch.nn.Parameter], op,
                        task: str = "ce") -> Dict[str, float]:
    """One backward per loss, combined by the compiled ``skdcore.gradient_revision`` op (no flat copies).

    Single-process only (the DDP-global version is MultiLossBackward's job).
    """
    names = [task] + [k for k in losses if k != task]
    per_loss = []
    for i, name in enumerate(names):
        per_loss.append(list(torch.autograd.grad(losses[name], params, retain_graph=i < len(names) - 1,
                                                 allow_unused=True)))
    result = op(per_loss[0], per_loss[1:])
    for p, g in zip(params, result.grads):
        p.grad = g
    stats = result.stats.tolist()
    info = {}
    for k, name in enumerate(names[1:]):
        info[f"cos_{name}"] = float(stats[0][k])
        info[f"projected_{name}"] = float(stats[1][k] > 0)
    return info
