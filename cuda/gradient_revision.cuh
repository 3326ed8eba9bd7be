// Torch-free CUDA launchers of skdcore::gradient_revision (multi-tensor apply style).
//
// The caller passes HOST arrays: vectors[j * N + i] is the device pointer of parameter i's gradient
// of vector j (j = 0: task, j >= 1: distillation loss j), numel[i] its size. The work is cut into
// chunks of kGradientRevisionChunk elements, one thread block per chunk; the launchers pack the
// pointers, sizes and chunk list into fixed-size tables passed BY VALUE as kernel arguments (like
// PyTorch's multi_tensor_apply), as many launches as the tables need. So no device table exists:
// no host->device copy, no synchronisation, no allocation for it.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "gradient_revision_math.h"

namespace skdcore {
namespace cuda {

constexpr int64_t kGradientRevisionChunk = 8192;

// One launch's share of the work (a kernel argument: keep it well under the 4 KiB limit).
// Tensor slot s holds `stride` pointers: the K+1 input vectors, then (apply only) the output.
// A tensor larger than the blocks left in a table continues in the next table's slot 0.
struct GradientRevisionTable {
#ifdef SKDCORE_GRADIENT_REVISION_SMALL_TABLES
  // tests/cuda_emulation: tables this small make small inputs need several launches.
  static constexpr int kMaxPointers = 20;
  static constexpr int kMaxSlots = 16;
  static constexpr int kMaxBlocks = 16;
#else
  static constexpr int kMaxPointers = 160;
  static constexpr int kMaxSlots = 48;
  static constexpr int kMaxBlocks = 320;
#endif
  const void* pointers[kMaxPointers];  // pointers[s * stride + j]
  int64_t numel[kMaxSlots];
  int32_t block_chunk[kMaxBlocks];     // the block's chunk index within its tensor
  uint8_t block_slot[kMaxBlocks];
  int64_t first_block;                 // index of block 0 among all chunks (gram partials row)
};
static_assert(sizeof(GradientRevisionTable) <= 4096, "kernel arguments are limited to 4 KiB");
static_assert(GradientRevisionTable::kMaxPointers >= kGradientRevisionMaxLosses + 2,
              "a table must hold one tensor's K+1 inputs and its output");

// Chunks over all tensors: the rows of the gram partials workspace.
int64_t gradient_revision_num_chunks(const int64_t* numel, int64_t num_tensors);

// gram: (K+1) x (K+1) float64, zero-initialised by the caller; the gradient_revision_num_pairs
// entries (gradient_revision_pair) and their mirrors are written. partials: device workspace of
// gradient_revision_num_chunks(numel, N) * num_pairs float64. The sum over chunks runs in a fixed
// order (deterministic).
template <typename scalar_t>
cudaError_t gradient_revision_gram(const scalar_t* const* vectors, const int64_t* numel,
                                   int64_t num_tensors, int64_t K, GradientRevisionMode mode,
                                   double* partials, double* gram, cudaStream_t stream);

// One thread: weights (K+1) and stats (2, K) from the Gram matrix (gradient_revision_weights).
cudaError_t gradient_revision_weights(const double* gram, int64_t K, double eps,
                                      GradientRevisionMode mode, uint64_t seed, double* weights,
                                      double* stats, cudaStream_t stream);

// outputs[i] = sum_j weights[j] * vectors[j * N + i] (outputs: a host array of device pointers,
// which may alias the task vectors).
template <typename scalar_t>
cudaError_t gradient_revision_apply(const scalar_t* const* vectors, scalar_t* const* outputs,
                                    const int64_t* numel, int64_t num_tensors, int64_t K,
                                    const double* weights, cudaStream_t stream);

}  // namespace cuda
}  // namespace skdcore
