// Autograd for skdcore::graph_matching_loss. The forward runs the private op
// _graph_matching_loss_forward (loss + per-sample statistics) and the backward is the registered
// private op _graph_matching_loss_backward, so every device that implements them gets gradients.
// NB: the teacher is a constant (SKD's teacher is frozen): it never receives a gradient, even when
// it requires grad (its gradient is None). Detach it yourself to make that explicit.
#include <torch/autograd.h>
#include <torch/library.h>

#include "../graph_matching.h"

namespace skdcore {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::Variable;
using torch::autograd::variable_list;

// Option strings travel through ctx->saved_data under these names.
constexpr const char* kOptionNames[] = {"distance", "loss", "normalize", "reduction"};

class GraphMatchingLossFunction : public torch::autograd::Function<GraphMatchingLossFunction> {
 public:
  static variable_list forward(AutogradContext* ctx, const Variable& student, const Variable& teacher,
                               c10::string_view distance, c10::string_view loss, double beta,
                               c10::string_view normalize, c10::string_view reduction) {
    at::AutoDispatchBelowADInplaceOrView guard;
    auto [out, stats] =
        _graph_matching_loss_forward(student, teacher, distance, loss, beta, normalize, reduction);
    ctx->save_for_backward({student, teacher, stats});
    const c10::string_view options[] = {distance, loss, normalize, reduction};
    for (int k = 0; k < 4; ++k) ctx->saved_data[kOptionNames[k]] = std::string(options[k]);
    ctx->saved_data["beta"] = beta;
    return {out};
  }

  static variable_list backward(AutogradContext* ctx, const variable_list& grads) {
    const auto saved = ctx->get_saved_variables();
    Variable grad_student;
    if (ctx->needs_input_grad(0)) {
      grad_student = _graph_matching_loss_backward(
          grads[0], saved[0], saved[1], saved[2], ctx->saved_data["distance"].toStringRef(),
          ctx->saved_data["loss"].toStringRef(), ctx->saved_data["beta"].toDouble(),
          ctx->saved_data["normalize"].toStringRef(), ctx->saved_data["reduction"].toStringRef());
    }
    // student, teacher (constant: no gradient), distance, loss, beta, normalize, reduction
    return {grad_student, Variable(), Variable(), Variable(), Variable(), Variable(), Variable()};
  }
};

// Makes double backward fail loudly instead of silently returning wrong (zero) gradients.
class GraphMatchingLossBackwardFunction
    : public torch::autograd::Function<GraphMatchingLossBackwardFunction> {
 public:
  static variable_list forward(AutogradContext* /*ctx*/, const Variable& grad, const Variable& student,
                               const Variable& teacher, const Variable& stats, c10::string_view distance,
                               c10::string_view loss, double beta, c10::string_view normalize,
                               c10::string_view reduction) {
    at::AutoDispatchBelowADInplaceOrView guard;
    return {_graph_matching_loss_backward(grad, student, teacher, stats, distance, loss, beta, normalize,
                                          reduction)};
  }

  static variable_list backward(AutogradContext* /*ctx*/, const variable_list& /*grads*/) {
    TORCH_CHECK_NOT_IMPLEMENTED(false, "skdcore.graph_matching_loss: double backward is not supported");
  }
};

at::Tensor graph_matching_loss_autograd(const at::Tensor& student, const at::Tensor& teacher,
                                        c10::string_view distance, c10::string_view loss, double beta,
                                        c10::string_view normalize, c10::string_view reduction) {
  return GraphMatchingLossFunction::apply(student, teacher, distance, loss, beta, normalize, reduction)[0];
}

std::tuple<at::Tensor, at::Tensor> graph_matching_forward_autograd(
    const at::Tensor& student, const at::Tensor& teacher, c10::string_view distance, c10::string_view loss,
    double beta, c10::string_view normalize, c10::string_view reduction) {
  // The private forward is only called by the Function above; called directly its outputs carry
  // no gradient (use graph_matching_loss).
  at::AutoDispatchBelowADInplaceOrView guard;
  return _graph_matching_loss_forward(student, teacher, distance, loss, beta, normalize, reduction);
}

at::Tensor graph_matching_backward_autograd(const at::Tensor& grad, const at::Tensor& student,
                                            const at::Tensor& teacher, const at::Tensor& stats,
                                            c10::string_view distance, c10::string_view loss, double beta,
                                            c10::string_view normalize, c10::string_view reduction) {
  return GraphMatchingLossBackwardFunction::apply(grad, student, teacher, stats, distance, loss, beta, normalize,
                                                  reduction)[0];
}

}  // namespace

TORCH_LIBRARY_IMPL(skdcore, Autograd, m) {
  m.impl("graph_matching_loss", &graph_matching_loss_autograd);
  m.impl("_graph_matching_loss_forward", &graph_matching_forward_autograd);
  m.impl("_graph_matching_loss_backward", &graph_matching_backward_autograd);
}

}  // namespace skdcore
