"""The one place where models pick a pure-PyTorch reference or a compiled skdcore op.

Every graph convolution and temporal shift inside :mod:`skdcore.models` goes through
:func:`graph_conv` / :func:`temporal_shift` below, so one switch moves a whole model between
the readable reference path and the fused kernels (the benchmark compares the two):

    skdcore.models.set_use_fused_ops(True)      # global default for every module
    with skdcore.models.fused_ops(False): ...   # temporarily, e.g. inside a benchmark
    GraphConv(..., use_fused_ops=True)          # per module (None = follow the global switch)

The compiled ops are looked up lazily (``skdcore.ops.<name>`` then ``skdcore.<name>``), so this
module imports fine before the extension is built; asking for a fused op that is not there raises
a RuntimeError that says how to get it.
"""
from __future__ import annotations

import contextlib
import importlib
from typing import Callable, Iterator, Optional

import torch

from ..reference.graph_conv import graph_conv_reference
from ..reference.temporal_shift import temporal_shift_reference

_USE_FUSED_OPS = False


def set_use_fused_ops(enabled: bool) -> None:
    """Global default for modules built with ``use_fused_ops=None`` (the default)."""
    global _USE_FUSED_OPS
    _USE_FUSED_OPS = bool(enabled)


def fused_ops_enabled() -> bool:
    return _USE_FUSED_OPS


@contextlib.contextmanager
def fused_ops(enabled: bool) -> Iterator[None]:
    """Context manager that sets the global switch and restores it on exit."""
    previous = _USE_FUSED_OPS
    set_use_fused_ops(enabled)
    try:
        yield
    finally:
        set_use_fused_ops(previous)


_COMPILED_OPS: dict = {}


def compiled_op(name: str) -> Optional[Callable]:
    """The compiled op ``name`` if the skdcore extension provides it, else None (looked up once)."""
    if name not in _COMPILED_OPS:  # NB: cached, so torch.compile traces a plain dict lookup
        _COMPILED_OPS[name] = None
        for module_name in ("skdcore.ops", "skdcore"):
            try:
                module = importlib.import_module(module_name)
            except ImportError:
                continue
            op = getattr(module, name, None)
            if callable(op):
                _COMPILED_OPS[name] = op
                break
    return _COMPILED_OPS[name]


def _resolve(name: str, use_fused_ops: Optional[bool], reference: Callable) -> Callable:
    fused = _USE_FUSED_OPS if use_fused_ops is None else use_fused_ops
    if not fused:
        return reference
    op = compiled_op(name)
    if op is None:
        raise RuntimeError(
            f"use_fused_ops=True but the compiled op skdcore.{name} is not available; build the "
            "extension (`make test` or `pip install --no-build-isolation .`) or pass "
            "use_fused_ops=False / call skdcore.models.set_use_fused_ops(False) for the reference path"
        )
    return op


def graph_conv(
    x: torch.Tensor,  # (N, C_in, T, V)
    weight: torch.Tensor,  # (K, C_out, C_in)
    A: torch.Tensor,  # (K, V, V)
    bias: Optional[torch.Tensor] = None,  # (C_out,)
    edge_importance: Optional[torch.Tensor] = None,  # (K, V, V)
    use_fused_ops: Optional[bool] = None,
) -> torch.Tensor:  # (N, C_out, T, V)
    return _resolve("graph_conv", use_fused_ops, graph_conv_reference)(x, weight, A, bias, edge_importance)


def temporal_shift(
    x: torch.Tensor,  # (N, C, T, V)
    shift: torch.Tensor,  # (C,)
    stride: int = 1,
    use_fused_ops: Optional[bool] = None,
) -> torch.Tensor:  # (N, C, T // stride, V)
    return _resolve("temporal_shift", use_fused_ops, temporal_shift_reference)(x, shift, stride)
