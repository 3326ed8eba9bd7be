// Torch-free CUDA launchers of the elementwise steps of graph_matching_loss's matrix-product path
// (cpp/graph_matching_gemm.cpp): one chunk of Gram blocks (GramChunk, cpp/graph_matching_math.h),
// already computed by cuBLAS, turned into per-row sums (forward) or into W = dL/dd2 (backward).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "graph_matching_math.h"

namespace skdcore {
namespace cuda {

// Pointers of one chunk; acc_t = the features' dtype (float or double).
//   gram_s, gram_t: (samples, rows, cols) Gram blocks of student and teacher
//   norms_s, norms_t: (samples, P) squared node norms
//   stats: (samples, kStatsColumns) float64 (the normalisers; read by the Loss pass and backward)
template <typename acc_t>
struct ChunkInputs {
  const acc_t* gram_s;
  const acc_t* gram_t;
  const acc_t* norms_s;
  const acc_t* norms_t;
  const double* stats;
};

// per_row (samples, rows, kChunkSumColumns) float64 = each row's sums of `pass` over its pairs j > i.
template <typename acc_t>
cudaError_t graph_matching_chunk_sums(ChunkInputs<acc_t> in, GramChunk chunk, GraphMatchingOptions options,
                                      ChunkPass pass, double* per_row, cudaStream_t stream);

// w (samples, rows, cols; may be in.gram_s) = W_ij for every pair j != i (0 on the diagonal);
// rowsum (samples, rows) = sum_j W_ij. sample_grad (samples) = dOut/dL_n.
template <typename acc_t>
cudaError_t graph_matching_chunk_weights(ChunkInputs<acc_t> in, const double* sample_grad, GramChunk chunk,
                                         GraphMatchingOptions options, acc_t* w, acc_t* rowsum,
                                         cudaStream_t stream);

}  // namespace cuda
}  // namespace skdcore
