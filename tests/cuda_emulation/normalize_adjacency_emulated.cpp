// Runs cuda/normalize_adjacency.cu's launchers on the CPU (cuda_emulation.h) and compares them
// with naive double loops written from the op's definition (cpp/normalize_adjacency_math.h,
// python/skdcore/reference/normalize_adjacency.py): forward and backward, in_degree and symmetric,
// joints with zero and negative degrees (scale 0), V = 1, realistic V and V above the block size
// (strided loops), float and double. The naive backward is the chain rule written out; it is itself
// checked against central differences of the naive forward first. Exit code 0 = all match.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <vector>

#include "normalize_adjacency.cu"

using namespace skdcore;

const char* mode_name(AdjacencyNorm mode) { return mode == AdjacencyNorm::InDegree ? "in_degree" : "symmetric"; }

// Degree of joint i of one (V, V) matrix: in_degree sums column i (messages into i), symmetric row i.
double degree(const double* a, int64_t V, AdjacencyNorm mode, int64_t i) {
  double d = 0;
  for (int64_t j = 0; j < V; ++j) d += mode == AdjacencyNorm::InDegree ? a[j * V + i] : a[i * V + j];
  return d;
}

// 1/d (in_degree) or d^-1/2 (symmetric), 0 where d <= 0; and its derivative in d (0 there too).
double naive_scale(double d, AdjacencyNorm mode) {
  if (d <= 0) return 0;
  return mode == AdjacencyNorm::InDegree ? 1 / d : 1 / std::sqrt(d);
}
double naive_scale_grad(double d, AdjacencyNorm mode) {
  if (d <= 0) return 0;
  return mode == AdjacencyNorm::InDegree ? -1 / (d * d) : -0.5 / (d * std::sqrt(d));
}

// out[v, w] = A[v, w] / deg[w]  or  A[v, w] d[v]^-1/2 d[w]^-1/2, for one (V, V) matrix.
void naive_forward(const double* a, int64_t V, AdjacencyNorm mode, double* out) {
  std::vector<double> scale(V);
  for (int64_t i = 0; i < V; ++i) scale[i] = naive_scale(degree(a, V, mode, i), mode);
  for (int64_t v = 0; v < V; ++v)
    for (int64_t w = 0; w < V; ++w)
      out[v * V + w] = a[v * V + w] * (mode == AdjacencyNorm::InDegree ? scale[w] : scale[v] * scale[w]);
}

// dL/dA[v, w] for L = sum G * out, by the chain rule. A[v, w] enters out[v, w] directly and the
// degree of w (in_degree: column sum) or of v (symmetric: row sum); through that degree it changes
// every output entry that uses the scale of that joint.
void naive_backward(const double* g, const double* a, int64_t V, AdjacencyNorm mode, double* grad_a) {
  std::vector<double> scale(V), scale_grad(V), through_scale(V, 0.0);
  for (int64_t i = 0; i < V; ++i) {
    const double d = degree(a, V, mode, i);
    scale[i] = naive_scale(d, mode);
    scale_grad[i] = naive_scale_grad(d, mode);
  }
  // through_scale[i] = dL/dscale[i].
  for (int64_t p = 0; p < V; ++p)
    for (int64_t q = 0; q < V; ++q) {
      const double ga = g[p * V + q] * a[p * V + q];
      if (mode == AdjacencyNorm::InDegree) {
        through_scale[q] += ga;
      } else {
        through_scale[p] += ga * scale[q];
        through_scale[q] += ga * scale[p];
      }
    }
  for (int64_t v = 0; v < V; ++v)
    for (int64_t w = 0; w < V; ++w) {
      const double direct = g[v * V + w] * (mode == AdjacencyNorm::InDegree ? scale[w] : scale[v] * scale[w]);
      const int64_t joint = mode == AdjacencyNorm::InDegree ? w : v;  // whose degree A[v, w] is part of
      grad_a[v * V + w] = direct + through_scale[joint] * scale_grad[joint];
    }
}

// The naive backward against central differences of the naive forward (positive degrees, double).
bool naive_backward_matches_differences(std::mt19937& rng) {
  std::uniform_real_distribution<double> dist(0.1, 1.0), signed_dist(-1.0, 1.0);
  const int64_t V = 5;
  std::vector<double> a(V * V), g(V * V), grad(V * V), out(V * V);
  for (auto& v : a) v = dist(rng);
  for (auto& v : g) v = signed_dist(rng);
  bool ok = true;
  for (AdjacencyNorm mode : {AdjacencyNorm::InDegree, AdjacencyNorm::Symmetric}) {
    naive_backward(g.data(), a.data(), V, mode, grad.data());
    auto loss = [&] {
      naive_forward(a.data(), V, mode, out.data());
      double l = 0;
      for (int64_t i = 0; i < V * V; ++i) l += g[i] * out[i];
      return l;
    };
    for (int64_t i = 0; i < V * V; ++i) {
      const double h = 1e-6, saved = a[i];
      a[i] = saved + h;
      const double up = loss();
      a[i] = saved - h;
      const double down = loss();
      a[i] = saved;
      const double numeric = (up - down) / (2 * h);
      if (std::fabs(numeric - grad[i]) > 1e-7) {
        std::printf("MISMATCH naive backward vs differences (%s) at %ld: %.9g vs %.9g\n", mode_name(mode), (long)i,
                    grad[i], numeric);
        ok = false;
      }
    }
  }
  return ok;
}

// got vs want within tol * (1 + the largest |want| of the array): entries are sums of terms of
// that size.
template <typename T>
bool compare(const char* what, AdjacencyNorm mode, int64_t K, int64_t V, const std::vector<T>& got,
             const std::vector<double>& want) {
  const double tol = sizeof(T) == 4 ? 2e-5 : 1e-12;
  double largest = 0;
  for (double w : want) largest = std::max(largest, std::fabs(w));
  int reported = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    const double g = static_cast<double>(got[i]);
    if (std::fabs(g - want[i]) <= tol * (1 + largest)) continue;  // NaN (never written) fails too
    if (reported++ < 5) {
      std::printf("MISMATCH %s<%s> %s (K=%ld V=%ld) at %zu: %.9g vs %.9g\n", what, sizeof(T) == 4 ? "float" : "double",
                  mode_name(mode), (long)K, (long)V, i, g, want[i]);
    }
  }
  return reported == 0;
}

template <typename T>
bool check(int64_t K, int64_t V, AdjacencyNorm mode, std::mt19937& rng) {
  std::uniform_real_distribution<double> dist(0.0, 1.0), signed_dist(-1.0, 1.0);
  std::vector<T> a(K * V * V), g(K * V * V);
  for (auto& v : a) v = static_cast<T>(dist(rng));
  for (auto& v : g) v = static_cast<T>(signed_dist(rng));
  // Partition 0: joint V-1 isolated (zero row and column: degree 0 in both modes). Partition 1:
  // joint 0's row and column negative (degree < 0 in both modes). Both get a scale of 0.
  for (int64_t j = 0; j < V && V > 1; ++j) {
    a[(0 * V + V - 1) * V + j] = a[(0 * V + j) * V + V - 1] = T(0);
    if (K > 1) a[(1 * V + 0) * V + j] = a[(1 * V + j) * V + 0] = static_cast<T>(-dist(rng));
  }
  std::vector<double> ad(a.begin(), a.end()), gd(g.begin(), g.end()), out(a.size()), grad_a(a.size());
  for (int64_t k = 0; k < K; ++k) {
    naive_forward(ad.data() + k * V * V, V, mode, out.data() + k * V * V);
    naive_backward(gd.data() + k * V * V, ad.data() + k * V * V, V, mode, grad_a.data() + k * V * V);
  }
  // Outputs start as NaN so an element the kernels never write shows up.
  const T nan = std::numeric_limits<T>::quiet_NaN();
  std::vector<T> got_out(a.size(), nan), got_grad_a(a.size(), nan);
  bool ok = cuda::normalize_adjacency_forward<T>(a.data(), got_out.data(), K, V, mode, nullptr) == cudaSuccess;
  ok &= cuda::normalize_adjacency_backward<T>(g.data(), a.data(), got_grad_a.data(), K, V, mode, nullptr) ==
        cudaSuccess;
  ok &= compare("forward", mode, K, V, got_out, out);
  ok &= compare("backward", mode, K, V, got_grad_a, grad_a);
  return ok;
}

int main() {
  std::mt19937 rng(5);
  bool ok = naive_backward_matches_differences(rng);
  // (K, V): one joint; NTU (25) and COCO (17) skeletons; more joints than threads per block.
  const int64_t shapes[][2] = {{2, 1}, {3, 25}, {3, 17}, {2, 300}};
  for (const auto& shape : shapes)
    for (AdjacencyNorm mode : {AdjacencyNorm::InDegree, AdjacencyNorm::Symmetric}) {
      ok &= check<float>(shape[0], shape[1], mode, rng);
      ok &= check<double>(shape[0], shape[1], mode, rng);
    }
  std::printf(ok ? "all match\n" : "FAILED\n");
  return ok ? 0 : 1;
}
