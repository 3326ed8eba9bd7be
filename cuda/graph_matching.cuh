// Torch-free CUDA launchers of skdcore::graph_matching_loss (raw pointers, a stream, an error code).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "graph_matching_math.h"

namespace skdcore {
namespace cuda {

// Node tile of the CUDA kernels (32 x 32 distance blocks).
constexpr int64_t kGraphTile = 32;

// N graphs of P nodes with C features, read in place: node (n, p) channel c is at
// n * P * C + p * node_stride + c * channel_stride ((N, C, T, V): 1, P; (N, P, C): C, 1).
struct GraphLayout {
  int64_t N, P, C, node_stride, channel_stride;
};

// Doubles of scratch the launchers need (squared norms of both graphs + per-tile partial sums).
inline int64_t graph_matching_workspace_size(const GraphLayout& layout) {
  const int64_t rows = (layout.P + kGraphTile - 1) / kGraphTile;
  return 2 * layout.N * layout.P + layout.N * rows * kChunkSumColumns;
}

// Forward: per_sample (N) float64 per-sample losses, stats (N, kStatsColumns) float64.
template <typename scalar_t>
cudaError_t graph_matching_forward(const scalar_t* student, const scalar_t* teacher, GraphLayout layout,
                                   GraphMatchingOptions options, double* workspace, double* per_sample,
                                   double* stats, cudaStream_t stream);

// Backward: grad (student's layout, zero-initialised) += d(sum_n sample_grad[n] * L_n)/d student.
template <typename scalar_t>
cudaError_t graph_matching_backward(const double* sample_grad, const scalar_t* student, const scalar_t* teacher,
                                    const double* stats, GraphLayout layout, GraphMatchingOptions options,
                                    double* workspace, scalar_t* grad, cudaStream_t stream);

}  // namespace cuda
}  // namespace skdcore
