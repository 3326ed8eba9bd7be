// SKD_LAUNCH(kernel, grid, block, shared_bytes, stream, args...): a kernel launch that also runs
// without a GPU. Normally kernel<<<grid, block, shared_bytes, stream>>>(args...); under
// SKDCORE_CUDA_EMULATION (tests/cuda_emulation only: the .cu file compiled as plain C++) each
// block's threads run as CPU threads, so the kernels' indexing and tiling are tested on the CPU.
#pragma once

#ifdef SKDCORE_CUDA_EMULATION
#define SKD_LAUNCH(kernel, grid, block, shared, stream, ...) emulate_launch(kernel, grid, block, shared, __VA_ARGS__)
#else
#define SKD_LAUNCH(kernel, grid, block, shared, stream, ...) kernel<<<grid, block, shared, stream>>>(__VA_ARGS__)
#endif
