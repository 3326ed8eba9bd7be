// Torch-free CUDA launchers of skdcore::gradient_revision (multi-tensor apply style).
//
// The N parameter tensors are described by device arrays: vectors[j * N + i] points at parameter
// i's gradient of vector j (j = 0: task, j >= 1: distillation loss j), numel[i] its size. The work
// is cut into chunks of kGradientRevisionChunk elements (chunk_tensor[c], chunk_begin[c]), one
// thread block per chunk, so every tensor of every size is covered by one launch.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "gradient_revision_math.h"

namespace skdcore {
namespace cuda {

constexpr int64_t kGradientRevisionChunk = 8192;

// gram: (K+1) x (K+1) float64, zero-initialised by the caller; the `num_pairs` entries listed in
// pairs ([a0, b0, a1, b1, ...]) and their mirrors are written. partials: num_chunks * num_pairs
// float64 workspace. The sum over chunks runs in a fixed order (deterministic).
template <typename scalar_t>
cudaError_t gradient_revision_gram(const scalar_t* const* vectors, const int64_t* numel,
                                   int64_t num_tensors, const int64_t* chunk_tensor,
                                   const int64_t* chunk_begin, int64_t num_chunks,
                                   const int64_t* pairs, int64_t num_pairs, int64_t K,
                                   double* partials, double* gram, cudaStream_t stream);

// One thread: weights (K+1) and stats (2, K) from the Gram matrix (gradient_revision_weights).
cudaError_t gradient_revision_weights(const double* gram, int64_t K, double eps,
                                      GradientRevisionMode mode, uint64_t seed, double* weights,
                                      double* stats, cudaStream_t stream);

// outputs[i] = sum_j weights[j] * vectors[j * N + i] (outputs may alias the task vectors).
template <typename scalar_t>
cudaError_t gradient_revision_apply(const scalar_t* const* vectors, scalar_t* const* outputs,
                                    const int64_t* numel, int64_t num_tensors,
                                    const int64_t* chunk_tensor, const int64_t* chunk_begin,
                                    int64_t num_chunks, int64_t K, const double* weights,
                                    cudaStream_t stream);

}  // namespace cuda
}  // namespace skdcore
