// skdcore::graph_matching_loss through batched matrix products (cuBLAS on CUDA, the CPU BLAS
// elsewhere) with fused elementwise epilogues.
//
// Why: on an H100 the fused CUDA kernels (cuda/graph_matching.cu: each Gram entry from fp32 FMAs
// over shared-memory tiles, ~7 TFLOP/s) ran at 0.41-0.74x eager at C=256, whose Gram products go
// through cuBLAS. This path gets the Gram blocks of a chunk of rows from one batched GEMM into a
// bounded workspace (never the whole P x P matrices unless they fit), then one elementwise pass
// per chunk (GraphMatchingChunkSteps: a CPU loop or a CUDA kernel) turns them into the loss sums
// or into W = dL/dd2, and the gradient is two more products: grad = 4 (rowsum(W) f - W F).
// Registered as the private ops skdcore::_graph_matching_gemm_{forward,backward} (CPU and CUDA),
// so the CPU tests check the same driver the GPU runs. NB: the Gram products always run in full
// fp32: with TF32 (a 10-bit mantissa) |a|^2 + |b|^2 - 2 a.b would carry distance errors of
// ~1e-3 |a|^2, so the drivers hold an at::NoTF32Guard, which sets cuBLAS's math mode for these
// products only (torch.backends.cuda.matmul.allow_tf32 / set_float32_matmul_precision stay as the
// user set them for everything else).
#pragma once

#include <ATen/ATen.h>

#include <tuple>

#include "graph_matching.h"

namespace skdcore {

// Workspace for the two Gram chunks (student and teacher) when the caller gives none.
constexpr int64_t kGraphMatchingGemmWorkspaceBytes = int64_t(128) << 20;

// The device's elementwise steps over one chunk; tensors are contiguous, dtype = the features'.
struct GraphMatchingChunkSteps {
  // per_row (samples, rows, kChunkSumColumns) float64 <- each row's sums of `pass`.
  void (*row_sums)(const at::Tensor& gram_s, const at::Tensor& gram_t, const at::Tensor& norms_s,
                   const at::Tensor& norms_t, const at::Tensor& stats, const GramChunk& chunk,
                   const GraphMatchingOptions& options, ChunkPass pass, at::Tensor& per_row);
  // gram_s (samples, rows, cols) <- W (in place); rowsum (samples, rows) <- sum_j W_ij.
  void (*weights)(at::Tensor& gram_s, const at::Tensor& gram_t, const at::Tensor& norms_s,
                  const at::Tensor& norms_t, const at::Tensor& stats, const at::Tensor& sample_grad,
                  const GramChunk& chunk, const GraphMatchingOptions& options, at::Tensor& rowsum);
};

// Same contract as _graph_matching_loss_forward / _backward (inputs already checked by the caller).
std::tuple<at::Tensor, at::Tensor> graph_matching_gemm_forward(const at::Tensor& student, const at::Tensor& teacher,
                                                               const GraphMatchingOptions& options,
                                                               const GraphMatchingChunkSteps& steps,
                                                               int64_t workspace_bytes);

at::Tensor graph_matching_gemm_backward(const at::Tensor& grad, const at::Tensor& student, const at::Tensor& teacher,
                                        const at::Tensor& stats, const GraphMatchingOptions& options,
                                        const GraphMatchingChunkSteps& steps, int64_t workspace_bytes);

// Each device's elementwise steps: graph_matching_chunks_cpu.cpp, graph_matching_cuda.cpp (CUDA
// builds). The private ops _graph_matching_gemm_{forward,backward} are registered once
// (graph_matching_gemm.cpp) and pick the steps of their inputs' device.
extern const GraphMatchingChunkSteps kCpuChunkSteps;
#ifdef SKDCORE_WITH_CUDA
extern const GraphMatchingChunkSteps kCudaChunkSteps;
#endif

}  // namespace skdcore
