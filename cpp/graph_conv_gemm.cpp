// skdcore::graph_conv through matrix products: aggregate over the graph first, then mix channels.
//
//   xa[k] = x A_k              (N*C_in*T, V) x (V, V), all K partitions in one batched product
//   y[n]  = sum_k W_k xa[k, n] (C_out, C_in) x (C_in, T*V), batched over n, accumulated over k
//
// Aggregating first keeps the intermediate at C_in channels and the graph products at V columns.
// 16-bit inputs (CUDA; what graph_conv gets under autocast) are multiplied in their own type:
// cuBLAS sums each product in float32, and the sums over the K partitions (y, grad_x) run inside
// one product over K*C_in (K*V) terms, so each output is rounded to 16 bits once; the weight and
// adjacency gradients are summed in float32. float32/float64 inputs: products in their own type.
#include "graph_conv_gemm.h"

#include <torch/library.h>

#include <algorithm>

namespace skdcore {
namespace {

bool is_16bit(at::ScalarType type) { return type == at::kHalf || type == at::kBFloat16; }

// The products' operand type: 16-bit inputs keep theirs, the rest their accumulation type.
at::ScalarType product_type(const at::Tensor& x) {
  return is_16bit(x.scalar_type()) ? x.scalar_type() : accumulate_type(x);
}

// (K, N*C_in*T, V): x aggregated with each partition of the (accumulation-type) adjacency.
at::Tensor aggregate(const at::Tensor& x_acc, const at::Tensor& a_eff, const GraphConvShape& s) {
  return at::matmul(x_acc.reshape({s.x_rows(), s.V}), a_eff);
}

// a^T b for a (R, V) and b (R, M) whose R rows form `groups` equal groups (a chunk boundary never
// splits one), (V, M). As one product a^T b is a handful of (V, M) output tiles for the whole GPU (an H200 took 3.9 ms
// for graph_conv fwd+bwd with the adjacency gradient so, 0.6 ms without); split into up to 512
// row chunks, batched, then summed: many tiles, same maths.
at::Tensor row_chunked_product(const at::Tensor& a, const at::Tensor& b, int64_t groups) {
  int64_t chunks = std::max<int64_t>(1, std::min<int64_t>(groups, 512));
  while (groups > 0 && groups % chunks != 0) --chunks;
  const int64_t rows = a.size(0) / chunks;
  const at::Tensor a_t = a.view({chunks, rows, a.size(1)}).transpose(1, 2);  // (chunks, V, rows)
  // NB: the chunks' partial products are summed in float32 when they are 16-bit.
  const at::ScalarType sum_type = is_16bit(a.scalar_type()) ? at::kFloat : a.scalar_type();
  return at::bmm(a_t, b.reshape({chunks, rows, b.size(1)})).sum(0, /*keepdim=*/false, sum_type);
}

// dL/dA_eff[k] = x^T ga[k] (row_chunked_product), one (V, V) block per partition, in `acc`.
at::Tensor adjacency_grad(const at::Tensor& x_flat, const at::Tensor& ga, const GraphConvShape& s,
                          at::ScalarType acc) {
  at::Tensor grad_a = at::empty({s.K, s.V, s.V}, x_flat.options().dtype(acc));
  for (int64_t k = 0; k < s.K; ++k) grad_a[k].copy_(row_chunked_product(x_flat, ga[k], s.N * s.C_in));
  return grad_a;
}

at::Tensor graph_conv_gemm(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& A,
                           const c10::optional<at::Tensor>& bias,
                           const c10::optional<at::Tensor>& edge_importance) {
  const GraphConvShape s = graph_conv_shape(x, weight);
  const at::ScalarType acc = accumulate_type(x), type = product_type(x);
  const at::Tensor x_acc = x.to(type).contiguous();
  const at::Tensor w_acc = weight.to(type);
  const at::Tensor xa = aggregate(x_acc, effective_adjacency_acc(A, edge_importance, acc).to(type), s);
  if (type != acc) {  // 16-bit: y[n] = [W_0 .. W_K-1] (C_out, K*C_in) x [xa_0[n]; ..] (K*C_in, T*V)
    const at::Tensor xa_cat =
        xa.view({s.K, s.N, s.C_in, s.T * s.V}).permute({1, 0, 2, 3}).reshape({s.N, s.K * s.C_in, s.T * s.V});
    const at::Tensor w_cat = w_acc.permute({1, 0, 2}).reshape({s.C_out, s.K * s.C_in});
    const at::Tensor y = bias.has_value()
                             ? at::baddbmm(bias->to(type).view({1, s.C_out, 1}),
                                           w_cat.expand({s.N, s.C_out, s.K * s.C_in}), xa_cat)
                             : at::matmul(w_cat, xa_cat);
    return y.view({s.N, s.C_out, s.T, s.V});
  }
  at::Tensor y = bias.has_value()
                     ? bias->to(acc).view({1, s.C_out, 1}).expand({s.N, s.C_out, s.T * s.V}).contiguous()
                     : at::zeros({s.N, s.C_out, s.T * s.V}, x_acc.options());
  for (int64_t k = 0; k < s.K; ++k) {
    y.baddbmm_(w_acc[k].expand({s.N, s.C_out, s.C_in}), xa[k].view({s.N, s.C_in, s.T * s.V}));
  }
  return y.view({s.N, s.C_out, s.T, s.V}).to(x.scalar_type());
}

GraphConvGrads graph_conv_gemm_backward(const at::Tensor& grad, const at::Tensor& x,
                                        const at::Tensor& weight, const at::Tensor& A,
                                        const c10::optional<at::Tensor>& edge_importance,
                                        const GraphConvNeeds& needs) {
  const GraphConvShape s = graph_conv_shape(x, weight);
  const at::ScalarType acc = accumulate_type(x), type = product_type(x);
  const at::Tensor g = grad.to(type).contiguous().view({s.N, s.C_out, s.T * s.V});
  const at::Tensor x_flat = x.to(type).contiguous().view({s.x_rows(), s.V});
  const at::Tensor w_acc = weight.to(type);
  const at::Tensor a_eff = effective_adjacency_acc(A, edge_importance, acc).to(type);

  // ga[k] = dL/dxa[k] = W_k^T g, (K, N*C_in*T, V): shared by the x and adjacency gradients.
  at::Tensor ga;
  if (needs.x || needs.adjacency()) {
    ga = at::empty({s.K, s.x_rows(), s.V}, g.options());
    for (int64_t k = 0; k < s.K; ++k) {
      at::Tensor out = ga[k].view({s.N, s.C_in, s.T * s.V});
      at::bmm_out(out, w_acc[k].t().expand({s.N, s.C_in, s.C_out}), g);
    }
  }
  at::Tensor grad_x = not_computed(x), grad_w = not_computed(x), grad_a_eff;
  if (needs.x && type != acc) {  // 16-bit: grad_x = [ga_0 .. ga_K-1] (rows, K*V) x [A_0^T; ..] (K*V, V)
    const at::Tensor ga_cat = ga.permute({1, 0, 2}).reshape({s.x_rows(), s.K * s.V});
    grad_x = at::matmul(ga_cat, a_eff.transpose(1, 2).reshape({s.K * s.V, s.V})).view(x.sizes());
  } else if (needs.x) {
    at::Tensor gx = at::zeros({s.x_rows(), s.V}, g.options());
    for (int64_t k = 0; k < s.K; ++k) gx.addmm_(ga[k], a_eff[k].t());
    grad_x = gx.view(x.sizes()).to(x.scalar_type());
  }
  if (needs.weight) {
    const at::Tensor xa = aggregate(x_flat, a_eff, s);  // recomputed: the forward keeps nothing
    at::Tensor gw = at::empty({s.K, s.C_out, s.C_in}, g.options().dtype(acc));
    for (int64_t k = 0; k < s.K; ++k) {
      gw[k].copy_(at::matmul(g, xa[k].view({s.N, s.C_in, s.T * s.V}).transpose(1, 2)).sum(0, false, acc));
    }
    grad_w = gw.to(x.scalar_type());
  }
  grad_a_eff = needs.adjacency() ? adjacency_grad(x_flat, ga, s, acc) : at::zeros({s.K, s.V, s.V}, g.options().dtype(acc));
  return assemble_graph_conv_grads(grad, x, A, edge_importance, needs, grad_x, grad_w, grad_a_eff);
}

// The private ops: the op's checks, then the path on any device.
at::Tensor graph_conv_gemm_op(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& A,
                              const c10::optional<at::Tensor>& bias,
                              const c10::optional<at::Tensor>& edge_importance) {
  check_graph_conv_inputs("skdcore._graph_conv_gemm", x, weight, A, bias, edge_importance);
  return graph_conv_gemm(x, weight, A, bias, edge_importance);
}

GraphConvGrads graph_conv_gemm_backward_op(const at::Tensor& grad, const at::Tensor& x, const at::Tensor& weight,
                                           const at::Tensor& A, const c10::optional<at::Tensor>& edge_importance,
                                           std::array<bool, 5> output_mask) {
  const GraphConvNeeds needs = checked_graph_conv_backward("skdcore._graph_conv_gemm_backward", grad, x, weight, A,
                                                           edge_importance, output_mask);
  return graph_conv_gemm_backward(grad, x, weight, A, edge_importance, needs);
}

}  // namespace

const GraphConvProducts kGraphConvGemm{&graph_conv_gemm, &graph_conv_gemm_backward};

TORCH_LIBRARY_IMPL(skdcore, CompositeExplicitAutograd, m) {
  m.impl("_graph_conv_gemm", &graph_conv_gemm_op);
  m.impl("_graph_conv_gemm_backward", &graph_conv_gemm_backward_op);
}

}  // namespace skdcore
