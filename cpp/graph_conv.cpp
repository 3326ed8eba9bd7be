// skdcore::graph_conv: validation, helpers shared by every device, dispatcher entry points.
#include "graph_conv.h"

#include <ATen/core/dispatch/Dispatcher.h>
#include <c10/core/DeviceGuard.h>

#include "common/checks.h"
#include "normalize_adjacency.h"

namespace skdcore {

void check_graph_conv_inputs(const char* op, const at::Tensor& x, const at::Tensor& weight,
                             const at::Tensor& A, const c10::optional<at::Tensor>& bias,
                             const c10::optional<at::Tensor>& edge_importance) {
  checks::check_dim(op, "x", x, 4, "(N, C_in, T, V)");
  checks::check_dim(op, "weight", weight, 3, "(K, C_out, C_in)");
  check_adjacency(op, "A", A);  // (K, V, V), floating
  checks::check_floating(op, "x", x);
  checks::check_size(op, "weight", weight, 2, x.size(1), "C_in of x (N, C_in, T, V)");
  checks::check_size(op, "A", A, 0, weight.size(0), "K of weight (K, C_out, C_in)");
  checks::check_size(op, "A", A, 1, x.size(3), "V of x (N, C_in, T, V)");
  checks::check_same_dtype(op, "weight", weight, "x", x);
  checks::check_same_dtype(op, "A", A, "x", x);
  checks::check_same_device(op, "weight", weight, "x", x);
  checks::check_same_device(op, "A", A, "x", x);
  if (bias.has_value()) {
    checks::check_dim(op, "bias", *bias, 1, "(C_out,)");
    checks::check_size(op, "bias", *bias, 0, weight.size(1), "C_out of weight (K, C_out, C_in)");
    checks::check_same_dtype(op, "bias", *bias, "x", x);
    checks::check_same_device(op, "bias", *bias, "x", x);
  }
  if (edge_importance.has_value()) {
    checks::check_same_shape(op, "edge_importance", *edge_importance, "A", A, "(K, V, V)");
    checks::check_same_dtype(op, "edge_importance", *edge_importance, "x", x);
    checks::check_same_device(op, "edge_importance", *edge_importance, "x", x);
  }
}

void check_graph_conv_backward_inputs(const char* op, const at::Tensor& grad, const at::Tensor& x,
                                      const at::Tensor& weight, const at::Tensor& A,
                                      const c10::optional<at::Tensor>& edge_importance) {
  check_graph_conv_inputs(op, x, weight, A, c10::nullopt, edge_importance);
  const int64_t N = x.size(0), C_out = weight.size(1), T = x.size(2), V = x.size(3);
  TORCH_CHECK_VALUE(grad.dim() == 4 && grad.size(0) == N && grad.size(1) == C_out &&
                        grad.size(2) == T && grad.size(3) == V,
                    op, ": grad must have the output's shape (N, C_out, T, V) = (", N, ", ", C_out,
                    ", ", T, ", ", V, "), got ", grad.sizes());
  checks::check_same_dtype(op, "grad", grad, "x", x);
  checks::check_same_device(op, "grad", grad, "x", x);
}

at::Tensor effective_adjacency(const at::Tensor& A,
                               const c10::optional<at::Tensor>& edge_importance) {
  return edge_importance.has_value() ? A * *edge_importance : A;
}

at::ScalarType accumulate_type(const at::Tensor& x) {
  return x.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
}

at::Tensor effective_adjacency_acc(const at::Tensor& A,
                                   const c10::optional<at::Tensor>& edge_importance,
                                   at::ScalarType acc) {
  const c10::optional<at::Tensor> mask =
      edge_importance.has_value() ? c10::optional<at::Tensor>(edge_importance->to(acc)) : c10::nullopt;
  return effective_adjacency(A.to(acc), mask).contiguous();
}

GraphConvNeeds graph_conv_needs(const char* op, std::array<bool, 5> output_mask,
                                const c10::optional<at::Tensor>& edge_importance) {
  TORCH_CHECK_VALUE(!output_mask[kGradEdgeImportance] || edge_importance.has_value(), op,
                    ": output_mask asks for the gradient of edge_importance, but none was given");
  return {output_mask[kGradX], output_mask[kGradWeight], output_mask[kGradA],
          output_mask[kGradBias], output_mask[kGradEdgeImportance]};
}

GraphConvNeeds checked_graph_conv_backward(const char* op, const at::Tensor& grad, const at::Tensor& x,
                                           const at::Tensor& weight, const at::Tensor& A,
                                           const c10::optional<at::Tensor>& edge_importance,
                                           std::array<bool, 5> output_mask) {
  check_graph_conv_backward_inputs(op, grad, x, weight, A, edge_importance);
  return graph_conv_needs(op, output_mask, edge_importance);
}

at::Tensor not_computed(const at::Tensor& like) { return at::empty({0}, like.options()); }

GraphConvGrads assemble_graph_conv_grads(const at::Tensor& grad, const at::Tensor& x, const at::Tensor& A,
                                         const c10::optional<at::Tensor>& edge_importance,
                                         const GraphConvNeeds& needs, at::Tensor grad_x, at::Tensor grad_w,
                                         const at::Tensor& grad_a_eff) {
  // A_eff = A * M  =>  dL/dA = dL/dA_eff * M,  dL/dM = dL/dA_eff * A.
  at::Tensor grad_A = not_computed(A), grad_M = not_computed(A);
  if (needs.A) {
    grad_A = (edge_importance.has_value() ? grad_a_eff * *edge_importance : grad_a_eff).to(A.scalar_type());
  }
  if (needs.edge_importance) grad_M = (grad_a_eff * A).to(A.scalar_type());
  at::Tensor grad_b = needs.bias ? grad.sum({0, 2, 3}) : not_computed(x);
  return {std::move(grad_x), std::move(grad_w), grad_A, grad_b, grad_M};
}

at::Tensor graph_conv_on(const GraphConvKernels& kernels, const at::Tensor& x, const at::Tensor& weight,
                         const at::Tensor& A, const c10::optional<at::Tensor>& bias,
                         const c10::optional<at::Tensor>& edge_importance) {
  constexpr const char* op = "skdcore.graph_conv";
  check_graph_conv_inputs(op, x, weight, A, bias, edge_importance);
  checks::check_device(op, "x", x, kernels.device);
  const c10::DeviceGuard device_guard(x.device());
  if (const GraphConvProducts* products = kernels.products ? kernels.products() : nullptr) {
    return products->forward(x, weight, A, bias, edge_importance);
  }
  const GraphConvShape shape = graph_conv_shape(x, weight);
  at::Tensor y = at::empty({shape.N, shape.C_out, shape.T, shape.V},
                           x.options().memory_format(at::MemoryFormat::Contiguous));
  if (y.numel() == 0) return y;
  if (shape.C_in == 0 || shape.K == 0) {  // empty sums: only the bias remains
    y.zero_();
    if (bias.has_value()) y.add_(bias->view({1, shape.C_out, 1, 1}));
    return y;
  }
  const at::Tensor a_eff = effective_adjacency_acc(A, edge_importance, accumulate_type(x));
  kernels.forward(x.contiguous(), weight.contiguous(), a_eff, bias.has_value() ? bias->contiguous() : at::Tensor(),
                  y);
  return y;
}

GraphConvGrads graph_conv_backward_on(const GraphConvKernels& kernels, const at::Tensor& grad, const at::Tensor& x,
                                      const at::Tensor& weight, const at::Tensor& A,
                                      const c10::optional<at::Tensor>& edge_importance,
                                      std::array<bool, 5> output_mask) {
  constexpr const char* op = "skdcore._graph_conv_backward";
  const GraphConvNeeds needs = checked_graph_conv_backward(op, grad, x, weight, A, edge_importance, output_mask);
  checks::check_device(op, "x", x, kernels.device);
  const c10::DeviceGuard device_guard(x.device());
  if (const GraphConvProducts* products = kernels.products ? kernels.products() : nullptr) {
    return products->backward(grad, x, weight, A, edge_importance, needs);
  }
  const GraphConvShape shape = graph_conv_shape(x, weight);
  const at::ScalarType acc = accumulate_type(x);
  at::Tensor grad_w = at::zeros({shape.K, shape.C_out, shape.C_in}, x.options().dtype(acc));
  at::Tensor grad_a_eff = at::zeros({shape.K, shape.V, shape.V}, x.options().dtype(acc));
  const bool empty = shape.N * shape.C_in * shape.C_out * shape.T * shape.V * shape.K == 0;
  if (empty || !(needs.x || needs.weight || needs.adjacency())) {  // empty sums: zero gradients
    at::Tensor grad_x = needs.x ? at::zeros_like(x, at::MemoryFormat::Contiguous) : not_computed(x);
    return assemble_graph_conv_grads(grad, x, A, edge_importance, needs, grad_x,
                                     needs.weight ? grad_w.to(x.scalar_type()) : not_computed(x), grad_a_eff);
  }
  at::Tensor grad_x = needs.x ? at::empty_like(x, at::MemoryFormat::Contiguous) : not_computed(x);
  kernels.backward(grad.contiguous(), x.contiguous(), weight.contiguous(),
                   effective_adjacency_acc(A, edge_importance, acc), needs, grad_x, grad_w, grad_a_eff);
  return assemble_graph_conv_grads(grad, x, A, edge_importance, needs, grad_x,
                                   needs.weight ? grad_w.to(x.scalar_type()) : not_computed(x), grad_a_eff);
}

at::Tensor graph_conv(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& A,
                      const c10::optional<at::Tensor>& bias,
                      const c10::optional<at::Tensor>& edge_importance) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("skdcore::graph_conv", "")
                       .typed<decltype(graph_conv)>();
  return op.call(x, weight, A, bias, edge_importance);
}

GraphConvGrads _graph_conv_backward(const at::Tensor& grad, const at::Tensor& x,
                                    const at::Tensor& weight, const at::Tensor& A,
                                    const c10::optional<at::Tensor>& edge_importance,
                                    std::array<bool, 5> output_mask) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("skdcore::_graph_conv_backward", "")
                       .typed<decltype(_graph_conv_backward)>();
  return op.call(grad, x, weight, A, edge_importance, output_mask);
}

}  // namespace skdcore
