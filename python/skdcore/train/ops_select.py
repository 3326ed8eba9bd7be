"""The one ``ops: fused|reference`` switch of a training run, resolved to implementations.

``fused`` uses skdcore's compiled kernels: the model's ``compiled_ops`` (the trainer builds it
with ``ops=``), the graph matching loss (the Distiller's ``ops=``) and the fused gradient revision.
``reference`` uses the pure-PyTorch references everywhere, including the reference's 4-backward
gradient revision: the benchmark compares the two paths on the same model. Nothing global is set
here: the caller passes the choice on (``build_model(..., ops=cfg.ops)``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict

from ..models import model_class
from ..nn.ops_choice import OPS

_REVISION_NAMES = {"fast": "RevisedBackward (one backward per loss, fused revision)",
                   "reference": "reference 4-backward, flat float64 projection"}


@dataclass
class OpsSelection:
    requested: str
    revision: str  # the RevisedBackward scheme: "fast" or "reference"
    used: Dict[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.used.items())


def select_ops(ops: str, model_name: str, revision_scheme: str = "fast") -> OpsSelection:
    """The revision scheme for ``ops``, and what each op of the run uses (for the run's log)."""
    if ops not in OPS:
        raise ValueError(f"ops must be 'fused' or 'reference', got {ops!r}")
    used = {name: ops for name in model_class(model_name).compiled_ops}
    used["graph_matching_loss"] = ops
    revision = revision_scheme if ops == "fused" else "reference"
    used["gradient_revision"] = _REVISION_NAMES[revision]
    return OpsSelection(ops, revision, used)
