"""Per-loss gradients of one training step, combined by gradient revision into ``p.grad``.

Paths (all give the same ``p.grad`` up to float rounding):
- ``reference_multi_loss_backward``: what the SKD reference code does: one full backward per loss
  (retain_graph), gradients flattened into one vector, projected in float64, copied back. For tests.
- ``MultiLossBackward(method="sequential")``: one ``torch.autograd.grad`` per loss (no flattening),
  then the fused op writes ``p.grad`` in place.
- ``MultiLossBackward(method="batched")`` (default): the K+1 backward passes run as ONE vectorised
  backward (``torch.autograd.grad(..., is_grads_batched=True)``). Given ``shared`` (a tensor all
  losses depend on, e.g. the trunk's final feature map), each loss is first backpropagated only
  down to ``shared`` (cheap heads: classifier, adaption layer, loss graphs), and only the trunk
  backward is batched; the head parameters' gradients come from those short passes.
Under an initialised torch.distributed (world size > 1), the combination runs through
``distributed_gradient_revision`` (gradients averaged over ranks, only the Gram matrix all-reduced).
"""
from __future__ import annotations

from typing import Iterable, Optional, Sequence

import torch
import torch.distributed as dist

from ..ops.gradient_revision import RevisedGradients, gradient_revision
from ..reference.gradient_revision import gradient_revision_reference
from .distributed_revision import distributed_gradient_revision

_METHODS = ("batched", "sequential")


def _loss_list(task_loss: torch.Tensor, distill_losses: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    losses = [task_loss, *distill_losses]
    for index, loss in enumerate(losses):
        name = "task_loss" if index == 0 else f"distill_losses[{index - 1}]"
        if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
            raise ValueError(f"MultiLossBackward: {name} must be a scalar tensor, got "
                             f"{tuple(loss.shape) if isinstance(loss, torch.Tensor) else type(loss).__name__}")
        if not loss.requires_grad:
            raise ValueError(f"MultiLossBackward: {name} does not require grad; compute it from the model's output")
    return losses


def _grad_buffers(params: Sequence[torch.Tensor], columns: list[list]) -> list:
    """Output buffers: p.grad (allocated if missing) for every parameter some loss reaches; a
    parameter no loss reaches gets a zero gradient if it had one (never a stale one)."""
    out = []
    for p, column in zip(params, columns):
        reached = any(g is not None for g in column)
        if reached and p.grad is None:
            p.grad = torch.empty_like(p)  # fully overwritten by the op
        elif not reached and p.grad is not None:
            p.grad.zero_()
        out.append(p.grad if reached else None)
    return out


def reference_multi_loss_backward(params: Iterable[torch.Tensor], task_loss: torch.Tensor,
                                  distill_losses: Sequence[torch.Tensor], *, eps: float = 1e-12,
                                  mode: str = "skd", seed: int = 0) -> torch.Tensor:
    """The SKD reference scheme: K+1 full backward passes, flat copies, float64 projection.

    Writes ``p.grad`` (replacing it) and returns the stats (2, K).
    """
    params = [p for p in params if p.requires_grad]
    losses = _loss_list(task_loss, distill_losses)
    per_loss = []
    for index, loss in enumerate(losses):
        grads = torch.autograd.grad(loss, params, retain_graph=index < len(losses) - 1, allow_unused=True)
        per_loss.append([g if g is not None else torch.zeros_like(p) for g, p in zip(grads, params)])
    revised, stats = gradient_revision_reference(per_loss[0], per_loss[1:], eps=eps, mode=mode, seed=seed)
    for p, g in zip(params, revised):
        p.grad = g.clone()
    return stats


def _params_below(tensor: torch.Tensor, params: Sequence[torch.Tensor]) -> set[int]:
    """ids of the parameters `tensor` depends on (its autograd graph's AccumulateGrad leaves)."""
    by_id = {id(p) for p in params}
    found: set[int] = set()
    seen: set = set()
    stack = [tensor.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        variable = getattr(node, "variable", None)
        if variable is not None and id(variable) in by_id:
            found.add(id(variable))
        stack.extend(child for child, _ in node.next_functions)
    return found


class MultiLossBackward:
    """Writes the SKD-revised gradient of one step's losses into ``p.grad``.

    Example::

        backward = MultiLossBackward(student.parameters())
        logits, features = student(x)
        stats = backward(ce, [kl, mse, graph_matching], shared=features).stats
        optimizer.step()

    Args:
        params: the trainable parameters (those with ``requires_grad``).
        mode: "skd" or "pcgrad" (see ``skdcore.ops.gradient_revision``); eps as there.
        seed: PCGrad order seed; step ``n`` uses ``seed + n`` so the order changes every step.
        method: "batched" (default) or "sequential" (one backward per loss).
        group: process group for the distributed path (default: the world, when initialised).
    """

    def __init__(self, params: Iterable[torch.Tensor], *, mode: str = "skd", eps: float = 1e-12, seed: int = 0,
                 method: str = "batched", group: Optional[dist.ProcessGroup] = None):
        self.params = [p for p in params if p.requires_grad]
        if not self.params:
            raise ValueError("MultiLossBackward: no parameter requires grad")
        if method not in _METHODS:
            raise ValueError(f"MultiLossBackward: method must be one of {_METHODS}, got {method!r}")
        self.mode, self.eps, self.seed, self.method, self.group = mode, eps, seed, method, group
        self.step = 0
        self._trunk_ids: Optional[set[int]] = None  # parameters below `shared` (static per model)

    def per_loss_gradients(self, task_loss: torch.Tensor, distill_losses: Sequence[torch.Tensor],
                           shared: Optional[torch.Tensor] = None) -> list[list]:
        """[[g per param] per loss] (None where a loss does not reach a parameter)."""
        losses = _loss_list(task_loss, distill_losses)
        if self.method == "sequential":
            return [list(torch.autograd.grad(loss, self.params, retain_graph=index < len(losses) - 1,
                                             allow_unused=True)) for index, loss in enumerate(losses)]
        if shared is None:
            stacked = torch.stack([loss.reshape(()) for loss in losses])
            eye = torch.eye(len(losses), dtype=stacked.dtype, device=stacked.device)
            batched = torch.autograd.grad(stacked, self.params, eye, is_grads_batched=True, allow_unused=True)
            return [[None if g is None else g[j] for g in batched] for j in range(len(losses))]
        return self._split_at_shared(losses, shared)

    def _split_at_shared(self, losses: list[torch.Tensor], shared: torch.Tensor) -> list[list]:
        if not shared.requires_grad:
            raise ValueError("MultiLossBackward: shared must be part of the autograd graph (requires_grad)")
        if self._trunk_ids is None:
            self._trunk_ids = _params_below(shared, self.params)
        trunk = [p for p in self.params if id(p) in self._trunk_ids]
        heads = [p for p in self.params if id(p) not in self._trunk_ids]
        # short passes: each loss down to `shared` and the head parameters only
        upstream, head_grads = [], []
        for loss in losses:
            grads = torch.autograd.grad(loss, [shared, *heads], retain_graph=True, allow_unused=True)
            upstream.append(grads[0] if grads[0] is not None else torch.zeros_like(shared))
            head_grads.append(grads[1:])
        # one vectorised trunk backward for all losses
        trunk_grads = torch.autograd.grad(shared, trunk, torch.stack(upstream), is_grads_batched=True,
                                          allow_unused=True)
        trunk_index = {id(p): n for n, p in enumerate(trunk)}
        head_index = {id(p): n for n, p in enumerate(heads)}
        columns = []
        for j in range(len(losses)):
            column = []
            for p in self.params:
                if id(p) in trunk_index:
                    g = trunk_grads[trunk_index[id(p)]]
                    column.append(None if g is None else g[j])
                else:
                    column.append(head_grads[j][head_index[id(p)]])
            columns.append(column)
        return columns

    def __call__(self, task_loss: torch.Tensor, distill_losses: Sequence[torch.Tensor],
                 shared: Optional[torch.Tensor] = None) -> RevisedGradients:
        per_loss = self.per_loss_gradients(task_loss, distill_losses, shared)
        by_param = [[grads[i] for grads in per_loss] for i in range(len(self.params))]
        out = _grad_buffers(self.params, by_param)  # p.grad is REPLACED, as in the reference
        seed = self.seed + self.step
        self.step += 1
        if dist.is_available() and dist.is_initialized() and dist.get_world_size(self.group) > 1:
            return distributed_gradient_revision(per_loss[0], per_loss[1:], out, eps=self.eps, mode=self.mode,
                                                 seed=seed, group=self.group)
        return gradient_revision(per_loss[0], per_loss[1:], eps=self.eps, mode=self.mode, seed=seed, out=out)
