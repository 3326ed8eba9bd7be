// Elementwise math of the graph-matching loss, shared by the CPU and CUDA kernels.
// Torch-free: included by cuda/graph_matching.cu.
//
// Per sample, nodes f_i (i < P, C features). Squared distance in Gram form
//   d2_ij = |f_i|^2 + |f_j|^2 - 2 f_i.f_j,  D_ij = sqrt(max(d2_ij, kDistanceClamp)) (i != j), D_ii = 0
// (squared_euclidean: D_ij = max(d2_ij, kDistanceClamp)). Each matrix is divided by mu, the mean of
// its strictly positive entries (normalize="mean_positive"; mu = 1 if none or normalize="none").
// Per-sample loss = (1/P^2) sum_ij l(D_s/mu_s - D_t/mu_t), l = smooth_l1(beta) or l2.
//
// NB (gradient at 0): the clamp makes D differentiable everywhere: where d2 < kDistanceClamp
// (duplicate nodes, cancellation noise) dD/dd2 = 0, exactly like torch's clamp_min backward in the
// reference; the diagonal is a constant 0. So duplicates give D = 1e-6 and gradient 0, never NaN.
#pragma once

#include <cmath>
#include <cstdint>

#include "host_device.h"

namespace skdcore {

// Same constant as python/skdcore/reference/graph_matching.py (DISTANCE_CLAMP).
constexpr double kDistanceClamp = 1e-12;

enum class GraphDistance : int32_t { Euclidean = 0, SquaredEuclidean = 1 };
enum class PointwiseLoss : int32_t { SmoothL1 = 0, L2 = 1 };
enum class GraphNormalize : int32_t { MeanPositive = 0, None = 1 };
enum class LossReduction : int32_t { Mean = 0, Sum = 1, None = 2 };

// Parsed options of one call (the schema carries them as strings).
struct GraphMatchingOptions {
  GraphDistance distance;
  PointwiseLoss loss;
  double beta;
  GraphNormalize normalize;
  LossReduction reduction;
};

// Columns of the (N, kStatsColumns) float64 statistics the forward saves for the backward.
enum GraphMatchingStat : int64_t {
  kStatStudentMean = 0,     // mu_s: normaliser of the student matrix
  kStatTeacherMean = 1,     // mu_t
  kStatStudentCount = 2,    // number of strictly positive student entries (for d mu_s / d D)
  kStatLossMoment = 3,      // sum_ij l'(x_ij) * D_s,ij / mu_s  (for the normaliser gradient)
  kStatsColumns = 4,
};

template <typename T>
SKD_HOST_DEVICE T gm_sqrt(T x) {
#if defined(__CUDA_ARCH__)
  return sqrt(x);
#else
  return std::sqrt(x);
#endif
}

// D from the raw Gram-form d2 (off-diagonal entries only).
template <typename T>
SKD_HOST_DEVICE T gm_distance(T d2, bool squared) {
  const T clamped = d2 > T(kDistanceClamp) ? d2 : T(kDistanceClamp);
  return squared ? clamped : gm_sqrt(clamped);
}

// dD/dd2 given the raw d2 and D = gm_distance(d2): 0 below the clamp (torch clamp_min: grad
// passes where d2 >= min).
template <typename T>
SKD_HOST_DEVICE T gm_distance_grad(T d2, T distance, bool squared) {
  const T passes = d2 >= T(kDistanceClamp) ? T(1) : T(0);
  return squared ? passes : passes * T(0.5) / distance;
}

// Mean of the positive entries, or 1 when there is none (P = 1) or normalisation is off.
template <typename T>
SKD_HOST_DEVICE T gm_normaliser(T positive_sum, T positive_count, GraphNormalize normalize) {
  if (normalize == GraphNormalize::None || !(positive_count > T(0))) return T(1);
  return positive_sum / positive_count;
}

// smooth_l1(x) = 0.5 x^2 / beta if |x| < beta else |x| - 0.5 beta (beta = 0: |x|); l2(x) = x^2.
template <typename T>
SKD_HOST_DEVICE T gm_pointwise_loss(T x, PointwiseLoss loss, T beta) {
  if (loss == PointwiseLoss::L2) return x * x;
  const T ax = x < T(0) ? -x : x;
  return ax < beta ? T(0.5) * x * x / beta : ax - T(0.5) * beta;
}

// l'(x): x / beta inside, sign(x) outside (sign(0) = 0, as torch's smooth_l1 / l1 backward).
template <typename T>
SKD_HOST_DEVICE T gm_pointwise_loss_grad(T x, PointwiseLoss loss, T beta) {
  if (loss == PointwiseLoss::L2) return T(2) * x;
  const T ax = x < T(0) ? -x : x;
  const T sign = x > T(0) ? T(1) : (x < T(0) ? T(-1) : T(0));
  return ax < beta ? x / beta : sign;
}

}  // namespace skdcore
