"""The torch-free CUDA kernels (cuda/*.cu), run on the CPU (tests/cuda_emulation) vs naive loops.

No GPU needed: each program compiles a .cu file as C++20 with SKDCORE_CUDA_EMULATION, each block's
threads running as std::threads. This checks the launchers' tiling and the kernels' indexing:
  graph_conv_emulated: forward, grad_x, grad_weight, grad_adjacency (float, double, tile remainders);
  graph_matching_emulated: the fused loss kernels (the CUDA op's default): losses, saved statistics
    and gradient vs a naive double computation (every option, both layouts, tile remainders);
  graph_matching_chunks_emulated: the matrix-product path's per-row sums and W (every option,
    chunks off and across the diagonal, rows longer than a block);
  temporal_shift_emulated: forward, grad_x and grad_shift (strides 1-3 and above T, fractional and
    negative shifts, shifts leaving the clip, block remainders, reductions longer than a block);
  normalize_adjacency_emulated: forward and backward in both modes (zero and negative degrees,
    V = 1, 17, 25 and 300 > threads per block);
  gradient_revision_emulated: Gram matrix, weights' stats and apply (in and out of place), skd and
    pcgrad (chunk edges, empty tensors, more chunks than threads per block, K = 0 and K = 16).
"""
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
COMPILER = shutil.which("g++") or shutil.which("c++")


@pytest.mark.skipif(COMPILER is None, reason="needs a C++20 compiler")
@pytest.mark.parametrize(
    "program",
    [
        "graph_conv_emulated",
        "graph_matching_emulated",
        "graph_matching_chunks_emulated",
        "temporal_shift_emulated",
        "normalize_adjacency_emulated",
        "gradient_revision_emulated",
    ],
)
def test_cuda_kernels_match_naive_loops_emulated(tmp_path, program):
    binary = tmp_path / program
    emulation = ROOT / "tests" / "cuda_emulation"
    build = subprocess.run(
        [COMPILER, "-std=c++20", "-O1", "-pthread", "-DSKDCORE_CUDA_EMULATION",
         f"-I{emulation / 'stubs'}", f"-I{ROOT / 'cuda'}", f"-I{ROOT / 'cpp'}",
         str(emulation / f"{program}.cpp"), "-o", str(binary)],
        capture_output=True, text=True,
    )
    if build.returncode != 0 and "c++20" in build.stderr:
        pytest.skip(f"compiler lacks C++20: {build.stderr[:200]}")
    assert build.returncode == 0, build.stderr
    run = subprocess.run([str(binary)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "all match" in run.stdout
