// CPU kernels of skdcore::normalize_adjacency and its backward.
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <vector>

#include "normalize_adjacency.h"

namespace skdcore {
namespace {

// NB: graphs are tiny (K x 25 x 25); spreading them over threads costs more than it saves, so
// a task gets at least ~64k entries.
int64_t partitions_per_task(int64_t V) { return std::max<int64_t>(1, (int64_t{1} << 16) / std::max<int64_t>(1, V * V)); }

// degree[i] for one (V, V) matrix: in_degree sums columns (over sources v), symmetric sums rows.
template <typename scalar_t>
void adjacency_degrees(const scalar_t* A, int64_t V, AdjacencyNorm mode, double* degree) {
  for (int64_t i = 0; i < V; ++i) degree[i] = 0.0;
  for (int64_t v = 0; v < V; ++v) {
    for (int64_t w = 0; w < V; ++w) {
      degree[mode == AdjacencyNorm::InDegree ? w : v] += static_cast<double>(A[v * V + w]);
    }
  }
}

template <typename scalar_t>
void adjacency_scales(const scalar_t* A, int64_t V, AdjacencyNorm mode, double* scale) {
  adjacency_degrees(A, V, mode, scale);
  for (int64_t i = 0; i < V; ++i) scale[i] = adjacency_scale(mode, scale[i]);
}

template <typename scalar_t>
void normalize_adjacency_forward_kernel(const scalar_t* A, scalar_t* out, int64_t K, int64_t V,
                                        AdjacencyNorm mode) {
  at::parallel_for(0, K, partitions_per_task(V), [&](int64_t begin, int64_t end) {
    std::vector<double> degree(V);
    for (int64_t k = begin; k < end; ++k) {
      const scalar_t* a = A + k * V * V;
      scalar_t* o = out + k * V * V;
      adjacency_degrees(a, V, mode, degree.data());
      for (int64_t v = 0; v < V; ++v) {
        for (int64_t w = 0; w < V; ++w) {
          o[v * V + w] = static_cast<scalar_t>(
              normalized_adjacency_entry(mode, static_cast<double>(a[v * V + w]), degree[v], degree[w]));
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

void forward_cpu(const at::Tensor& A, at::Tensor& out, AdjacencyNorm mode) {
  AT_DISPATCH_FLOATING_TYPES(A.scalar_type(), "normalize_adjacency_forward_cpu", [&] {
    normalize_adjacency_forward_kernel<scalar_t>(A.const_data_ptr<scalar_t>(), out.mutable_data_ptr<scalar_t>(),
                                                 A.size(0), A.size(1), mode);
  });
}

void backward_cpu(const at::Tensor& grad, const at::Tensor& A, at::Tensor& grad_A, AdjacencyNorm mode) {
  AT_DISPATCH_FLOATING_TYPES(A.scalar_type(), "normalize_adjacency_backward_cpu", [&] {
    normalize_adjacency_backward_kernel<scalar_t>(grad.const_data_ptr<scalar_t>(), A.const_data_ptr<scalar_t>(),
                                                  grad_A.mutable_data_ptr<scalar_t>(), A.size(0), A.size(1), mode);
  });
}

constexpr NormalizeAdjacencyKernels kCpuKernels{c10::kCPU, &forward_cpu, &backward_cpu};

}  // namespace

TORCH_LIBRARY_IMPL(skdcore, CPU, m) { register_normalize_adjacency<kCpuKernels>(m); }

}  // namespace skdcore
