// skdcore::graph_conv as dense matrix products (cuBLAS on CUDA, the CPU BLAS elsewhere).
//
// Why: on an H100 the hand-written CUDA kernels (cuda/graph_conv.cu, no intermediate tensor) ran
// at ~3 TFLOP/s against cuBLAS's ~35 (fp32, no TF32), 5-20x slower than eager PyTorch, so the
// CUDA op takes this path by default (SKDCORE_GRAPH_CONV_CUDA=fused selects the kernels, which
// need no (K, N, C_in, T, V) intermediate). Device-generic ATen code, also registered (with the
// op's checks) as the private ops skdcore::_graph_conv_gemm{,_backward} so the CPU tests check it.
#pragma once

#include "graph_conv.h"

namespace skdcore {

// The forward and backward on checked inputs (graph_conv_on / graph_conv_backward_on run them when
// a device's path table chooses it).
extern const GraphConvProducts kGraphConvGemm;

}  // namespace skdcore
