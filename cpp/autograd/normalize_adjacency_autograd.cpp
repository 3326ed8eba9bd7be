// Autograd for skdcore::normalize_adjacency: the backward is the registered private op
// _normalize_adjacency_backward, so every device that implements it gets gradients.
#include <torch/autograd.h>
#include <torch/library.h>

#include "../normalize_adjacency.h"

namespace skdcore {
namespace {

class NormalizeAdjacencyFunction
    : public torch::autograd::Function<NormalizeAdjacencyFunction> {
 public:
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext* ctx,
                                                const torch::autograd::Variable& A,
                                                c10::string_view mode) {
    ctx->saved_data["mode"] = std::string(mode);
    ctx->save_for_backward({A});
    at::AutoDispatchBelowADInplaceOrView guard;
    return {normalize_adjacency(A, mode)};
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 const torch::autograd::variable_list& grads) {
    const auto A = ctx->get_saved_variables()[0];
    const std::string mode = ctx->saved_data["mode"].toStringRef();
    return {_normalize_adjacency_backward(grads[0], A, mode), torch::autograd::Variable()};
  }
};

// Makes double backward fail loudly instead of silently returning wrong (zero) gradients.
class NormalizeAdjacencyBackwardFunction
    : public torch::autograd::Function<NormalizeAdjacencyBackwardFunction> {
 public:
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext* /*ctx*/,
                                                const torch::autograd::Variable& grad,
                                                const torch::autograd::Variable& A,
                                                c10::string_view mode) {
    at::AutoDispatchBelowADInplaceOrView guard;
    return {_normalize_adjacency_backward(grad, A, mode)};
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* /*ctx*/,
                                                 const torch::autograd::variable_list& /*grads*/) {
    TORCH_CHECK_NOT_IMPLEMENTED(false,
                                "skdcore.normalize_adjacency: double backward is not supported");
  }
};

at::Tensor normalize_adjacency_autograd(const at::Tensor& A, c10::string_view mode) {
  return NormalizeAdjacencyFunction::apply(A, mode)[0];
}

at::Tensor normalize_adjacency_backward_autograd(const at::Tensor& grad, const at::Tensor& A,
                                                 c10::string_view mode) {
  return NormalizeAdjacencyBackwardFunction::apply(grad, A, mode)[0];
}

}  // namespace

TORCH_LIBRARY_IMPL(skdcore, Autograd, m) {
  m.impl("normalize_adjacency", &normalize_adjacency_autograd);
  m.impl("_normalize_adjacency_backward", &normalize_adjacency_backward_autograd);
}

}  // namespace skdcore
