"""The one ``ops: fused|reference`` switch of a training run.

``fused`` uses skdcore's compiled kernels where they are built (model graph conv / temporal
shift, graph matching loss, gradient revision) and falls back, per op, to the pure-PyTorch
reference when a kernel is not available (reported in ``OpsSelection.used``). ``reference`` uses
the pure-PyTorch references everywhere, including the reference's 4-backward gradient revision:
the benchmark compares the two paths on the same model.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Callable, Dict, List

import torch

from ..models import compiled_op, set_use_fused_ops

# Which compiled ops each backbone calls through skdcore.models' switch.
MODEL_OPS = {"shift_gcn": ("temporal_shift",), "st_gcn": ("graph_conv",)}


@dataclass
class OpsSelection:
    requested: str
    graph_matching: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    # "fast": MultiLossBackward's fast path; "op": 4 backward passes + the fused gradient_revision op;
    # "reference": 4 backward passes + flat-vector projection in eager PyTorch.
    revision: str
    used: Dict[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.used.items())


def _reference_graph_matching() -> Callable:
    try:
        return importlib.import_module("skdcore.reference.graph_matching").graph_matching_loss_reference
    except (ImportError, AttributeError):
        from ._pending_ops import graph_matching_loss_reference

        return graph_matching_loss_reference


def _multi_loss_backward_class():
    try:
        return importlib.import_module("skdcore.train.multi_loss_backward").MultiLossBackward
    except (ImportError, AttributeError):
        return None


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
    if revision == "fast" and _multi_loss_backward_class() is None:
        if compiled_op("gradient_revision") is not None:
            revision = "op"
            used["gradient_revision"] = "fused op after 4 backward passes (MultiLossBackward not merged yet)"
        else:
            revision = "reference"
            used["gradient_revision"] = "reference 4-backward (not built)"
    else:
        used["gradient_revision"] = "MultiLossBackward fast path" if revision == "fast" else "reference 4-backward"
    return OpsSelection(ops, graph_matching, revision, used)


class RevisedBackward:
    """Backward of one SKD step with gradient revision: ``losses`` dict -> revised gradient in ``p.grad``.

    Delegates to ``skdcore.train.MultiLossBackward`` (fast path or its reference path); until that
    is merged, to the plain 4-backward stand-in. Returns logging info (cosines, projected flags).
    """

    def __init__(self, params: List[torch.nn.Parameter], loss_names, scheme: str = "fast"):
        self.params = [p for p in params if p.requires_grad]
        self.loss_names = list(loss_names)
        self.scheme = scheme
        cls = _multi_loss_backward_class()
        self.impl = None
        if cls is not None and scheme != "op":
            self.impl = cls(self.params, task="ce", distill=[n for n in self.loss_names if n != "ce"],
                            scheme=scheme)

    def __call__(self, losses: Dict[str, torch.Tensor]) -> Dict[str, float]:
        if self.impl is not None:
            return self.impl(losses) or {}
        from ._pending_ops import op_revised_backward, reference_revised_backward

        distributed = torch.distributed.is_available() and torch.distributed.is_initialized()
        if self.scheme == "op" and not distributed:
            return op_revised_backward(losses, self.params, compiled_op("gradient_revision"))
        return reference_revised_backward(losses, self.params)
