// skdcore::graph_conv as dense matrix products (cuBLAS on CUDA, the CPU BLAS elsewhere).
//
// Why: on an H100 the hand-written CUDA kernels (cuda/graph_conv.cu, no intermediate tensor) ran
// at ~3 TFLOP/s against cuBLAS's ~35 (fp32, no TF32), 5-20x slower than eager PyTorch, so the
// CUDA op takes this path by default (SKDCORE_GRAPH_CONV_CUDA=fused selects the kernels, which
// need no (K, N, C_in, T, V) intermediate). Device-generic ATen code, also registered as the
// private ops skdcore::_graph_conv_gemm{,_backward} so the CPU tests check it.
#pragma once

#include "graph_conv.h"

namespace skdcore {

at::Tensor graph_conv_gemm(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& A,
                           const c10::optional<at::Tensor>& bias,
                           const c10::optional<at::Tensor>& edge_importance);

GraphConvGrads graph_conv_gemm_backward(const at::Tensor& grad, const at::Tensor& x,
                                        const at::Tensor& weight, const at::Tensor& A,
                                        const c10::optional<at::Tensor>& edge_importance,
                                        std::array<bool, 5> output_mask);

// a^T b for a (R, V) and b (R, M) whose R rows form `groups` equal groups (a chunk boundary never
// splits one): summed over batched row chunks so a long reduction still fills a GPU. (V, M).
at::Tensor row_chunked_product(const at::Tensor& a, const at::Tensor& b, int64_t groups);

}  // namespace skdcore
