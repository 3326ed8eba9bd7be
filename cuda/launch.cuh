// SKD_LAUNCH(kernel, grid, block, shared_bytes, stream, args...): a kernel launch that also runs
// without a GPU. Normally kernel<<<grid, block, shared_bytes, stream>>>(args...); under
// SKDCORE_CUDA_EMULATION (tests/cuda_emulation only: the .cu file compiled as plain C++) each
// block's threads run as CPU threads, so the kernels' indexing and tiling are tested on the CPU.
#pragma once

#include <cuda_runtime.h>

#ifdef SKDCORE_CUDA_EMULATION
#define SKD_LAUNCH(kernel, grid, block, shared, stream, ...) emulate_launch(kernel, grid, block, shared, __VA_ARGS__)
#else
#define SKD_LAUNCH(kernel, grid, block, shared, stream, ...) kernel<<<grid, block, shared, stream>>>(__VA_ARGS__)
#endif

namespace skdcore {
namespace cuda {

// The block's dynamic shared memory (the launch's shared_bytes) as an array of T. NB: an
// `extern __shared__` array is not plain C++, hence the emulation branch.
template <typename T>
__device__ __forceinline__ T* block_shared_memory() {
#ifdef SKDCORE_CUDA_EMULATION
  return reinterpret_cast<T*>(emulated_shared_memory());
#else
  extern __shared__ __align__(16) unsigned char shared_bytes[];
  return reinterpret_cast<T*>(shared_bytes);
#endif
}

}  // namespace cuda
}  // namespace skdcore
