// Autograd for skdcore::graph_conv: the backward is the registered private op
// _graph_conv_backward, so every device that implements it gets gradients. Only the gradients
// autograd asks for (needs_input_grad) are computed.
#include <torch/autograd.h>
#include <torch/library.h>

#include "../graph_conv.h"

namespace skdcore {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::Variable;
using torch::autograd::variable_list;

c10::optional<at::Tensor> as_optional(const at::Tensor& t) {
  return t.defined() ? c10::optional<at::Tensor>(t) : c10::nullopt;
}

// Empty placeholders of unrequested gradients become undefined (= None) for autograd.
Variable requested(const at::Tensor& grad, bool needed) { return needed ? grad : Variable(); }

class GraphConvFunction : public torch::autograd::Function<GraphConvFunction> {
 public:
  static variable_list forward(AutogradContext* ctx, const Variable& x, const Variable& weight,
                               const Variable& A, const c10::optional<at::Tensor>& bias,
                               const c10::optional<at::Tensor>& edge_importance) {
    ctx->saved_data["has_bias"] = bias.has_value();
    ctx->save_for_backward({x, weight, A, edge_importance.value_or(at::Tensor())});
    at::AutoDispatchBelowADInplaceOrView guard;
    return {graph_conv(x, weight, A, bias, edge_importance)};
  }

  static variable_list backward(AutogradContext* ctx, const variable_list& grads) {
    const auto saved = ctx->get_saved_variables();
    const Variable &x = saved[0], &weight = saved[1], &A = saved[2], &edge_importance = saved[3];
    // NB: needs_input_grad counts only the tensors that were passed (absent optionals have
    // no edge), while backward returns one slot per forward argument.
    const bool has_bias = ctx->saved_data["has_bias"].toBool();
    const size_t edge_importance_edge = has_bias ? 4 : 3;
    const std::array<bool, 5> mask = {
        ctx->needs_input_grad(0), ctx->needs_input_grad(1), ctx->needs_input_grad(2),
        has_bias && ctx->needs_input_grad(3),
        edge_importance.defined() && ctx->needs_input_grad(edge_importance_edge)};
    if (!grads[0].defined() || !(mask[0] || mask[1] || mask[2] || mask[3] || mask[4])) {
      return {Variable(), Variable(), Variable(), Variable(), Variable()};
    }
    auto [gx, gw, ga, gb, gm] =
        _graph_conv_backward(grads[0], x, weight, A, as_optional(edge_importance), mask);
    return {requested(gx, mask[0]), requested(gw, mask[1]), requested(ga, mask[2]),
            requested(gb, mask[3]), requested(gm, mask[4])};
  }
};

// Makes double backward fail loudly instead of silently returning wrong (zero) gradients.
class GraphConvBackwardFunction : public torch::autograd::Function<GraphConvBackwardFunction> {
 public:
  static variable_list forward(AutogradContext* /*ctx*/, const Variable& grad, const Variable& x,
                               const Variable& weight, const Variable& A,
                               const c10::optional<at::Tensor>& edge_importance,
                               std::array<bool, 5> output_mask) {
    at::AutoDispatchBelowADInplaceOrView guard;
    auto [gx, gw, ga, gb, gm] =
        _graph_conv_backward(grad, x, weight, A, edge_importance, output_mask);
    return {gx, gw, ga, gb, gm};
  }

  static variable_list backward(AutogradContext* /*ctx*/, const variable_list& /*grads*/) {
    TORCH_CHECK_NOT_IMPLEMENTED(false, "skdcore.graph_conv: double backward is not supported");
  }
};

at::Tensor graph_conv_autograd(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& A,
                               const c10::optional<at::Tensor>& bias,
                               const c10::optional<at::Tensor>& edge_importance) {
  return GraphConvFunction::apply(x, weight, A, bias, edge_importance)[0];
}

GraphConvGrads graph_conv_backward_autograd(const at::Tensor& grad, const at::Tensor& x,
                                            const at::Tensor& weight, const at::Tensor& A,
                                            const c10::optional<at::Tensor>& edge_importance,
                                            std::array<bool, 5> output_mask) {
  auto out = GraphConvBackwardFunction::apply(grad, x, weight, A, edge_importance, output_mask);
  return {out[0], out[1], out[2], out[3], out[4]};
}

}  // namespace

TORCH_LIBRARY_IMPL(skdcore, Autograd, m) {
  m.impl("graph_conv", &graph_conv_autograd);
  m.impl("_graph_conv_backward", &graph_conv_backward_autograd);
}

}  // namespace skdcore
