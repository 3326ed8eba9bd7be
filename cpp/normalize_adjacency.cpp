// skdcore::normalize_adjacency: argument parsing/validation and dispatcher entry points.
#include "normalize_adjacency.h"

#include <ATen/core/dispatch/Dispatcher.h>
#include <c10/core/DeviceGuard.h>

#include "common/checks.h"

namespace skdcore {

AdjacencyNorm parse_adjacency_norm(c10::string_view mode) {
  if (mode == "in_degree") return AdjacencyNorm::InDegree;
  if (mode == "symmetric") return AdjacencyNorm::Symmetric;
  TORCH_CHECK_VALUE(false, "skdcore.normalize_adjacency: mode must be 'in_degree' or 'symmetric', got '",
                    std::string(mode), "'");
}

void check_adjacency(const char* op, const char* arg, const at::Tensor& A) {
  checks::check_dim(op, arg, A, 3, "(K, V, V)");
  TORCH_CHECK_VALUE(A.size(1) == A.size(2), op, ": ", arg,
                    " must be square in its last two dims, shape (K, V, V), got shape ", A.sizes());
  checks::check_floating(op, arg, A);
}

void check_adjacency_backward(const char* op, const at::Tensor& grad, const at::Tensor& A) {
  check_adjacency(op, "A", A);
  TORCH_CHECK_VALUE(grad.sizes() == A.sizes(), op, ": grad must have the shape of A ", A.sizes(),
                    ", got ", grad.sizes());
  checks::check_same_dtype(op, "grad", grad, "A", A);
  checks::check_same_device(op, "grad", grad, "A", A);
}

namespace {

void check_kernel_inputs(const char* op, const NormalizeAdjacencyKernels& kernels, const at::Tensor& A) {
  checks::check_device(op, "A", A, kernels.device);
  TORCH_CHECK_TYPE(A.scalar_type() == at::kFloat || A.scalar_type() == at::kDouble, op,
                   ": A must be float32 or float64, got ", A.scalar_type());
}

}  // namespace

at::Tensor normalize_adjacency_on(const NormalizeAdjacencyKernels& kernels, const at::Tensor& A,
                                  c10::string_view mode_name) {
  constexpr const char* op = "skdcore.normalize_adjacency";
  check_adjacency(op, "A", A);
  check_kernel_inputs(op, kernels, A);
  const AdjacencyNorm mode = parse_adjacency_norm(mode_name);
  const c10::DeviceGuard device_guard(A.device());
  const at::Tensor A_c = A.contiguous();
  at::Tensor out = at::empty_like(A_c);
  if (A_c.numel() > 0) kernels.forward(A_c, out, mode);
  return out;
}

at::Tensor normalize_adjacency_backward_on(const NormalizeAdjacencyKernels& kernels, const at::Tensor& grad,
                                           const at::Tensor& A, c10::string_view mode_name) {
  constexpr const char* op = "skdcore._normalize_adjacency_backward";
  check_adjacency_backward(op, grad, A);
  check_kernel_inputs(op, kernels, A);
  const AdjacencyNorm mode = parse_adjacency_norm(mode_name);
  const c10::DeviceGuard device_guard(A.device());
  const at::Tensor A_c = A.contiguous();
  const at::Tensor grad_c = grad.contiguous();
  at::Tensor grad_A = at::empty_like(A_c);
  if (A_c.numel() > 0) kernels.backward(grad_c, A_c, grad_A, mode);
  return grad_A;
}

at::Tensor normalize_adjacency(const at::Tensor& A, c10::string_view mode) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("skdcore::normalize_adjacency", "")
                       .typed<decltype(normalize_adjacency)>();
  return op.call(A, mode);
}

at::Tensor _normalize_adjacency_backward(const at::Tensor& grad, const at::Tensor& A,
                                         c10::string_view mode) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("skdcore::_normalize_adjacency_backward", "")
                       .typed<decltype(_normalize_adjacency_backward)>();
  return op.call(grad, A, mode);
}

}  // namespace skdcore
