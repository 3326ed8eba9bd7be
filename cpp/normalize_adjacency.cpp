// skdcore::normalize_adjacency: argument parsing/validation and dispatcher entry points.
#include "normalize_adjacency.h"

#include <ATen/core/dispatch/Dispatcher.h>

#include "checks.h"

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
