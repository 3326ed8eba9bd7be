// skdcore::graph_conv as a graph product + a (1, K)-strided conv2d (see graph_conv_conv2d.h).
#include "graph_conv_conv2d.h"

#include <torch/library.h>

#include "graph_conv_gemm.h"

namespace skdcore {
namespace {

// The partitions side by side: a_cat[v, w*K + k] = A_eff[k, v, w], (V, V*K).
at::Tensor concatenated_adjacency(const at::Tensor& a_eff) {
  return a_eff.permute({1, 2, 0}).reshape({a_eff.size(1), a_eff.size(2) * a_eff.size(0)});
}

// The conv2d weight: w4[o, c, 0, k] = W_k[o, c], (C_out, C_in, 1, K).
at::Tensor conv_weight(const at::Tensor& w_acc) { return w_acc.permute({1, 2, 0}).unsqueeze(2); }

// xa (N, C_in, T, V*K): x aggregated with every partition in one product.
at::Tensor aggregate_all(const at::Tensor& x_acc, const at::Tensor& a_cat) {
  const int64_t N = x_acc.size(0), C = x_acc.size(1), T = x_acc.size(2), V = x_acc.size(3);
  return at::matmul(x_acc.reshape({N * C * T, V}), a_cat).view({N, C, T, a_cat.size(1)});
}

}  // namespace

at::Tensor graph_conv_conv2d(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& A,
                             const c10::optional<at::Tensor>& bias,
                             const c10::optional<at::Tensor>& edge_importance) {
  check_graph_conv_inputs("skdcore.graph_conv", x, weight, A, bias, edge_importance);
  const at::ScalarType acc = accumulate_type(x);
  const int64_t K = weight.size(0);
  if (x.size(1) == 0 || K == 0) {  // empty sums (conv2d has no 0-channel convolution): only the bias remains
    at::Tensor y = at::zeros({x.size(0), weight.size(1), x.size(2), x.size(3)}, x.options());
    return bias.has_value() ? y.add_(bias->view({1, -1, 1, 1})) : y;
  }
  const at::Tensor a_cat = concatenated_adjacency(effective_adjacency_acc(A, edge_importance, acc));
  const at::Tensor xa = aggregate_all(x.to(acc).contiguous(), a_cat);
  const c10::optional<at::Tensor> bias_acc =
      bias.has_value() ? c10::optional<at::Tensor>(bias->to(acc)) : c10::nullopt;
  return at::conv2d(xa, conv_weight(weight.to(acc)), bias_acc, /*stride=*/{1, K}).to(x.scalar_type());
}

GraphConvGrads graph_conv_conv2d_backward(const at::Tensor& grad, const at::Tensor& x,
                                          const at::Tensor& weight, const at::Tensor& A,
                                          const c10::optional<at::Tensor>& edge_importance,
                                          std::array<bool, 5> output_mask) {
  const GraphConvNeeds needs = checked_graph_conv_backward(grad, x, weight, A, edge_importance, output_mask);
  const int64_t N = x.size(0), C_in = x.size(1), T = x.size(2), V = x.size(3), K = weight.size(0);
  const at::ScalarType acc = accumulate_type(x);
  const at::Tensor g = grad.to(acc).contiguous();
  const at::Tensor x_acc = x.to(acc).contiguous();
  const at::Tensor w4 = conv_weight(weight.to(acc));
  const at::Tensor a_eff = effective_adjacency_acc(A, edge_importance, acc);
  const at::Tensor a_cat = concatenated_adjacency(a_eff);
  // Empty sums (C_in = 0 or K = 0) leave zero gradients; conv2d has no 0-channel convolution.
  const bool nonempty = C_in > 0 && K > 0;
  const bool needs_xa_grad = nonempty && (needs.x || needs.adjacency());
  const bool needs_w4_grad = nonempty && needs.weight;
  // The conv's own backward: dL/dxa and dL/dW' (xa recomputed: the forward keeps nothing).
  at::Tensor grad_xa, grad_w4;
  if (needs_xa_grad || needs_w4_grad) {
    const at::Tensor xa = needs_w4_grad ? aggregate_all(x_acc, a_cat)
                                        : at::empty({N, C_in, T, V * K}, g.options());  // shape only
    std::tie(grad_xa, grad_w4, std::ignore) = at::convolution_backward(
        g, xa, w4, /*bias_sizes=*/c10::nullopt, /*stride=*/{1, K}, /*padding=*/{0, 0}, /*dilation=*/{1, 1},
        /*transposed=*/false, /*output_padding=*/{0, 0}, /*groups=*/1, {needs_xa_grad, needs_w4_grad, false});
  }
  at::Tensor grad_x = not_computed(x), grad_w = not_computed(x);
  const at::Tensor grad_xa_flat = needs_xa_grad ? grad_xa.reshape({N * C_in * T, V * K}) : at::Tensor();
  if (needs.x) {
    grad_x = needs_xa_grad ? at::matmul(grad_xa_flat, a_cat.t()).view(x.sizes()).to(x.scalar_type())
                           : at::zeros_like(x, at::MemoryFormat::Contiguous);
  }
  if (needs.weight) {
    grad_w = needs_w4_grad ? grad_w4.squeeze(2).permute({2, 0, 1}).contiguous().to(x.scalar_type())
                           : at::zeros_like(weight, at::MemoryFormat::Contiguous);
  }
  at::Tensor grad_a_eff = at::zeros({K, V, V}, g.options());
  if (needs_xa_grad && needs.adjacency()) {
    // dL/da_cat = x^T dL/dxa over N*C_in*T rows, (V, V*K) -> (K, V, V)
    const at::Tensor grad_cat = row_chunked_product(x_acc.view({N * C_in * T, V}), grad_xa_flat, N * C_in);
    grad_a_eff = grad_cat.view({V, V, K}).permute({2, 0, 1}).contiguous();
  }
  return assemble_graph_conv_grads(grad, x, A, edge_importance, needs, grad_x, grad_w, grad_a_eff);
}

TORCH_LIBRARY_IMPL(skdcore, CompositeExplicitAutograd, m) {
  m.impl("_graph_conv_conv2d", &graph_conv_conv2d);
  m.impl("_graph_conv_conv2d_backward", &graph_conv_conv2d_backward);
}

}  // namespace skdcore
