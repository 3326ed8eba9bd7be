// Runs cuda/gradient_revision.cu's launchers on the CPU (cuda_emulation.h) the way the glue
// (cpp/gradient_revision_cuda.cpp) calls them, and compares them with naive double loops over the
// flattened gradients, written from the op's definition (python/skdcore/reference/gradient_revision.py):
//   gram   : every listed pair and its mirror = the naive dot product; unlisted entries untouched;
//   weights: the stats (cosines, projection counts);
//   apply  : out = g_task + sum_k rev(g_k), out of place and in place (out aliasing the task vectors).
// skd and pcgrad modes; tensors of exactly one chunk, one element over, empty and tiny; more chunks
// than threads per block (the finalize reduction strides); more tensors than one by-value table
// holds and a tensor split across two tables (several launches); K = 0 and the largest K (16);
// conflicting, agreeing and all-zero gradients; float and double. Exit code 0 = all match.
#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <vector>

// Small tables (GradientRevisionTable), so that these inputs need many launches.
#define SKDCORE_GRADIENT_REVISION_SMALL_TABLES
#include "gradient_revision.cu"

using namespace skdcore;

struct Case {
  const char* name;
  std::vector<int64_t> sizes;  // numel of each parameter tensor
  int64_t K;                   // distillation losses
};

const char* mode_name(GradientRevisionMode mode) { return mode == GradientRevisionMode::Skd ? "skd" : "pcgrad"; }

struct Report {
  const char* type;
  const char* mode;
  const Case& k;
  bool ok = true;
  int reported = 0;
  void expect(bool good, const char* what, int64_t index, double got, double want) {
    if (good) return;
    ok = false;
    if (reported++ < 8) {
      std::printf("MISMATCH %s<%s> %s (%s, K=%ld) at %ld: %.12g vs %.12g\n", what, type, mode, k.name, (long)k.K,
                  (long)index, got, want);
    }
  }
};

// The reference's algorithm on flattened float64 vectors: each g_k projected off the task (and in
// pcgrad, off the other ORIGINAL g_j in the seeded order) while it conflicts; out = g_t + sum rev(g_k).
void naive_revision(const std::vector<std::vector<double>>& v, int64_t K, double eps, GradientRevisionMode mode,
                    uint64_t seed, std::vector<double>& total, std::vector<double>& stats) {
  auto dot = [](const std::vector<double>& a, const std::vector<double>& b) {
    double s = 0;
    for (size_t e = 0; e < a.size(); ++e) s += a[e] * b[e];
    return s;
  };
  total = v[0];
  stats.assign(2 * K, 0.0);
  for (int64_t k = 1; k <= K; ++k) {
    std::vector<int64_t> refs = {0};
    if (mode == GradientRevisionMode::PcGrad) {
      std::vector<int64_t> order(K);
      pcgrad_order(seed, k, K, order.data());  // itself checked against the Python reference in tests/ops
      for (int64_t j : order)
        if (j != k) refs.push_back(j);
    }
    std::vector<double> revised = v[k];
    for (int64_t j : refs) {
      const double d = dot(revised, v[j]);
      if (d < 0) {
        const double c = d / (dot(v[j], v[j]) + eps);
        for (size_t e = 0; e < revised.size(); ++e) revised[e] -= c * v[j][e];
        stats[K + k - 1] += 1;
      }
    }
    const double norms = dot(v[k], v[k]) * dot(v[0], v[0]);
    stats[k - 1] = norms > 0 ? dot(v[k], v[0]) / std::sqrt(norms) : 0.0;
    for (size_t e = 0; e < total.size(); ++e) total[e] += revised[e];
  }
}

template <typename T>
bool check(const Case& k, GradientRevisionMode mode, std::mt19937& rng) {
  const int64_t N = static_cast<int64_t>(k.sizes.size()), K = k.K;
  const double eps = 1e-12;
  const uint64_t seed = 1234567;
  // Vector j = 0 is the task gradient; j >= 1: noise + alpha_j g_task (+ beta_j g_1), so some
  // distillation gradients conflict with the task, some agree, some conflict with each other; the
  // second one is all zero (cosine 0, never projected) when K >= 3.
  std::normal_distribution<double> noise(0.0, 1.0);
  const double alphas[] = {-0.7, 0.4, 0.0, -0.2, 0.9, -1.5};
  std::vector<std::vector<std::vector<T>>> grads(K + 1, std::vector<std::vector<T>>(N));  // [j][i]
  for (int64_t j = 0; j <= K; ++j)
    for (int64_t i = 0; i < N; ++i) {
      grads[j][i].resize(k.sizes[i]);
      for (int64_t e = 0; e < k.sizes[i]; ++e) {
        double value = noise(rng);
        if (j >= 1) value += alphas[(j - 1) % 6] * grads[0][i][e];
        if (j >= 3 && j % 2 == 1) value -= 0.6 * grads[1][i][e];
        if (j == 2 && K >= 3) value = 0;
        grads[j][i][e] = static_cast<T>(value);
      }
    }
  // Flattened float64 copies for the naive computation.
  std::vector<std::vector<double>> flat(K + 1);
  for (int64_t j = 0; j <= K; ++j)
    for (int64_t i = 0; i < N; ++i) flat[j].insert(flat[j].end(), grads[j][i].begin(), grads[j][i].end());

  // What the glue passes: host arrays of pointers vectors[j * N + i] and sizes; the launchers pack
  // them into by-value tables themselves.
  std::vector<const T*> vectors((K + 1) * N);
  for (int64_t j = 0; j <= K; ++j)
    for (int64_t i = 0; i < N; ++i) vectors[j * N + i] = grads[j][i].data();
  std::vector<int64_t> pairs;
  int64_t want_chunks = 0;
  for (int64_t i = 0; i < N; ++i) want_chunks += (k.sizes[i] + cuda::kGradientRevisionChunk - 1) / cuda::kGradientRevisionChunk;
  const int64_t num_chunks = cuda::gradient_revision_num_chunks(k.sizes.data(), N);
  const int64_t num_pairs = gradient_revision_num_pairs(K, mode);
  for (int64_t p = 0; p < num_pairs; ++p) {
    int64_t a, b;
    gradient_revision_pair(p, K, mode, &a, &b);
    pairs.push_back(a);
    pairs.push_back(b);
  }

  Report report{sizeof(T) == 4 ? "float" : "double", mode_name(mode), k};
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const int64_t n = K + 1;
  std::vector<double> gram(n * n, 0.0), partials(num_chunks * num_pairs, nan);
  report.expect(num_chunks == want_chunks, "chunk count", 0, num_chunks, want_chunks);
  report.expect(cuda::gradient_revision_gram<T>(vectors.data(), k.sizes.data(), N, K, mode, partials.data(),
                                                gram.data(), nullptr) == cudaSuccess,
                "gram launch", 0, 0, 0);
  for (int64_t c = 0; c < num_chunks * num_pairs; ++c) {
    report.expect(!std::isnan(partials[c]), "partials written", c, partials[c], 0);  // every chunk, once
  }
  std::vector<bool> listed(n * n, false);
  for (int64_t p = 0; p < num_pairs; ++p) {
    const int64_t a = pairs[2 * p], b = pairs[2 * p + 1];
    listed[a * n + b] = listed[b * n + a] = true;
  }
  for (int64_t a = 0; a < n; ++a)
    for (int64_t b = 0; b < n; ++b) {
      double want = 0, magnitude = 0;  // float products are exact in double: only summation error
      if (listed[a * n + b])
        for (size_t e = 0; e < flat[a].size(); ++e) {
          want += flat[a][e] * flat[b][e];
          magnitude += std::fabs(flat[a][e] * flat[b][e]);
        }
      const double got = gram[a * n + b];
      report.expect(std::fabs(got - want) <= 1e-12 * (1 + magnitude), "gram", a * n + b, got, want);
    }

  std::vector<double> weights(n, nan), stats(2 * K, nan), want_total, want_stats;
  report.expect(cuda::gradient_revision_weights(gram.data(), K, eps, mode, seed, weights.data(), stats.data(),
                                                nullptr) == cudaSuccess,
                "weights launch", 0, 0, 0);
  naive_revision(flat, K, eps, mode, seed, want_total, want_stats);
  for (int64_t s = 0; s < K; ++s) {
    report.expect(std::fabs(stats[s] - want_stats[s]) <= 1e-10, "cosine", s, stats[s], want_stats[s]);
    report.expect(stats[K + s] == want_stats[K + s], "projections", s, stats[K + s], want_stats[K + s]);
  }

  // Apply twice: into fresh buffers (NaN: unwritten elements show up), and in place over copies of
  // the task vectors (vectors[i] == outputs[i]).
  const double tol = sizeof(T) == 4 ? 1e-5 : 1e-11;
  for (bool in_place : {false, true}) {
    std::vector<std::vector<T>> out(N);
    std::vector<T*> outputs(N);
    std::vector<const T*> inputs = vectors;
    for (int64_t i = 0; i < N; ++i) {
      out[i] = in_place ? grads[0][i] : std::vector<T>(k.sizes[i], std::numeric_limits<T>::quiet_NaN());
      outputs[i] = out[i].data();
      if (in_place) inputs[i] = out[i].data();
    }
    report.expect(cuda::gradient_revision_apply<T>(inputs.data(), outputs.data(), k.sizes.data(), N, K,
                                                   weights.data(), nullptr) == cudaSuccess,
                  "apply launch", 0, 0, 0);
    int64_t flat_index = 0;
    for (int64_t i = 0; i < N; ++i)
      for (int64_t e = 0; e < k.sizes[i]; ++e, ++flat_index) {
        const double got = static_cast<double>(out[i][e]), want = want_total[flat_index];
        report.expect(std::fabs(got - want) <= tol * (1 + std::fabs(want)), in_place ? "apply in place" : "apply",
                      flat_index, got, want);
      }
  }
  return report.ok;
}

int main() {
  std::mt19937 rng(3);
  std::vector<int64_t> tiny(257);  // one chunk per tensor: more chunks than threads per block
  for (size_t i = 0; i < tiny.size(); ++i) tiny[i] = 1 + static_cast<int64_t>(i % 3);
  const Case edges{"chunk edges", {8192, 8193, 1, 0, 300}, 3};  // 1 + 2 + 1 + 0 + 1 chunks
  const Case many_chunks{"257 tiny tensors", tiny, 0};           // K = 0: one pair, out = g_task
  const Case largest{"largest K", {300, 40}, kGradientRevisionMaxLosses};
  // The by-value tables, shrunk here to 16 blocks, 16 tensor slots, 20 pointers: 6 tensors of 3
  // chunks fill a table's blocks in the middle of tensor 5, which continues in the next table; 30
  // tensors with K = 5 need more pointers than a table holds (3 tensors a launch for the Gram
  // matrix, 2 for apply). Every case above also runs over several tables.
  const Case split_tensor{"tensors split across tables", std::vector<int64_t>(6, 3 * 8192 - 5), 1};
  const Case many_slots{"more tensors than one table", std::vector<int64_t>(30, 3), 5};
  bool ok = true;
  for (GradientRevisionMode mode : {GradientRevisionMode::Skd, GradientRevisionMode::PcGrad}) {
    ok &= check<float>(edges, mode, rng);
    ok &= check<double>(edges, mode, rng);
  }
  // NB: one run each below: an emulated __syncthreads costs ~0.3 ms and these take thousands (a
  // block reduction per chunk and pair). The Gram partials are float64 for either input type.
  ok &= check<double>(many_chunks, GradientRevisionMode::Skd, rng);
  ok &= check<double>(largest, GradientRevisionMode::PcGrad, rng);  // 153 pairs
  ok &= check<float>(largest, GradientRevisionMode::Skd, rng);
  ok &= check<double>(split_tensor, GradientRevisionMode::Skd, rng);
  ok &= check<double>(many_slots, GradientRevisionMode::PcGrad, rng);
  ok &= check<float>(many_slots, GradientRevisionMode::Skd, rng);
  std::printf(ok ? "all match\n" : "FAILED\n");
  return ok ? 0 : 1;
}
