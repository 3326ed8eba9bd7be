"""The one switch between a layer's compiled skdcore op (the default) and its pure-PyTorch reference.

The choice is an argument passed down, never a global: ``GraphConv(..., ops="reference")``,
``build_model("st_gcn", ops="reference")``; :func:`use_ops` re-points the layers of an existing
model (a benchmark comparing both paths on the same weights). The state dict does not depend on
the choice, so weights load strictly between a fused and a reference model.
"""
from __future__ import annotations

import torch
from torch import nn

OPS = ("fused", "reference")
# Devices the compiled kernels are registered for; on any other device a layer runs its reference.
KERNEL_DEVICES = ("cpu", "cuda")


def check_ops(ops: str, owner: str) -> str:
    if ops not in OPS:
        raise ValueError(f"{owner}: ops must be one of {list(OPS)}, got {ops!r}")
    return ops


class ChoosesOps:
    """Mixin of a layer with a compiled op and a reference: ``self.ops`` is 'fused' or 'reference'."""

    ops: str = "fused"

    def runs_fused(self, x) -> bool:
        return self.ops == "fused" and x.device.type in KERNEL_DEVICES

    def call_op(self, op, reference, x: torch.Tensor, *args):
        """``op(x, *args)`` where the compiled kernel runs, else ``reference(x, *args)``.

        A model cast to bfloat16 / float16 on the CPU (``model.bfloat16()``): the CPU kernels are
        float32 / float64, so the 16-bit tensors go in as float32 and the result is rounded back to
        x's dtype, as ``torch.autocast("cpu")`` does for these ops (the same numbers, and faster than
        the reference in 16 bits)."""
        if not self.runs_fused(x):
            return reference(x, *args)
        if x.device.type == "cpu" and x.dtype in (torch.bfloat16, torch.float16):
            wide = [a.float() if isinstance(a, torch.Tensor) and a.dtype == x.dtype else a for a in args]
            return op(x.float(), *wide).to(x.dtype)
        return op(x, *args)


def use_ops(model: nn.Module, ops: str) -> nn.Module:
    """Set every layer of ``model`` to ``ops`` ('fused' or 'reference'), in place; returns ``model``."""
    check_ops(ops, "use_ops")
    for module in model.modules():
        if isinstance(module, ChoosesOps):
            module.ops = ops
    if hasattr(model, "ops"):
        model.ops = ops
    return model
