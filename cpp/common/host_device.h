// Marks small math helpers that both the CPU kernels (g++) and the CUDA kernels (nvcc)
// compile from one definition. Torch-free on purpose: cuda/*.cu includes it.
#pragma once

#if defined(__CUDACC__)
#define SKD_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define SKD_HOST_DEVICE inline
#endif

#include <cmath>

// Math in the argument's own type: CUDA's overloads on the device, std:: on the host (the C
// library's sqrt/floor are double-only, and a float argument would round-trip through double).
template <typename T>
SKD_HOST_DEVICE T skd_sqrt(T x) {
#if defined(__CUDA_ARCH__)
  return sqrt(x);
#else
  return std::sqrt(x);
#endif
}

template <typename T>
SKD_HOST_DEVICE T skd_floor(T x) {
#if defined(__CUDA_ARCH__)
  return floor(x);
#else
  return std::floor(x);
#endif
}
