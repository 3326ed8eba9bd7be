// Just enough of CUDA to run torch-free kernels (cuda/*.cu) on the CPU: every block runs on its
// own, its threads as std::threads meeting at a std::barrier for __syncthreads(). Slow; for
// checking indexing and tiling logic without a GPU. Built with -DSKDCORE_CUDA_EMULATION.
#pragma once

#include <atomic>
#include <barrier>
#include <cstddef>
#include <cstdint>
#include <thread>
#include <vector>

enum cudaError_t { cudaSuccess = 0, cudaErrorInvalidValue = 1, cudaErrorInvalidConfiguration = 9 };
using cudaStream_t = void*;
inline cudaError_t cudaGetLastError() { return cudaSuccess; }

struct dim3 {
  unsigned int x, y, z;
  dim3(unsigned int x_ = 1, unsigned int y_ = 1, unsigned int z_ = 1) : x(x_), y(y_), z(z_) {}
};

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(n)
// A static local is one object for all the block's threads (blocks run one after another), as
// __shared__ is on the GPU.
#define __shared__ static
#define __align__(n) __attribute__((aligned(n)))
// A kernel argument read in place on the GPU; here an ordinary by-value parameter.
#define __grid_constant__

// 16-bit types: only need to compile here (the emulation checks float and double).
struct __half {
  float value;
};
struct __nv_bfloat16 {
  float value;
};
inline float __half2float(__half h) { return h.value; }
inline __half __float2half(float f) { return {f}; }
inline float __bfloat162float(__nv_bfloat16 h) { return h.value; }
inline __nv_bfloat16 __float2bfloat16(float f) { return {f}; }

namespace emulation {
inline thread_local dim3 thread_index;
inline dim3 block_index, block_dim, grid_dim;
inline std::barrier<>* block_barrier = nullptr;
alignas(64) inline unsigned char shared_memory[1 << 20];
}  // namespace emulation

#define threadIdx emulation::thread_index
#define blockIdx emulation::block_index
#define blockDim emulation::block_dim
#define gridDim emulation::grid_dim

inline void __syncthreads() { emulation::block_barrier->arrive_and_wait(); }
inline unsigned char* emulated_shared_memory() { return emulation::shared_memory; }

// CUDA's integer min() (gradient_revision.cu clamps chunk ends with it); only the 64-bit form.
inline int64_t min(int64_t a, int64_t b) { return a < b ? a : b; }

template <typename T>
T atomicAdd(T* address, T value) {
  return std::atomic_ref<T>(*address).fetch_add(value);
}

// One CPU thread per CUDA thread of a block, created once per launch; they walk the grid's blocks
// together, a barrier between blocks (thread 0 sets the block index and poisons shared memory).
template <typename Kernel, typename... Args>
void emulate_launch(Kernel kernel, dim3 grid, dim3 block, size_t shared_bytes, Args... args) {
  if (shared_bytes > sizeof(emulation::shared_memory)) std::abort();
  const unsigned int threads = block.x * block.y * block.z;
  emulation::grid_dim = grid;
  emulation::block_dim = block;
  std::barrier<> barrier(threads);
  emulation::block_barrier = &barrier;
  std::vector<std::thread> pool;
  for (unsigned int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      emulation::thread_index = dim3(t % block.x, (t / block.x) % block.y, t / (block.x * block.y));
      for (unsigned int z = 0; z < grid.z; ++z) {
        for (unsigned int y = 0; y < grid.y; ++y) {
          for (unsigned int x = 0; x < grid.x; ++x) {
            if (t == 0) {
              emulation::block_index = dim3(x, y, z);
              // Poison shared memory so a read before a write shows up as NaN.
              for (size_t i = 0; i < shared_bytes; ++i) emulation::shared_memory[i] = 0xFF;
            }
            barrier.arrive_and_wait();
            kernel(args...);
            barrier.arrive_and_wait();
          }
        }
      }
    });
  }
  for (auto& thread : pool) thread.join();
}
