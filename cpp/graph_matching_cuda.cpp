// CUDA glue of skdcore::graph_matching_loss: checks, device guard, current stream, launch.
// Built only against a CUDA torch (SKDCORE_WITH_CUDA); the kernels are in cuda/graph_matching.cu.
#include <ATen/Dispatch.h>
#include <c10/cuda/CUDAStream.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include "checks.h"
#include "graph_matching.cuh"
#include "graph_matching.h"

namespace skdcore {
namespace {

void check_launch(cudaError_t err, const char* op) {
  TORCH_CHECK(err == cudaSuccess, op, ": CUDA kernel launch failed: ", cudaGetErrorString(err));
}

cuda::GraphLayout cuda_layout(const at::Tensor& contiguous_features) {
  const GraphShape shape = graph_shape(contiguous_features);
  return {shape.N, shape.P, shape.C, shape.node_stride(), shape.channel_stride()};
}

std::tuple<at::Tensor, at::Tensor> graph_matching_forward_cuda(
    const at::Tensor& student, const at::Tensor& teacher, c10::string_view distance, c10::string_view loss,
    double beta, c10::string_view normalize, c10::string_view reduction) {
  constexpr const char* op = "skdcore.graph_matching_loss";
  check_graph_matching_inputs(op, student, teacher);
  checks::check_device(op, "student", student, c10::kCUDA);
  const GraphMatchingOptions options = parse_graph_matching_options(distance, loss, beta, normalize, reduction);
  const c10::cuda::CUDAGuard device_guard(student.device());
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
  at::Tensor out;
  if (options.reduction == LossReduction::None) {
    out = per_sample.to(s.scalar_type());
  } else {
    at::Tensor total = per_sample.sum();
    // NB: an empty batch gives 0 (not the NaN of an empty mean), as on the CPU.
    if (options.reduction == LossReduction::Mean) total = total / static_cast<double>(std::max<int64_t>(layout.N, 1));
    out = total.to(s.scalar_type());
  }
  return {out, stats};
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
  check_graph_matching_inputs(op, student, teacher);
  checks::check_device(op, "student", student, c10::kCUDA);
  const GraphMatchingOptions options = parse_graph_matching_options(distance, loss, beta, normalize, reduction);
  check_graph_matching_backward_inputs(op, grad, student, stats, options.reduction);
  const c10::cuda::CUDAGuard device_guard(student.device());
  const at::Tensor s = student.contiguous();
  const at::Tensor t = teacher.detach().contiguous();
  const cuda::GraphLayout layout = cuda_layout(s);
  at::Tensor grad_student = at::zeros_like(s, at::MemoryFormat::Contiguous);
  if (layout.N == 0 || layout.P == 0 || layout.C == 0) return grad_student;
  at::Tensor sample_grad = grad.to(at::kDouble);
  if (options.reduction == LossReduction::Mean) sample_grad = sample_grad / static_cast<double>(layout.N);
  sample_grad = sample_grad.expand({layout.N}).contiguous();
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

}  // namespace

TORCH_LIBRARY_IMPL(skdcore, CUDA, m) {
  m.impl("graph_matching_loss", &graph_matching_loss_cuda);
  m.impl("_graph_matching_loss_forward", &graph_matching_forward_cuda);
  m.impl("_graph_matching_loss_backward", &graph_matching_backward_cuda);
}

}  // namespace skdcore
