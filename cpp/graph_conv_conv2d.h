// skdcore::graph_conv as one graph product and one strided conv2d (cuDNN on CUDA, oneDNN/the CPU
// BLAS elsewhere):
//   xa[n, c, t, w*K + k] = (x A_k)[n, c, t, w]      (N*C_in*T, V) x (V, V*K): one product
//   y = conv2d(xa, W', bias, stride=(1, K))          W'[o, c, 0, k] = W_k[o, c]
// The (1, K) kernel with stride K sums the K partitions while it mixes channels, so there is no
// per-partition loop and no transposed copy. Why a third CUDA path: eager's own 1x1 conv runs on
// cuDNN, which follows torch.backends.cudnn.allow_tf32 (default on: TF32 tensor cores) while the
// cuBLAS path (graph_conv_gemm.cpp) is fp32 like every skdcore kernel; this path has the
// reference's precision and library. Selected by SKDCORE_GRAPH_CONV_CUDA=conv2d; registered as the
// private ops skdcore::_graph_conv_conv2d{,_backward} so the CPU tests check it. Not yet measured on
// a GPU.
#pragma once

#include "graph_conv.h"

namespace skdcore {

at::Tensor graph_conv_conv2d(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& A,
                             const c10::optional<at::Tensor>& bias,
                             const c10::optional<at::Tensor>& edge_importance);

GraphConvGrads graph_conv_conv2d_backward(const at::Tensor& grad, const at::Tensor& x,
                                          const at::Tensor& weight, const at::Tensor& A,
                                          const c10::optional<at::Tensor>& edge_importance,
                                          std::array<bool, 5> output_mask);

}  // namespace skdcore
