// CPU kernels of skdcore::normalize_adjacency and its backward.
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <vector>

#include "checks.h"
#include "normalize_adjacency.h"

namespace skdcore {
namespace {

// NB: graphs are tiny (K x 25 x 25); spreading them over threads costs more than it saves, so
// a task gets at least ~64k entries.
int64_t partitions_per_task(int64_t V) { return std::max<int64_t>(1, (int64_t{1} << 16) / std::max<int64_t>(1, V * V)); }

// scale[i] for one (V, V) matrix: in_degree sums columns (over sources v), symmetric sums rows.
template <typename scalar_t>
void adjacency_scales(const scalar_t* A, int64_t V, AdjacencyNorm mode, double* scale) {
  for (int64_t i = 0; i < V; ++i) scale[i] = 0.0;
  for (int64_t v = 0; v < V; ++v) {
    for (int64_t w = 0; w < V; ++w) {
      scale[mode == AdjacencyNorm::InDegree ? w : v] += static_cast<double>(A[v * V + w]);
    }
  }
  for (int64_t i = 0; i < V; ++i) scale[i] = adjacency_scale(mode, scale[i]);
}

template <typename scalar_t>
void normalize_adjacency_forward_kernel(const scalar_t* A, scalar_t* out, int64_t K, int64_t V,
                                        AdjacencyNorm mode) {
  at::parallel_for(0, K, partitions_per_task(V), [&](int64_t begin, int64_t end) {
    std::vector<double> scale(V);
    for (int64_t k = begin; k < end; ++k) {
      const scalar_t* a = A + k * V * V;
      scalar_t* o = out + k * V * V;
      adjacency_scales(a, V, mode, scale.data());
      for (int64_t v = 0; v < V; ++v) {
        for (int64_t w = 0; w < V; ++w) {
          const double s = mode == AdjacencyNorm::InDegree ? scale[w] : scale[v] * scale[w];
          o[v * V + w] = static_cast<scalar_t>(static_cast<double>(a[v * V + w]) * s);
        }
      }
    }
  });
}

// in_degree: dA[v,w] = r[w] * (g[v,w] - r[w] * sum_v' g[v',w] A[v',w]),  r = 1/deg
// symmetric: dA[v,w] = g[v,w] s[v] s[w] - 0.5 s[v]^3 q[v],
//            q[i] = sum_w g[i,w] A[i,w] s[w] + sum_v g[v,i] A[v,i] s[v],  s = d^-1/2
template <typename scalar_t>
void normalize_adjacency_backward_kernel(const scalar_t* G, const scalar_t* A, scalar_t* dA,
                                         int64_t K, int64_t V, AdjacencyNorm mode) {
  at::parallel_for(0, K, partitions_per_task(V), [&](int64_t begin, int64_t end) {
    std::vector<double> scale(V), reduced(V);
    for (int64_t k = begin; k < end; ++k) {
      const scalar_t* a = A + k * V * V;
      const scalar_t* g = G + k * V * V;
      scalar_t* d = dA + k * V * V;
      adjacency_scales(a, V, mode, scale.data());
      for (int64_t i = 0; i < V; ++i) reduced[i] = 0.0;
      for (int64_t v = 0; v < V; ++v) {
        for (int64_t w = 0; w < V; ++w) {
          const double ga = static_cast<double>(g[v * V + w]) * static_cast<double>(a[v * V + w]);
          if (mode == AdjacencyNorm::InDegree) {
            reduced[w] += ga;
          } else {
            reduced[v] += ga * scale[w];
            reduced[w] += ga * scale[v];
          }
        }
      }
      for (int64_t v = 0; v < V; ++v) {
        for (int64_t w = 0; w < V; ++w) {
          const double gvw = static_cast<double>(g[v * V + w]);
          double value;
          if (mode == AdjacencyNorm::InDegree) {
            value = scale[w] * (gvw - scale[w] * reduced[w]);
          } else {
            value = gvw * scale[v] * scale[w] - 0.5 * scale[v] * scale[v] * scale[v] * reduced[v];
          }
          d[v * V + w] = static_cast<scalar_t>(value);
        }
      }
    }
  });
}

at::Tensor normalize_adjacency_forward_cpu(const at::Tensor& A, c10::string_view mode_name) {
  constexpr const char* op = "skdcore.normalize_adjacency";
  check_adjacency(op, "A", A);
  checks::check_device(op, "A", A, c10::kCPU);
  const AdjacencyNorm mode = parse_adjacency_norm(mode_name);
  const at::Tensor A_c = A.contiguous();
  at::Tensor out = at::empty_like(A_c);
  if (A_c.numel() == 0) return out;
  AT_DISPATCH_FLOATING_TYPES(A_c.scalar_type(), "normalize_adjacency_forward_cpu", [&] {
    normalize_adjacency_forward_kernel<scalar_t>(A_c.const_data_ptr<scalar_t>(),
                                                 out.mutable_data_ptr<scalar_t>(), A_c.size(0),
                                                 A_c.size(1), mode);
  });
  return out;
}

at::Tensor normalize_adjacency_backward_cpu(const at::Tensor& grad, const at::Tensor& A,
                                            c10::string_view mode_name) {
  constexpr const char* op = "skdcore._normalize_adjacency_backward";
  check_adjacency_backward(op, grad, A);
  const AdjacencyNorm mode = parse_adjacency_norm(mode_name);
  const at::Tensor A_c = A.contiguous();
  const at::Tensor G_c = grad.contiguous();
  at::Tensor dA = at::empty_like(A_c);
  if (A_c.numel() == 0) return dA;
  AT_DISPATCH_FLOATING_TYPES(A_c.scalar_type(), "normalize_adjacency_backward_cpu", [&] {
    normalize_adjacency_backward_kernel<scalar_t>(
        G_c.const_data_ptr<scalar_t>(), A_c.const_data_ptr<scalar_t>(),
        dA.mutable_data_ptr<scalar_t>(), A_c.size(0), A_c.size(1), mode);
  });
  return dA;
}

}  // namespace

TORCH_LIBRARY_IMPL(skdcore, CPU, m) {
  m.impl("normalize_adjacency", &normalize_adjacency_forward_cpu);
  m.impl("_normalize_adjacency_backward", &normalize_adjacency_backward_cpu);
}

}  // namespace skdcore
