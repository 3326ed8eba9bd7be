// Torch-free CUDA launchers of skdcore::temporal_shift (raw pointers, a stream, an error code).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "temporal_shift_math.h"

namespace skdcore {
namespace cuda {

// x: (N, C, T, V), shift: (C,), out: (N, C, T / stride, V), all contiguous. scalar_t: float or double.
template <typename scalar_t>
cudaError_t temporal_shift_forward(const scalar_t* x, const scalar_t* shift, scalar_t* out, int64_t N,
                                   int64_t C, int64_t T, int64_t V, int64_t stride, cudaStream_t stream);

// grad: (N, C, T / stride, V); grad_x like x; grad_shift (C,). Deterministic (no atomics).
template <typename scalar_t>
cudaError_t temporal_shift_backward(const scalar_t* grad, const scalar_t* x, const scalar_t* shift,
                                    scalar_t* grad_x, scalar_t* grad_shift, int64_t N, int64_t C,
                                    int64_t T, int64_t V, int64_t stride, cudaStream_t stream);

}  // namespace cuda
}  // namespace skdcore
