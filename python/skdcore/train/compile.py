"""``train.compile: true``: the student and the teacher run through ``torch.compile``.

The module is compiled in place (``nn.Module.compile``), so its state_dict keys, its attributes and the
checkpoints are those of the eager model; the skdcore ops enter the graph as custom ops (their fake
kernels give dynamo the shapes), so nothing falls back to eager around them. ``fullgraph=True``: every
built-in model compiles into one graph per forward (tests/train/test_train_compile.py compiles each one),
so a graph break is an error at the first step instead of a silent slowdown.
"""
from __future__ import annotations

from typing import Optional

from torch import nn


def compile_model(model: Optional[nn.Module], fullgraph: bool = True) -> Optional[nn.Module]:
    """``model`` compiled in place (the same object, returned for convenience); None stays None."""
    if model is not None:
        model.compile(fullgraph=fullgraph)
    return model
