"""Checks shared by the fake (meta) kernels of every op.

A call that mixes meta tensors with real ones dispatches to the fake kernel (Meta outranks CPU and
CUDA), which would return an uninitialised tensor on the real tensors' device; the C++ kernels
never see such a call, so the fake kernels refuse it with the C++ kernels' message. Every other
check of a fake kernel raises what the C++ checks raise (ValueError; TypeError for dtypes) with their
``skdcore.<op>:`` prefix.
"""
from __future__ import annotations

from typing import Callable, Iterable, Optional, Tuple

import torch


def check_same_device(op: str, reference_name: str, reference: torch.Tensor,
                      tensors: Iterable[Tuple[str, Optional[torch.Tensor]]]) -> None:
    """Raises ValueError naming the first tensor of ``tensors`` (name, tensor or None) that is not on
    ``reference``'s device."""
    for name, tensor in tensors:
        if tensor is not None and tensor.device != reference.device:
            raise ValueError(
                f"skdcore.{op}: {name} is on {tensor.device} but {reference_name} is on "
                f"{reference.device}; move them to the same device"
            )


def op_checks(op: str) -> Tuple[Callable, Callable]:
    """(check_value, check_type) of ``op``: ``check(condition, message)`` raises ValueError / TypeError
    "skdcore.<op>: <message()>" unless ``condition`` (a symbolic condition is deferred, as torch._check's)."""

    def check_value(condition, message: Callable[[], str]) -> None:
        torch._check_value(condition, lambda: f"skdcore.{op}: {message()}")

    def check_type(condition, message: Callable[[], str]) -> None:
        torch._check_type(condition, lambda: f"skdcore.{op}: {message()}")

    return check_value, check_type
