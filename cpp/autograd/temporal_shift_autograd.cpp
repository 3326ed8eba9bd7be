// Autograd for skdcore::temporal_shift: the backward is the registered private op
// _temporal_shift_backward (grads for x and shift), so every device that implements it gets gradients.
#include <torch/autograd.h>
#include <torch/library.h>

#include "../temporal_shift.h"

namespace skdcore {
namespace {

class TemporalShiftFunction : public torch::autograd::Function<TemporalShiftFunction> {
 public:
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext* ctx,
                                                const torch::autograd::Variable& x,
                                                const torch::autograd::Variable& shift,
                                                int64_t stride) {
    ctx->saved_data["stride"] = stride;
    ctx->save_for_backward({x, shift});
    at::AutoDispatchBelowADInplaceOrView guard;
    return {temporal_shift(x, shift, stride)};
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 const torch::autograd::variable_list& grads) {
    const auto saved = ctx->get_saved_variables();
    const int64_t stride = ctx->saved_data["stride"].toInt();
    auto [grad_x, grad_shift] = _temporal_shift_backward(grads[0], saved[0], saved[1], stride);
    if (!ctx->needs_input_grad(0)) grad_x = torch::autograd::Variable();
    if (!ctx->needs_input_grad(1)) grad_shift = torch::autograd::Variable();
    return {grad_x, grad_shift, torch::autograd::Variable()};
  }
};

// Makes double backward fail loudly instead of silently returning wrong (zero) gradients.
class TemporalShiftBackwardFunction
    : public torch::autograd::Function<TemporalShiftBackwardFunction> {
 public:
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext* /*ctx*/,
                                                const torch::autograd::Variable& grad,
                                                const torch::autograd::Variable& x,
                                                const torch::autograd::Variable& shift,
                                                int64_t stride) {
    at::AutoDispatchBelowADInplaceOrView guard;
    auto [grad_x, grad_shift] = _temporal_shift_backward(grad, x, shift, stride);
    return {grad_x, grad_shift};
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* /*ctx*/,
                                                 const torch::autograd::variable_list& /*grads*/) {
    TORCH_CHECK_NOT_IMPLEMENTED(false, "skdcore.temporal_shift: double backward is not supported");
  }
};

at::Tensor temporal_shift_autograd(const at::Tensor& x, const at::Tensor& shift, int64_t stride) {
  return TemporalShiftFunction::apply(x, shift, stride)[0];
}

std::tuple<at::Tensor, at::Tensor> temporal_shift_backward_autograd(const at::Tensor& grad,
                                                                    const at::Tensor& x,
                                                                    const at::Tensor& shift,
                                                                    int64_t stride) {
  auto outputs = TemporalShiftBackwardFunction::apply(grad, x, shift, stride);
  return {outputs[0], outputs[1]};
}

}  // namespace

TORCH_LIBRARY_IMPL(skdcore, Autograd, m) {
  m.impl("temporal_shift", &temporal_shift_autograd);
  m.impl("_temporal_shift_backward", &temporal_shift_backward_autograd);
}

}  // namespace skdcore
