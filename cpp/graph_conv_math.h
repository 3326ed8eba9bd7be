// Sizes and contraction order of skdcore::graph_conv, shared by the CPU kernels, the CUDA glue and
// the torch-free CUDA kernels (cuda/graph_conv.cu includes it).
//
//   y[n, o, t, w] = sum_k sum_c sum_v weight[k, o, c] * x[n, c, t, v] * a_eff[k, v, w] + bias[o]
//   grad_x[n]     = sum_k W_k^T grad[n] A_k^T: the same contraction with C_in and C_out swapped
//   a_eff         = A * edge_importance (elementwise) when the edge importance is given
#pragma once

#include <cstdint>

#include "common/host_device.h"

namespace skdcore {

struct GraphConvShape {
  int64_t N, C_in, C_out, T, V, K;

  // Rows of x viewed as an (N * C_in * T, V) matrix (the graph contraction's left operand).
  SKD_HOST_DEVICE int64_t x_rows() const { return N * C_in * T; }

  // grad_x as a forward: weight^T (K, C_in, C_out), a_eff^T, channels swapped.
  SKD_HOST_DEVICE GraphConvShape transposed() const { return {N, C_out, C_in, T, V, K}; }

  // Nothing to write (the sums may still be empty with C_in = 0 or K = 0: y = bias then).
  SKD_HOST_DEVICE bool empty_output() const { return N == 0 || C_out == 0 || T == 0 || V == 0; }

  // The graph contraction (V x V per frame) goes on the narrower channel side: graph first when
  // C_in < C_out, channels first otherwise (fewer FLOPs and a smaller per-sample workspace).
  SKD_HOST_DEVICE bool graph_first() const { return C_in < C_out; }
};

}  // namespace skdcore
