// CUDA glue of skdcore::graph_matching_loss: checks, device guard, current stream, launch.
// Built only against a CUDA torch (SKDCORE_WITH_CUDA). Two paths (op_paths.h: graph_matching_cuda,
// SKDCORE_GRAPH_MATCHING_CUDA):
//   gemm (default): cuBLAS Gram chunks + the elementwise kernels of cuda/graph_matching_chunks.cu
//     (graph_matching_gemm.cpp); H200: 1.82-2.34x eager at C=256 (issue #22). Its products run
//     in fp32 even when TF32 matmuls are allowed (the driver holds an at::NoTF32Guard; see
//     use_gemm_path for the one backend where that guard does not reach).
//   fused: cuda/graph_matching.cu, distance tiles from FMAs in shared memory; 0.39-0.74x eager at
//     C=256 (H100, H200). It stays for float64 on cards whose fp64 matrix units the gemm path has
//     not been measured against, and as the second implementation the CUDA tests compare with.
#include <ATen/Context.h>
#include <ATen/Dispatch.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include "common/cuda_launch.h"
#include "graph_matching.cuh"
#include "graph_matching.h"
#include "graph_matching_chunks.cuh"
#include "graph_matching_gemm.h"
#include "common/op_paths.h"

namespace skdcore {
namespace {

// The path from op_paths.h (graph_matching_cuda). NB: the gemm driver's at::NoTF32Guard reaches
// torch's cuBLAS backend (the handle's math mode), not every torch version's cublasLt backend
// (torch.backends.cuda.preferred_blas_library("cublaslt") reads only the global TF32 flag there);
// with that backend and TF32 allowed the fused kernels (exact fp32 FMAs) run instead.
bool use_gemm_path() {
  if (op_path(OpPath::GraphMatchingCuda) != kGraphMatchingCudaGemm) return false;
  at::Context& context = at::globalContext();
  if (context.blasPreferredBackend() == at::BlasBackend::Cublaslt && context.allowTF32CuBLAS()) {
    TORCH_WARN_ONCE("skdcore.graph_matching_loss: TF32 matmuls are allowed and the preferred BLAS library is "
                    "cublasLt, whose Gram products the gemm path cannot keep in fp32; using the fused kernels");
    return false;
  }
  return true;
}

template <typename T>
cuda::ChunkInputs<T> chunk_inputs(const at::Tensor& gram_s, const at::Tensor& gram_t, const at::Tensor& norms_s,
                                  const at::Tensor& norms_t, const at::Tensor& stats) {
  return {gram_s.const_data_ptr<T>(), gram_t.const_data_ptr<T>(), norms_s.const_data_ptr<T>(),
          norms_t.const_data_ptr<T>(), stats.const_data_ptr<double>()};
}

void row_sums_cuda(const at::Tensor& gram_s, const at::Tensor& gram_t, const at::Tensor& norms_s,
                   const at::Tensor& norms_t, const at::Tensor& stats, const GramChunk& chunk,
                   const GraphMatchingOptions& options, ChunkPass pass, at::Tensor& per_row) {
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES(gram_s.scalar_type(), "graph_matching_chunk_sums_cuda", [&] {
    check_launch(cuda::graph_matching_chunk_sums<scalar_t>(
                     chunk_inputs<scalar_t>(gram_s, gram_t, norms_s, norms_t, stats), chunk, options, pass,
                     per_row.mutable_data_ptr<double>(), stream),
                 "skdcore.graph_matching_loss");
  });
}

void weights_cuda(at::Tensor& gram_s, const at::Tensor& gram_t, const at::Tensor& norms_s, const at::Tensor& norms_t,
                  const at::Tensor& stats, const at::Tensor& sample_grad, const GramChunk& chunk,
                  const GraphMatchingOptions& options, at::Tensor& rowsum) {
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES(gram_s.scalar_type(), "graph_matching_chunk_weights_cuda", [&] {
    check_launch(cuda::graph_matching_chunk_weights<scalar_t>(
                     chunk_inputs<scalar_t>(gram_s, gram_t, norms_s, norms_t, stats),
                     sample_grad.const_data_ptr<double>(), chunk, options, gram_s.mutable_data_ptr<scalar_t>(),
                     rowsum.mutable_data_ptr<scalar_t>(), stream),
                 "skdcore._graph_matching_loss_backward");
  });
}

constexpr GraphMatchingChunkSteps kCudaSteps{&row_sums_cuda, &weights_cuda};

cuda::GraphLayout cuda_layout(const at::Tensor& contiguous_features) {
  const GraphShape shape = graph_shape(contiguous_features);
  return {shape.N, shape.P, shape.C, shape.node_stride(), shape.channel_stride()};
}

void forward_cuda(const at::Tensor& s, const at::Tensor& t, const GraphMatchingOptions& options,
                  at::Tensor& per_sample, at::Tensor& stats) {
  const cuda::GraphLayout layout = cuda_layout(s);
  at::Tensor workspace = at::empty({cuda::graph_matching_workspace_size(layout)}, s.options().dtype(at::kDouble));
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES(s.scalar_type(), "graph_matching_forward_cuda", [&] {
    check_launch(cuda::graph_matching_forward<scalar_t>(
                     s.const_data_ptr<scalar_t>(), t.const_data_ptr<scalar_t>(), layout, options,
                     workspace.mutable_data_ptr<double>(), per_sample.mutable_data_ptr<double>(),
                     stats.mutable_data_ptr<double>(), stream),
                 "skdcore.graph_matching_loss");
  });
}

void backward_cuda(const at::Tensor& sample_grad, const at::Tensor& s, const at::Tensor& t, const at::Tensor& stats,
                   const GraphMatchingOptions& options, at::Tensor& grad_student) {
  const cuda::GraphLayout layout = cuda_layout(s);
  at::Tensor workspace = at::empty({cuda::graph_matching_workspace_size(layout)}, s.options().dtype(at::kDouble));
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES(s.scalar_type(), "graph_matching_backward_cuda", [&] {
    check_launch(cuda::graph_matching_backward<scalar_t>(
                     sample_grad.const_data_ptr<double>(), s.const_data_ptr<scalar_t>(), t.const_data_ptr<scalar_t>(),
                     stats.const_data_ptr<double>(), layout, options, workspace.mutable_data_ptr<double>(),
                     grad_student.mutable_data_ptr<scalar_t>(), stream),
                 "skdcore._graph_matching_loss_backward");
  });
}

const GraphMatchingChunkSteps* gemm_steps_cuda() { return use_gemm_path() ? &kCudaSteps : nullptr; }

constexpr GraphMatchingKernels kCudaKernels{c10::kCUDA, &gemm_steps_cuda, &forward_cuda, &backward_cuda};

}  // namespace

const GraphMatchingChunkSteps kCudaChunkSteps{kCudaSteps.row_sums, kCudaSteps.weights};

TORCH_LIBRARY_IMPL(skdcore, CUDA, m) { register_graph_matching<kCudaKernels>(m); }

}  // namespace skdcore
