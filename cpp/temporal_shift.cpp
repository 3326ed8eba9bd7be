// skdcore::temporal_shift: argument validation and dispatcher entry points.
#include "temporal_shift.h"

#include <ATen/core/dispatch/Dispatcher.h>
#include <c10/core/DeviceGuard.h>

#include "common/checks.h"

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

namespace {

void check_kernel_inputs(const char* op, const TemporalShiftKernels& kernels, const at::Tensor& x) {
  checks::check_device(op, "x", x, kernels.device);
  TORCH_CHECK_TYPE(x.scalar_type() == at::kFloat || x.scalar_type() == at::kDouble, op,
                   ": x must be float32 or float64, got ", x.scalar_type(), "; convert it with .float()");
}

}  // namespace

at::Tensor temporal_shift_on(const TemporalShiftKernels& kernels, const at::Tensor& x, const at::Tensor& shift,
                             int64_t stride) {
  constexpr const char* op = "skdcore.temporal_shift";
  check_temporal_shift_args(op, x, shift, stride);
  check_kernel_inputs(op, kernels, x);
  const c10::DeviceGuard device_guard(x.device());
  const at::Tensor x_c = x.contiguous();
  const at::Tensor shift_c = shift.contiguous();
  at::Tensor out = at::empty({x.size(0), x.size(1), x.size(2) / stride, x.size(3)}, x_c.options());
  if (out.numel() > 0) kernels.forward(x_c, shift_c, out, stride);
  return out;
}

std::tuple<at::Tensor, at::Tensor> temporal_shift_backward_on(const TemporalShiftKernels& kernels,
                                                              const at::Tensor& grad, const at::Tensor& x,
                                                              const at::Tensor& shift, int64_t stride) {
  constexpr const char* op = "skdcore._temporal_shift_backward";
  check_temporal_shift_backward_args(op, grad, x, shift, stride);
  check_kernel_inputs(op, kernels, x);
  const c10::DeviceGuard device_guard(x.device());
  const at::Tensor x_c = x.contiguous();
  const at::Tensor grad_c = grad.contiguous();
  const at::Tensor shift_c = shift.contiguous();
  at::Tensor grad_x = at::empty_like(x_c);  // NB: every element is written by the kernel
  at::Tensor grad_shift = at::zeros_like(shift_c);
  if (x_c.numel() > 0) kernels.backward(grad_c, x_c, shift_c, grad_x, grad_shift, stride);
  return {grad_x, grad_shift};
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
