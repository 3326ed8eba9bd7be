"""Which variant an op with several implementations runs: one small table in the compiled core.

    graph_conv_cuda          gemm (default) | fused             env SKDCORE_GRAPH_CONV_CUDA
    graph_matching_cuda      gemm (default) | fused             env SKDCORE_GRAPH_MATCHING_CUDA
    graph_matching_cpu_gemm  blas (default) | aten              env SKDCORE_GM_GEMM

The table is read from the environment once, when first needed (never per call), and changed only
here: ``with use_op_path("graph_conv_cuda", "fused"): ...`` (tests and benchmarks that compare the
variants). A variant stays only while a benchmark shows it wins somewhere (benchmarks/RESULTS.md).
"""
from __future__ import annotations

import contextlib
from typing import Dict, Iterator

from .._loader import load_extension

_C = load_extension()


def op_paths() -> Dict[str, str]:
    """{table name: chosen variant} for every op with several implementations."""
    return dict(_C.op_paths())


def set_op_path(name: str, choice: str) -> None:
    """Choose ``name``'s variant (ValueError naming the valid choices otherwise)."""
    _C.set_op_path(name, choice)


@contextlib.contextmanager
def use_op_path(name: str, choice: str) -> Iterator[None]:
    """Run a block with ``name`` set to ``choice``; the previous variant comes back on exit."""
    previous = op_paths().get(name)
    set_op_path(name, choice)
    try:
        yield
    finally:
        if previous is not None:
            set_op_path(name, previous)
