"""The one ``ops: fused|reference`` switch of a training run.

``fused`` uses skdcore's compiled kernels where they are built (model graph conv / temporal
shift, graph matching loss, gradient revision) and falls back, per op, to the pure-PyTorch
reference when a kernel is not available (reported in ``OpsSelection.used``). ``reference`` uses
the pure-PyTorch references everywhere, including the reference's 4-backward gradient revision:
the benchmark compares the two paths on the same model.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Dict

import torch

from ..models import compiled_op, set_use_fused_ops

# Which compiled ops each backbone calls through skdcore.models' switch.
MODEL_OPS = {"shift_gcn": ("temporal_shift",), "st_gcn": ("graph_conv",)}


@dataclass
class OpsSelection:
    requested: str
    graph_matching: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    # "fast": MultiLossBackward (one backward per loss + the fused revision op);
    # "reference": the SKD reference's 4 backward passes + flat-vector projection in eager PyTorch.
    revision: str
    used: Dict[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.used.items())


def _reference_graph_matching() -> Callable:
    from ..reference.graph_matching import graph_matching_loss_reference

    return graph_matching_loss_reference


def select_ops(ops: str, model_name: str, revision_scheme: str = "fast") -> OpsSelection:
    """Set the models' op switch and pick the loss / revision implementations for ``ops``."""
    if ops not in ("fused", "reference"):
        raise ValueError(f"ops must be 'fused' or 'reference', got {ops!r}")
    fused = ops == "fused"
    used = {}
    model_ops = MODEL_OPS.get(model_name, ())
    model_fused = fused and all(compiled_op(name) is not None for name in model_ops)
    set_use_fused_ops(model_fused)
    for name in model_ops:
        used[name] = "fused" if model_fused else ("reference (not built)" if fused else "reference")
    graph_matching = compiled_op("graph_matching_loss") if fused else None
    used["graph_matching_loss"] = "fused" if graph_matching else ("reference (not built)" if fused else "reference")
    graph_matching = graph_matching or _reference_graph_matching()
    revision = revision_scheme if fused else "reference"
    fused_revision = compiled_op("gradient_revision") is not None
    if revision == "fast" and not fused_revision:
        revision = "reference"
        used["gradient_revision"] = "reference 4-backward (gradient_revision not built)"
    else:
        used["gradient_revision"] = ("MultiLossBackward (one backward per loss, fused revision)"
                                     if revision == "fast" else "reference 4-backward, flat float64 projection")
    return OpsSelection(ops, graph_matching, revision, used)


class RevisedBackward:
    """Backward of one SKD step with gradient revision: ``losses`` dict -> revised gradient in ``p.grad``.

    scheme "fast": :class:`skdcore.train.MultiLossBackward`: one ``autograd.grad`` per loss (no flat
    copies) + the fused revision op, DDP-global dot products. Its "batched" method (one vectorised
    trunk backward) measured slower on the CPU (benchmarks/RESULTS.md), so it is not used here.
    scheme "reference": the reference's 4 full backward passes (``reference_multi_loss_backward``).
    Returns logging info: cosine of each distillation gradient with the task gradient and whether
    it was projected.
    """

    def __init__(self, model: torch.nn.Module, loss_names, scheme: str = "fast"):
        from .multi_loss_backward import MultiLossBackward

        self.params = [p for p in model.parameters() if p.requires_grad]
        self.loss_names = list(loss_names)
        self.scheme = scheme
        distributed = torch.distributed.is_available() and torch.distributed.is_initialized()
        # NB: the reference path is single-process; under torch.distributed the fast path does the
        # global (all-ranks) dot products.
        fast = scheme == "fast" or distributed
        self.impl = MultiLossBackward(self.params, method="sequential") if fast else None

    def __call__(self, losses: Dict[str, torch.Tensor]) -> Dict[str, float]:
        from .multi_loss_backward import reference_multi_loss_backward

        distill = [k for k in losses if k != "ce"]
        if self.impl is not None:
            stats = self.impl(losses["ce"], [losses[k] for k in distill]).stats
        else:
            stats = reference_multi_loss_backward(self.params, losses["ce"], [losses[k] for k in distill])
        stats = stats.tolist()
        info = {}
        for k, name in enumerate(distill):
            info[f"cos_{name}"] = float(stats[0][k])
            info[f"projected_{name}"] = float(stats[1][k] > 0)
        return info
