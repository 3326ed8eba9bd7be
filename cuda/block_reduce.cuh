// Block-wide sums in a fixed order (deterministic run to run, no atomics), shared by the CUDA
// kernels that reduce per-thread partials. Torch-free; runs under tests/cuda_emulation too.
#pragma once

#include <cuda_runtime.h>

namespace skdcore {
namespace cuda {

// Sums values[0..kValues) over the block's kThreads threads at once (1-, 2- or 3-D blocks); every
// thread gets the totals in values. shared: kValues x kThreads doubles of shared memory, free
// again when this returns (so a kernel may call it several times).
template <int kThreads, int kValues>
__device__ void block_sums(double values[kValues], double (*shared)[kThreads]) {
  const int tid = (threadIdx.z * blockDim.y + threadIdx.y) * blockDim.x + threadIdx.x;
  for (int k = 0; k < kValues; ++k) shared[k][tid] = values[k];
  __syncthreads();
  for (int stride = kThreads / 2; stride > 0; stride /= 2) {
    if (tid < stride) {
      for (int k = 0; k < kValues; ++k) shared[k][tid] += shared[k][tid + stride];
    }
    __syncthreads();
  }
  for (int k = 0; k < kValues; ++k) values[k] = shared[k][0];
  __syncthreads();
}

}  // namespace cuda
}  // namespace skdcore
