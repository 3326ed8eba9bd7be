"""skdcore: Structural Knowledge Distillation for skeleton-based action recognition.

A teacher GCN sees high-quality skeletons, a student sees low-quality ones of the same clip and
learns from the task loss plus logit, feature and graph-matching distillation, combined by
gradient revision. The heavy pieces are fused C++/CUDA PyTorch operators (torch.ops.skdcore.*).
"""
from ._loader import load_extension

_C = load_extension()

from . import nn, ops  # noqa: E402  (registers fake kernels; needs _C loaded first)
from .ops import graph_conv, normalize_adjacency, temporal_shift  # noqa: E402

__version__ = _C.build_info()["version"]


def build_info() -> dict:
    """Build facts: version, torch version built against, CUDA kernels compiled (+ archs), OpenMP, threads."""
    return dict(_C.build_info())


__all__ = ["build_info", "graph_conv", "nn", "normalize_adjacency", "ops", "temporal_shift", "__version__"]
