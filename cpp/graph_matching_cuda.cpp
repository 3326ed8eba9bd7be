// CUDA glue of skdcore::graph_matching_loss: checks, device guard, current stream, launch.
// Built only against a CUDA torch (SKDCORE_WITH_CUDA). Two paths:
//   fused (default): cuda/graph_matching.cu, distance tiles from FMAs in shared memory; measured
//     0.41-0.74x eager at C=256 on an H100 (benchmarks/RESULTS.md);
//   gemm (SKDCORE_GRAPH_MATCHING_CUDA=gemm): cuBLAS Gram chunks + the elementwise kernels of
//     cuda/graph_matching_chunks.cu (graph_matching_gemm.cpp). Not yet run on a GPU (its kernels are
//     checked on the CPU by tests/cuda_emulation); the default moves to it once measured faster.
#include <ATen/Context.h>
#include <ATen/Dispatch.h>
#include <c10/cuda/CUDAStream.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include <cstdlib>
#include <cstring>

#include "graph_matching.cuh"
#include "graph_matching.h"
#include "graph_matching_chunks.cuh"
#include "graph_matching_gemm.h"

namespace skdcore {
namespace {

void check_launch(cudaError_t err, const char* op) {
  TORCH_CHECK(err == cudaSuccess, op, ": CUDA kernel launch failed: ", cudaGetErrorString(err));
}

// Read per call (a getenv is cheap next to a launch), so a benchmark can compare both paths.
// NB: with TF32 matmuls allowed (torch.backends.cuda.matmul.allow_tf32) cuBLAS would round the Gram
// products to a 10-bit mantissa, and |a|^2 + |b|^2 - 2 a.b turns that into distance errors of
// ~1e-3 |a|^2; the fused kernels (exact fp32 FMAs) run instead.
bool use_gemm_path() {
  const char* path = std::getenv("SKDCORE_GRAPH_MATCHING_CUDA");
  if (path == nullptr || path[0] == '\0' || std::strcmp(path, "fused") == 0) return false;
  TORCH_CHECK_VALUE(std::strcmp(path, "gemm") == 0, "SKDCORE_GRAPH_MATCHING_CUDA must be 'fused' (default) or "
                    "'gemm', got '", path, "'");
  if (at::globalContext().allowTF32CuBLAS()) {
    TORCH_WARN_ONCE("skdcore.graph_matching_loss: TF32 matmuls are allowed, which the Gram-form distances of "
                    "SKDCORE_GRAPH_MATCHING_CUDA=gemm cannot afford; using the fused kernels");
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

std::tuple<at::Tensor, at::Tensor> graph_matching_forward_cuda(
    const at::Tensor& student, const at::Tensor& teacher, c10::string_view distance, c10::string_view loss,
    double beta, c10::string_view normalize, c10::string_view reduction) {
  constexpr const char* op = "skdcore.graph_matching_loss";
  const GraphMatchingOptions options =
      checked_forward_options(op, c10::kCUDA, student, teacher, distance, loss, beta, normalize, reduction);
  const c10::cuda::CUDAGuard device_guard(student.device());
  if (use_gemm_path()) {
    return graph_matching_gemm_forward(student, teacher, options, kCudaSteps, kGraphMatchingGemmWorkspaceBytes);
  }
  const at::Tensor s = student.contiguous();
  const at::Tensor t = teacher.detach().contiguous();
  const cuda::GraphLayout layout = cuda_layout(s);
  at::Tensor stats = at::zeros({layout.N, kStatsColumns}, s.options().dtype(at::kDouble));
  at::Tensor per_sample = at::zeros({layout.N}, s.options().dtype(at::kDouble));
  if (layout.N > 0 && layout.P > 0) {
    at::Tensor workspace = at::empty({cuda::graph_matching_workspace_size(layout)}, s.options().dtype(at::kDouble));
    const cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
    AT_DISPATCH_FLOATING_TYPES(s.scalar_type(), "graph_matching_forward_cuda", [&] {
      check_launch(cuda::graph_matching_forward<scalar_t>(
                       s.const_data_ptr<scalar_t>(), t.const_data_ptr<scalar_t>(), layout, options,
                       workspace.mutable_data_ptr<double>(), per_sample.mutable_data_ptr<double>(),
                       stats.mutable_data_ptr<double>(), stream),
                   op);
    });
  }
  return {reduce_graph_matching_loss(per_sample, options.reduction, s.scalar_type()), stats};
}

at::Tensor graph_matching_loss_cuda(const at::Tensor& student, const at::Tensor& teacher,
                                   c10::string_view distance, c10::string_view loss, double beta,
                                   c10::string_view normalize, c10::string_view reduction) {
  return std::get<0>(graph_matching_forward_cuda(student, teacher, distance, loss, beta, normalize, reduction));
}

at::Tensor graph_matching_backward_cuda(const at::Tensor& grad, const at::Tensor& student, const at::Tensor& teacher,
                                        const at::Tensor& stats, c10::string_view distance, c10::string_view loss,
                                        double beta, c10::string_view normalize, c10::string_view reduction) {
  constexpr const char* op = "skdcore._graph_matching_loss_backward";
  const GraphMatchingOptions options = checked_backward_options(op, c10::kCUDA, grad, student, teacher, stats,
                                                                distance, loss, beta, normalize, reduction);
  const c10::cuda::CUDAGuard device_guard(student.device());
  if (use_gemm_path()) {
    return graph_matching_gemm_backward(grad, student, teacher, stats, options, kCudaSteps,
                                        kGraphMatchingGemmWorkspaceBytes);
  }
  const at::Tensor s = student.contiguous();
  const at::Tensor t = teacher.detach().contiguous();
  const cuda::GraphLayout layout = cuda_layout(s);
  at::Tensor grad_student = at::zeros_like(s, at::MemoryFormat::Contiguous);
  if (layout.N == 0 || layout.P == 0 || layout.C == 0) return grad_student;
  const at::Tensor sample_grad = graph_matching_sample_grad(grad, layout.N, options.reduction);
  const at::Tensor stats_c = stats.contiguous();
  at::Tensor workspace = at::empty({cuda::graph_matching_workspace_size(layout)}, s.options().dtype(at::kDouble));
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES(s.scalar_type(), "graph_matching_backward_cuda", [&] {
    check_launch(cuda::graph_matching_backward<scalar_t>(
                     sample_grad.const_data_ptr<double>(), s.const_data_ptr<scalar_t>(), t.const_data_ptr<scalar_t>(),
                     stats_c.const_data_ptr<double>(), layout, options, workspace.mutable_data_ptr<double>(),
                     grad_student.mutable_data_ptr<scalar_t>(), stream),
                 op);
  });
  return grad_student;
}

std::tuple<at::Tensor, at::Tensor> gemm_forward_cuda(const at::Tensor& student, const at::Tensor& teacher,
                                                     c10::string_view distance, c10::string_view loss, double beta,
                                                     c10::string_view normalize, c10::string_view reduction,
                                                     int64_t workspace_bytes) {
  const c10::cuda::CUDAGuard device_guard(student.device());
  return graph_matching_gemm_forward_op(c10::kCUDA, kCudaSteps, student, teacher, distance, loss, beta, normalize,
                                        reduction, workspace_bytes);
}

at::Tensor gemm_backward_cuda(const at::Tensor& grad, const at::Tensor& student, const at::Tensor& teacher,
                              const at::Tensor& stats, c10::string_view distance, c10::string_view loss, double beta,
                              c10::string_view normalize, c10::string_view reduction, int64_t workspace_bytes) {
  const c10::cuda::CUDAGuard device_guard(student.device());
  return graph_matching_gemm_backward_op(c10::kCUDA, kCudaSteps, grad, student, teacher, stats, distance, loss,
                                         beta, normalize, reduction, workspace_bytes);
}

}  // namespace

TORCH_LIBRARY_IMPL(skdcore, CUDA, m) {
  m.impl("_graph_matching_gemm_forward", &gemm_forward_cuda);
  m.impl("_graph_matching_gemm_backward", &gemm_backward_cuda);
  m.impl("graph_matching_loss", &graph_matching_loss_cuda);
  m.impl("_graph_matching_loss_forward", &graph_matching_forward_cuda);
  m.impl("_graph_matching_loss_backward", &graph_matching_backward_cuda);
}

}  // namespace skdcore
