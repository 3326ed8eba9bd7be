// skdcore::graph_matching_loss: option parsing, input validation, layout helpers and dispatcher
// entry points.
#include "graph_matching.h"

#include <c10/core/DeviceGuard.h>

#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/library.h>

#include <algorithm>
#include <cmath>
#include <tuple>

#include "common/checks.h"
#include "graph_matching_gemm.h"

namespace skdcore {
namespace {
constexpr const char* kOp = "skdcore.graph_matching_loss";
}  // namespace

GraphMatchingOptions parse_graph_matching_options(c10::string_view distance, c10::string_view loss,
                                                  double beta, c10::string_view normalize,
                                                  c10::string_view reduction) {
  GraphMatchingOptions options{};
  if (distance == "euclidean") {
    options.distance = GraphDistance::Euclidean;
  } else if (distance == "squared_euclidean") {
    options.distance = GraphDistance::SquaredEuclidean;
  } else {
    TORCH_CHECK_VALUE(false, kOp, ": distance must be 'euclidean' or 'squared_euclidean', got '",
                      std::string(distance), "'");
  }
  if (loss == "smooth_l1") {
    options.loss = PointwiseLoss::SmoothL1;
  } else if (loss == "l2") {
    options.loss = PointwiseLoss::L2;
  } else {
    TORCH_CHECK_VALUE(false, kOp, ": loss must be 'smooth_l1' or 'l2', got '", std::string(loss), "'");
  }
  TORCH_CHECK_VALUE(std::isfinite(beta) && beta >= 0.0, kOp,
                    ": beta must be a finite number >= 0 (0 makes smooth_l1 an L1 loss), got ", beta);
  options.beta = beta;
  if (normalize == "mean_positive") {
    options.normalize = GraphNormalize::MeanPositive;
  } else if (normalize == "none") {
    options.normalize = GraphNormalize::None;
  } else {
    TORCH_CHECK_VALUE(false, kOp, ": normalize must be 'mean_positive' or 'none', got '",
                      std::string(normalize), "'");
  }
  if (reduction == "mean") {
    options.reduction = LossReduction::Mean;
  } else if (reduction == "sum") {
    options.reduction = LossReduction::Sum;
  } else if (reduction == "none") {
    options.reduction = LossReduction::None;
  } else {
    TORCH_CHECK_VALUE(false, kOp, ": reduction must be 'mean', 'sum' or 'none', got '",
                      std::string(reduction), "'");
  }
  return options;
}

void check_graph_matching_inputs(const char* op, const at::Tensor& student, const at::Tensor& teacher) {
  TORCH_CHECK_VALUE(student.dim() == 3 || student.dim() == 4, op,
                    ": student must have shape (N, C, T, V) (feature map) or (N, P, C) (node set), got shape ",
                    student.sizes());
  checks::check_dim(op, "teacher", teacher, student.dim(),
                    student.dim() == 4 ? "(N, C, T, V) like student" : "(N, P, C) like student");
  const int64_t channel_dim = student.dim() == 4 ? 1 : 2;
  if (student.sizes() != teacher.sizes()) {
    bool only_channels_differ = student.size(channel_dim) != teacher.size(channel_dim);
    for (int64_t d = 0; d < student.dim(); ++d) {
      if (d != channel_dim && student.size(d) != teacher.size(d)) only_channels_differ = false;
    }
    TORCH_CHECK_VALUE(!only_channels_differ, op, ": student has C=", student.size(channel_dim),
                      " channels but teacher has C=", teacher.size(channel_dim),
                      ". SKD matches them with an 'adaption' layer on the student features (a 1x1 conv, "
                      "e.g. nn.Conv2d(", student.size(channel_dim), ", ", teacher.size(channel_dim),
                      ", 1)) before the distillation losses; apply it first");
    TORCH_CHECK_VALUE(false, op, ": student and teacher must describe the same graphs (same N and nodes), "
                      "got student shape ", student.sizes(), " and teacher shape ", teacher.sizes());
  }
  TORCH_CHECK_TYPE(student.scalar_type() == at::kFloat || student.scalar_type() == at::kDouble, op,
                   ": student must be float32 or float64, got ", student.scalar_type(),
                   "; convert it with .float()");
  checks::check_same_dtype(op, "teacher", teacher, "student", student);
  checks::check_same_device(op, "teacher", teacher, "student", student);
}

void check_graph_matching_backward_inputs(const char* op, const at::Tensor& grad,
                                          const at::Tensor& student, const at::Tensor& stats,
                                          LossReduction reduction) {
  const int64_t N = student.size(0);
  if (reduction == LossReduction::None) {
    TORCH_CHECK_VALUE(grad.dim() == 1 && grad.size(0) == N, op,
                      ": grad must have shape (N,) = (", N, ",) for reduction='none', got ", grad.sizes());
  } else {
    TORCH_CHECK_VALUE(grad.dim() == 0, op, ": grad must be a scalar for reduction='mean'/'sum', got shape ",
                      grad.sizes());
  }
  checks::check_same_dtype(op, "grad", grad, "student", student);
  checks::check_same_device(op, "grad", grad, "student", student);
  checks::check_dim(op, "stats", stats, 2, "(N, 4)");
  checks::check_size(op, "stats", stats, 0, N, "N");
  checks::check_size(op, "stats", stats, 1, kStatsColumns, "the number of saved statistics");
  TORCH_CHECK_TYPE(stats.scalar_type() == at::kDouble, op,
                   ": stats must be the float64 tensor returned by _graph_matching_loss_forward, got ",
                   stats.scalar_type());
  checks::check_same_device(op, "stats", stats, "student", student);
}

GraphMatchingOptions checked_forward_options(const char* op, c10::DeviceType device, const at::Tensor& student,
                                             const at::Tensor& teacher, c10::string_view distance,
                                             c10::string_view loss, double beta, c10::string_view normalize,
                                             c10::string_view reduction) {
  check_graph_matching_inputs(op, student, teacher);
  checks::check_device(op, "student", student, device);
  return parse_graph_matching_options(distance, loss, beta, normalize, reduction);
}

GraphMatchingOptions checked_backward_options(const char* op, c10::DeviceType device, const at::Tensor& grad,
                                              const at::Tensor& student, const at::Tensor& teacher,
                                              const at::Tensor& stats, c10::string_view distance,
                                              c10::string_view loss, double beta, c10::string_view normalize,
                                              c10::string_view reduction) {
  const GraphMatchingOptions options =
      checked_forward_options(op, device, student, teacher, distance, loss, beta, normalize, reduction);
  check_graph_matching_backward_inputs(op, grad, student, stats, options.reduction);
  return options;
}

GraphShape graph_shape(const at::Tensor& features) {
  if (features.dim() == 4) {
    return {features.size(0), features.size(2) * features.size(3), features.size(1), true};
  }
  return {features.size(0), features.size(1), features.size(2), false};
}

at::Tensor reduce_graph_matching_loss(const at::Tensor& per_sample, LossReduction reduction, at::ScalarType dtype) {
  if (reduction == LossReduction::None) return per_sample.to(dtype);
  at::Tensor total = per_sample.sum();
  if (reduction == LossReduction::Mean) total = total / static_cast<double>(std::max<int64_t>(per_sample.size(0), 1));
  return total.to(dtype);
}

at::Tensor graph_matching_sample_grad(const at::Tensor& grad, int64_t N, LossReduction reduction) {
  at::Tensor sample_grad = grad.to(at::kDouble);
  if (reduction == LossReduction::Mean) sample_grad = sample_grad / static_cast<double>(N);
  return sample_grad.expand({N}).contiguous();
}

at::Tensor graph_matching_loss(const at::Tensor& student, const at::Tensor& teacher,
                               c10::string_view distance, c10::string_view loss, double beta,
                               c10::string_view normalize, c10::string_view reduction) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("skdcore::graph_matching_loss", "")
                       .typed<decltype(graph_matching_loss)>();
  return op.call(student, teacher, distance, loss, beta, normalize, reduction);
}

std::tuple<at::Tensor, at::Tensor> _graph_matching_loss_forward(
    const at::Tensor& student, const at::Tensor& teacher, c10::string_view distance,
    c10::string_view loss, double beta, c10::string_view normalize, c10::string_view reduction) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("skdcore::_graph_matching_loss_forward", "")
                       .typed<decltype(_graph_matching_loss_forward)>();
  return op.call(student, teacher, distance, loss, beta, normalize, reduction);
}

at::Tensor _graph_matching_loss_backward(const at::Tensor& grad, const at::Tensor& student,
                                         const at::Tensor& teacher, const at::Tensor& stats,
                                         c10::string_view distance, c10::string_view loss,
                                         double beta, c10::string_view normalize,
                                         c10::string_view reduction) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("skdcore::_graph_matching_loss_backward", "")
                       .typed<decltype(_graph_matching_loss_backward)>();
  return op.call(grad, student, teacher, stats, distance, loss, beta, normalize, reduction);
}

std::tuple<at::Tensor, at::Tensor> graph_matching_forward_on(
    const GraphMatchingKernels& kernels, const at::Tensor& student, const at::Tensor& teacher,
    c10::string_view distance, c10::string_view loss, double beta, c10::string_view normalize,
    c10::string_view reduction) {
  const GraphMatchingOptions options = checked_forward_options(kOp, kernels.device, student, teacher, distance,
                                                               loss, beta, normalize, reduction);
  const c10::DeviceGuard device_guard(student.device());
  if (const GraphMatchingChunkSteps* steps = kernels.gemm_steps ? kernels.gemm_steps() : nullptr) {
    return graph_matching_gemm_forward(student, teacher, options, *steps, kGraphMatchingGemmWorkspaceBytes);
  }
  const at::Tensor s = student.contiguous();
  const at::Tensor t = teacher.detach().contiguous();
  const GraphShape shape = graph_shape(s);
  at::Tensor stats = at::zeros({shape.N, kStatsColumns}, s.options().dtype(at::kDouble));
  at::Tensor per_sample = at::zeros({shape.N}, s.options().dtype(at::kDouble));
  if (shape.N > 0 && shape.P > 0) kernels.forward(s, t, options, per_sample, stats);
  return {reduce_graph_matching_loss(per_sample, options.reduction, s.scalar_type()), stats};
}

at::Tensor graph_matching_backward_on(const GraphMatchingKernels& kernels, const at::Tensor& grad,
                                      const at::Tensor& student, const at::Tensor& teacher, const at::Tensor& stats,
                                      c10::string_view distance, c10::string_view loss, double beta,
                                      c10::string_view normalize, c10::string_view reduction) {
  constexpr const char* op = "skdcore._graph_matching_loss_backward";
  const GraphMatchingOptions options = checked_backward_options(op, kernels.device, grad, student, teacher, stats,
                                                                distance, loss, beta, normalize, reduction);
  const c10::DeviceGuard device_guard(student.device());
  if (const GraphMatchingChunkSteps* steps = kernels.gemm_steps ? kernels.gemm_steps() : nullptr) {
    return graph_matching_gemm_backward(grad, student, teacher, stats, options, *steps,
                                        kGraphMatchingGemmWorkspaceBytes);
  }
  const at::Tensor s = student.contiguous();
  const at::Tensor t = teacher.detach().contiguous();
  const GraphShape shape = graph_shape(s);
  at::Tensor grad_student = at::zeros_like(s, at::MemoryFormat::Contiguous);
  if (shape.N == 0 || shape.P == 0 || shape.C == 0) return grad_student;
  const at::Tensor sample_grad = graph_matching_sample_grad(grad, shape.N, options.reduction);
  kernels.backward(sample_grad, s, t, stats.contiguous(), options, grad_student);
  return grad_student;
}

namespace {

// The loss without its stats: the private forward, through the dispatcher (each device registers
// only _graph_matching_loss_forward / _backward; autograd has its own kernel for this op).
at::Tensor graph_matching_loss_composite(const at::Tensor& student, const at::Tensor& teacher,
                                         c10::string_view distance, c10::string_view loss, double beta,
                                         c10::string_view normalize, c10::string_view reduction) {
  return std::get<0>(_graph_matching_loss_forward(student, teacher, distance, loss, beta, normalize, reduction));
}

}  // namespace

TORCH_LIBRARY_IMPL(skdcore, CompositeExplicitAutograd, m) {
  m.impl("graph_matching_loss", &graph_matching_loss_composite);
}

}  // namespace skdcore
