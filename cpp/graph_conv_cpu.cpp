// CPU kernels of skdcore::graph_conv and its backward.
//
// Per sample n the op is two contractions: a channel one (weight, a GEMM with M/N/K in the
// hundreds/thousands) and a graph one (A_eff, V x V with V ~ 25). The kernels never build the
// (N, K, C_out, T, V) intermediate of the eager form: they loop over samples, keep one
// per-sample (K, C, T, V) workspace per thread, and contract the smaller channel side with the
// graph (GraphConvShape::graph_first, cpp/graph_conv_math.h).
// Both contractions are BLAS GEMMs on contiguous per-sample blocks (at::cpu::mm_out/addmm_out:
// no dispatcher hop, no copies). Threads split the samples and each GEMM runs on one thread
// (MKL goes sequential inside a parallel region), so there is no fork/join per GEMM.
// NB (measured, single thread, this machine; benchmarks/graph_step_hand_vs_mkl.py): for the
// skinny graph GEMMs (C*T x V) @ (V x V), MKL beat a hand loop auto-vectorised for AVX2
// (0.56-0.81x of MKL's speed), so both steps use MKL.
#include <ATen/Parallel.h>
#include <ATen/ops/addmm_cpu_dispatch.h>
#include <ATen/ops/mm_cpu_dispatch.h>
#include <torch/library.h>

#include <algorithm>
#include <vector>

#include "graph_conv.h"

namespace skdcore {
namespace {

// Runs body(chunk, n_begin, n_end) over `chunks` contiguous sample ranges. Each chunk owns its
// workspace and partial sums, so reductions don't depend on the thread schedule.
// NB: with a single chunk the body runs outside any parallel region, so MKL may use every
// thread inside each GEMM (the right split when N < threads).
template <typename Body>
void for_each_sample_chunk(int64_t N, int64_t chunks, const Body& body) {
  if (chunks <= 1) {
    body(0, 0, N);
    return;
  }
  at::parallel_for(0, chunks, 1, [&](int64_t begin, int64_t end) {
    for (int64_t chunk = begin; chunk < end; ++chunk) {
      body(chunk, N * chunk / chunks, N * (chunk + 1) / chunks);
    }
  });
}

int64_t sample_chunks(int64_t N) {
  return std::max<int64_t>(1, std::min<int64_t>(N, at::get_num_threads()));
}

// out = a @ b on 2-D blocks; out is a view into a result or workspace (no resize, no copy).
void mm_into(at::Tensor out, const at::Tensor& a, const at::Tensor& b) {
  at::cpu::mm_out(out, a, b);
}

// out (+)= a @ b.
void matmul_into(at::Tensor out, const at::Tensor& a, const at::Tensor& b, bool accumulate) {
  if (accumulate) {
    at::cpu::addmm_out(out, out, a, b);
  } else {
    at::cpu::mm_out(out, a, b);
  }
}

void forward_cpu(const at::Tensor& x_c, const at::Tensor& weight, const at::Tensor& a_eff, const at::Tensor& bias,
                 at::Tensor& y) {
  const GraphConvShape shape = graph_conv_shape(x_c, weight);
  const int64_t N = shape.N, C_in = shape.C_in, T = shape.T, V = shape.V, K = shape.K, C_out = shape.C_out;
  const at::Tensor bias_column = bias.defined() ? bias.view({C_out, 1}) : at::Tensor();
  const int64_t chunks = sample_chunks(N);

  if (shape.graph_first()) {
    // Graph first: xa[k] = x[n] @ A_eff[k] over (C_in*T, V); y[n] = W_cat @ xa over (K*C_in, T*V).
    const at::Tensor w_cat = weight.permute({1, 0, 2}).reshape({C_out, K * C_in}).contiguous();
    for_each_sample_chunk(N, chunks, [&](int64_t, int64_t n_begin, int64_t n_end) {
      at::Tensor xa = at::empty({K, C_in * T, V}, x_c.options());
      for (int64_t n = n_begin; n < n_end; ++n) {
        const at::Tensor x_n = x_c[n].view({C_in * T, V});
        for (int64_t k = 0; k < K; ++k) mm_into(xa[k], x_n, a_eff[k]);
        at::Tensor y_n = y[n].view({C_out, T * V});
        const at::Tensor xa_flat = xa.view({K * C_in, T * V});
        if (bias.defined()) {
          at::cpu::addmm_out(y_n, bias_column, w_cat, xa_flat);
        } else {
          mm_into(y_n, w_cat, xa_flat);
        }
      }
    });
  } else {
    // Channels first: p = W_stack @ x[n] over (K*C_out, T*V); y[n] = sum_k p[k] @ A_eff[k].
    const at::Tensor w_stack = weight.reshape({K * C_out, C_in}).contiguous();
    for_each_sample_chunk(N, chunks, [&](int64_t, int64_t n_begin, int64_t n_end) {
      at::Tensor p = at::empty({K, C_out * T, V}, x_c.options());
      for (int64_t n = n_begin; n < n_end; ++n) {
        mm_into(p.view({K * C_out, T * V}), w_stack, x_c[n].view({C_in, T * V}));
        at::Tensor y_n = y[n].view({C_out * T, V});
        for (int64_t k = 0; k < K; ++k) matmul_into(y_n, p[k], a_eff[k], /*accumulate=*/k > 0);
        if (bias.defined()) y[n].view({C_out, T * V}).add_(bias_column);
      }
    });
  }
}

void backward_cpu(const at::Tensor& g_c, const at::Tensor& x_c, const at::Tensor& weight, const at::Tensor& a_eff,
                  const GraphConvNeeds& needs, at::Tensor& grad_x, at::Tensor& grad_w, at::Tensor& grad_a_eff) {
  const GraphConvShape shape = graph_conv_shape(x_c, weight);
  const int64_t N = shape.N, C_in = shape.C_in, T = shape.T, V = shape.V, K = shape.K, C_out = shape.C_out;
  const at::Tensor a_eff_t = a_eff.transpose(1, 2);  // (K, V, V) view; GEMM reads it transposed
  const int64_t chunks = sample_chunks(N);
  // Per-chunk partial sums of the reductions over samples (summed in chunk order below).
  std::vector<at::Tensor> partial_w(chunks), partial_a(chunks);

  if (shape.graph_first()) {
    // Work on the C_in side: q = W^T g (K*C_in, T*V); grad_x = sum_k q[k] A_k^T;
    // grad_A_k = x^T q[k]; grad_W_k = g (x A_k)^T.
    const at::Tensor w_t = weight.transpose(1, 2).reshape({K * C_in, C_out}).contiguous();
    for_each_sample_chunk(N, chunks, [&](int64_t chunk, int64_t n_begin, int64_t n_end) {
      at::Tensor work = at::empty({K, C_in * T, V}, x_c.options());
      // grad_W partial as (C_out, K*C_in) [o, (k, c)]: one GEMM per sample, permuted at the end.
      at::Tensor gw = needs.weight ? at::zeros({C_out, K * C_in}, x_c.options()) : at::Tensor();
      at::Tensor ga = needs.adjacency() ? at::zeros({K, V, V}, x_c.options()) : at::Tensor();
      for (int64_t n = n_begin; n < n_end; ++n) {
        const at::Tensor g_n = g_c[n].view({C_out, T * V});
        const at::Tensor x_n = x_c[n].view({C_in * T, V});
        if (needs.x || needs.adjacency()) {
          mm_into(work.view({K * C_in, T * V}), w_t, g_n);  // q
          if (needs.x) {
            at::Tensor gx_n = grad_x[n].view({C_in * T, V});
            for (int64_t k = 0; k < K; ++k) matmul_into(gx_n, work[k], a_eff_t[k], k > 0);
          }
          if (needs.adjacency()) {
            for (int64_t k = 0; k < K; ++k) matmul_into(ga[k], x_n.t(), work[k], true);
          }
        }
        if (needs.weight) {
          for (int64_t k = 0; k < K; ++k) mm_into(work[k], x_n, a_eff[k]);  // x A_k
          matmul_into(gw, g_n, work.view({K * C_in, T * V}).t(), true);
        }
      }
      if (needs.weight) gw = gw.view({C_out, K, C_in}).permute({1, 0, 2});
      partial_w[chunk] = gw;
      partial_a[chunk] = ga;
    });
  } else {
    // Work on the C_out side: gb_k = g A_k^T (C_out*T, V); grad_x = W_stack^T gb;
    // grad_W_k = gb_k x^T; grad_A_k = (W_k x)^T g.
    const at::Tensor w_stack = weight.reshape({K * C_out, C_in}).contiguous();
    for_each_sample_chunk(N, chunks, [&](int64_t chunk, int64_t n_begin, int64_t n_end) {
      at::Tensor work = at::empty({K, C_out * T, V}, x_c.options());
      at::Tensor gw = needs.weight ? at::zeros({K, C_out, C_in}, x_c.options()) : at::Tensor();
      at::Tensor ga = needs.adjacency() ? at::zeros({K, V, V}, x_c.options()) : at::Tensor();
      for (int64_t n = n_begin; n < n_end; ++n) {
        const at::Tensor g_n = g_c[n].view({C_out * T, V});
        const at::Tensor x_n = x_c[n].view({C_in, T * V});
        if (needs.x || needs.weight) {
          for (int64_t k = 0; k < K; ++k) mm_into(work[k], g_n, a_eff_t[k]);  // gb
          if (needs.x) {
            mm_into(grad_x[n].view({C_in, T * V}), w_stack.t(),
                            work.view({K * C_out, T * V}));
          }
          if (needs.weight) {  // (K*C_out, T*V) @ (T*V, C_in) is grad_W's own layout
            matmul_into(gw.view({K * C_out, C_in}), work.view({K * C_out, T * V}), x_n.t(), true);
          }
        }
        if (needs.adjacency()) {
          mm_into(work.view({K * C_out, T * V}), w_stack, x_n);  // p = W x
          for (int64_t k = 0; k < K; ++k) matmul_into(ga[k], work[k].t(), g_n, true);
        }
      }
      partial_w[chunk] = gw;
      partial_a[chunk] = ga;
    });
  }
  for (int64_t chunk = 0; chunk < chunks; ++chunk) {
    if (needs.weight) grad_w.add_(partial_w[chunk]);
    if (needs.adjacency()) grad_a_eff.add_(partial_a[chunk]);
  }
}

constexpr GraphConvKernels kCpuKernels{c10::kCPU, /*products=*/nullptr, &forward_cpu, &backward_cpu};

}  // namespace

TORCH_LIBRARY_IMPL(skdcore, CPU, m) { register_graph_conv<kCpuKernels>(m); }

}  // namespace skdcore
