// skdcore::temporal_shift: argument validation and dispatcher entry points.
#include "temporal_shift.h"

#include <ATen/core/dispatch/Dispatcher.h>

#include "checks.h"

namespace skdcore {

void check_temporal_shift_args(const char* op, const at::Tensor& x, const at::Tensor& shift,
                               int64_t stride) {
  checks::check_dim(op, "x", x, 4, checks::shape_string({"N", "C", "T", "V"}));
  checks::check_floating(op, "x", x);
  checks::check_dim(op, "shift", shift, 1, checks::shape_string({"C"}));
  checks::check_size(op, "shift", shift, 0, x.size(1), "C of x (one offset per channel)");
  checks::check_same_dtype(op, "shift", shift, "x", x);
  checks::check_same_device(op, "shift", shift, "x", x);
  TORCH_CHECK_VALUE(stride >= 1, op, ": stride must be a positive integer, got ", stride);
}

void check_temporal_shift_backward_args(const char* op, const at::Tensor& grad, const at::Tensor& x,
                                        const at::Tensor& shift, int64_t stride) {
  check_temporal_shift_args(op, x, shift, stride);
  const int64_t N = x.size(0), C = x.size(1), T = x.size(2), V = x.size(3);
  TORCH_CHECK_VALUE(grad.dim() == 4 && grad.size(0) == N && grad.size(1) == C &&
                        grad.size(2) == T / stride && grad.size(3) == V,
                    op, ": grad must have the output shape (N, C, T // stride, V) = (", N, ", ", C,
                    ", ", T / stride, ", ", V, "), got ", grad.sizes());
  checks::check_same_dtype(op, "grad", grad, "x", x);
  checks::check_same_device(op, "grad", grad, "x", x);
}

at::Tensor temporal_shift(const at::Tensor& x, const at::Tensor& shift, int64_t stride) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("skdcore::temporal_shift", "")
                       .typed<decltype(temporal_shift)>();
  return op.call(x, shift, stride);
}

std::tuple<at::Tensor, at::Tensor> _temporal_shift_backward(const at::Tensor& grad,
                                                            const at::Tensor& x,
                                                            const at::Tensor& shift,
                                                            int64_t stride) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("skdcore::_temporal_shift_backward", "")
                       .typed<decltype(_temporal_shift_backward)>();
  return op.call(grad, x, shift, stride);
}

}  // namespace skdcore
