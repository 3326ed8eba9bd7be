// Scalar part of gradient revision, shared by the CPU kernel (g++) and the CUDA kernel (nvcc).
// Torch-free: included by cuda/gradient_revision.cu.
//
// Vectors: v_0 = g_task, v_k = g_k (k = 1..K distillation losses), each over ALL parameters.
// gram[a * (K+1) + b] = <v_a, v_b> (float64). Every revised g_k is a linear combination of the
// v's, so the whole revision is done on the (K+1) x (K+1) Gram matrix and the big vectors are only
// touched twice: once to build the Gram matrix, once to write out = sum_j weights[j] * v_j.
//
//   skd    : rev(g_k) = g_k - min(0, <g_k, g_t>) / (||g_t||^2 + eps) * g_t
//   pcgrad : rev(g_k) as skd, then projected off every other ORIGINAL g_j (j != k) it still
//            conflicts with, in a seeded random order (PCGrad, Yu et al. 2020); g_t is never changed.
#pragma once

#include <cmath>
#include <cstdint>

#include "common/host_device.h"

namespace skdcore {

enum class GradientRevisionMode : int32_t { Skd = 0, PcGrad = 1 };

// NB: fixed bound so the CUDA weight kernel needs no dynamic allocation; checked on the host.
constexpr int64_t kGradientRevisionMaxLosses = 16;

// Number of Gram entries computed: skd needs row 0 and the diagonal (for the cosines),
// pcgrad the whole upper triangle.
SKD_HOST_DEVICE int64_t gradient_revision_num_pairs(int64_t K, GradientRevisionMode mode) {
  return mode == GradientRevisionMode::Skd ? 1 + 2 * K : (K + 1) * (K + 2) / 2;
}

// p-th computed pair (a <= b) in a fixed order.
SKD_HOST_DEVICE void gradient_revision_pair(int64_t p, int64_t K, GradientRevisionMode mode,
                                            int64_t* a, int64_t* b) {
  if (mode == GradientRevisionMode::Skd) {
    if (p <= K) {  // (0, 0), (0, 1), ..., (0, K)
      *a = 0;
      *b = p;
    } else {  // (1, 1), ..., (K, K)
      *a = p - K;
      *b = p - K;
    }
    return;
  }
  int64_t row = 0;
  while (p >= K + 1 - row) {
    p -= K + 1 - row;
    ++row;
  }
  *a = row;
  *b = row + p;
}

SKD_HOST_DEVICE uint64_t splitmix64(uint64_t* state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// order[0..K-1]: a permutation of the distillation indices 1..K for loss k (seeded Fisher-Yates);
// integer-only, so CPU and CUDA give the same order for the same seed.
SKD_HOST_DEVICE void pcgrad_order(uint64_t seed, int64_t k, int64_t K, int64_t* order) {
  uint64_t state = seed ^ (0xD1B54A32D192ED03ull * static_cast<uint64_t>(k + 1));
  for (int64_t i = 0; i < K; ++i) order[i] = i + 1;
  for (int64_t i = K - 1; i > 0; --i) {
    const int64_t j = static_cast<int64_t>(splitmix64(&state) % static_cast<uint64_t>(i + 1));
    const int64_t tmp = order[i];
    order[i] = order[j];
    order[j] = tmp;
  }
}

// weights[0..K]: out = sum_j weights[j] * v_j.
// stats[0..K-1]: cosine(g_k, g_t) (0 when either is zero); stats[K..2K-1]: number of projections
// applied to g_k (0/1 in skd mode, 0..K in pcgrad mode).
SKD_HOST_DEVICE void gradient_revision_weights(const double* gram, int64_t K, double eps,
                                               GradientRevisionMode mode, uint64_t seed,
                                               double* weights, double* stats) {
  const int64_t n = K + 1;
  double coeff[kGradientRevisionMaxLosses + 1];
  int64_t refs[kGradientRevisionMaxLosses + 1];
  weights[0] = 1.0;
  for (int64_t j = 1; j < n; ++j) weights[j] = 0.0;
  for (int64_t k = 1; k <= K; ++k) {
    for (int64_t j = 0; j < n; ++j) coeff[j] = 0.0;
    coeff[k] = 1.0;
    // Reference vectors g_k is projected against, in order: the task first, then (pcgrad) the
    // other distillation gradients shuffled.
    int64_t num_refs = 1;
    refs[0] = 0;
    if (mode == GradientRevisionMode::PcGrad) {
      pcgrad_order(seed, k, K, refs + 1);
      num_refs = 0;
      for (int64_t i = 0; i <= K; ++i) {
        if (i == 0 || refs[i] != k) refs[num_refs++] = refs[i];
      }
    }
    double projections = 0.0;
    for (int64_t r = 0; r < num_refs; ++r) {
      const int64_t j = refs[r];
      double dot = 0.0;  // <current rev(g_k), v_j>
      for (int64_t m = 0; m < n; ++m) dot += coeff[m] * gram[m * n + j];
      if (dot < 0.0) {
        coeff[j] -= dot / (gram[j * n + j] + eps);
        projections += 1.0;
      }
    }
    for (int64_t j = 0; j < n; ++j) weights[j] += coeff[j];
    const double norms = gram[k * n + k] * gram[0];
    stats[k - 1] = norms > 0.0 ? gram[k * n] / sqrt(norms) : 0.0;
    stats[K + k - 1] = projections;
  }
}

}  // namespace skdcore
