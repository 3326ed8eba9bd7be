// Marks small math helpers that both the CPU kernels (g++) and the CUDA kernels (nvcc)
// compile from one definition. Torch-free on purpose: cuda/*.cu includes it.
#pragma once

#if defined(__CUDACC__)
#define SKD_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define SKD_HOST_DEVICE inline
#endif
