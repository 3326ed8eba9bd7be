// Torch-free CUDA launchers of skdcore::normalize_adjacency (raw pointers, a stream, an error code).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "normalize_adjacency_math.h"

namespace skdcore {
namespace cuda {

// A, out: (K, V, V) contiguous. scalar_t: float or double.
template <typename scalar_t>
cudaError_t normalize_adjacency_forward(const scalar_t* A, scalar_t* out, int64_t K, int64_t V,
                                        AdjacencyNorm mode, cudaStream_t stream);

// grad, A, grad_A: (K, V, V) contiguous.
template <typename scalar_t>
cudaError_t normalize_adjacency_backward(const scalar_t* grad, const scalar_t* A, scalar_t* grad_A,
                                         int64_t K, int64_t V, AdjacencyNorm mode,
                                         cudaStream_t stream);

}  // namespace cuda
}  // namespace skdcore
