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
// NB (NaN policy, the reference's): a NaN d2 (a NaN or Inf feature) stays NaN through the clamp, like
// torch.clamp_min, so the loss is NaN and so is the gradient: a non-finite input is never hidden
// behind a finite loss (the trainer's non-finite check relies on it). Hence "d2 < clamp ? clamp : d2",
// which keeps NaN, and never "d2 > clamp ? d2 : clamp", which would swallow it.
#pragma once

#include <cmath>
#include <cstdint>

#include "common/host_device.h"

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

// D from the raw Gram-form d2 (off-diagonal entries only).
template <typename T>
SKD_HOST_DEVICE T gm_distance(T d2, bool squared) {
  const T clamped = d2 < T(kDistanceClamp) ? T(kDistanceClamp) : d2;  // NB: NaN stays NaN (see top)
  return squared ? clamped : skd_sqrt(clamped);
}

// dD/dd2 given the raw d2 and D = gm_distance(d2): 0 below the clamp (torch clamp_min: grad
// passes where d2 >= min), NaN where d2 is NaN (the gradient of a NaN loss is NaN, see top).
template <typename T>
SKD_HOST_DEVICE T gm_distance_grad(T d2, T distance, bool squared) {
  const T passes = d2 < T(kDistanceClamp) ? T(0) : (d2 == d2 ? T(1) : d2);
  return squared ? passes : passes * T(0.5) / distance;
}

// Mean of the positive entries, or 1 when there is none (P = 1) or normalisation is off.
template <typename T>
SKD_HOST_DEVICE T gm_normaliser(T positive_sum, T positive_count, GraphNormalize normalize) {
  if (normalize == GraphNormalize::None || !(positive_count > T(0))) return T(1);
  return positive_sum / positive_count;
}

// 1/beta for the smooth-L1 branches (multiplying instead of dividing keeps the loops
// vectorisable); beta = 0 (pure L1) never takes the quadratic branch, so any value works.
template <typename T>
SKD_HOST_DEVICE T gm_inverse_beta(T beta) {
  return beta > T(0) ? T(1) / beta : T(0);
}

// smooth_l1(x) = 0.5 x^2 / beta if |x| < beta else |x| - 0.5 beta (beta = 0: |x|); l2(x) = x^2.
// NB: branch-free selects (both sides computed) so the CPU loops compile to SIMD blends.
template <typename T>
SKD_HOST_DEVICE T gm_pointwise_loss(T x, PointwiseLoss loss, T beta, T inv_beta) {
  const T ax = x < T(0) ? -x : x;
  const T quadratic = T(0.5) * x * x * inv_beta;
  const T linear = ax - T(0.5) * beta;
  const T smooth = ax < beta ? quadratic : linear;
  return loss == PointwiseLoss::L2 ? x * x : smooth;
}

// l'(x): x / beta inside, sign(x) outside (sign(0) = 0, as torch's smooth_l1 / l1 backward); NaN at
// NaN (as torch's smooth_l1 backward; the NaN policy at the top).
template <typename T>
SKD_HOST_DEVICE T gm_pointwise_loss_grad(T x, PointwiseLoss loss, T beta, T inv_beta) {
  const T ax = x < T(0) ? -x : x;
  const T sign = x == x ? (x > T(0) ? T(1) : T(0)) - (x < T(0) ? T(1) : T(0)) : x;
  const T smooth = ax < beta ? x * inv_beta : sign;
  return loss == PointwiseLoss::L2 ? T(2) * x : smooth;
}

// Per-sample constants of the backward: W_ij = dL/dd2_ij
//   = inv_mu_s * (scale * l'(x_ij) - c * [D_s,ij > 0]) * dD/dd2_ij,
// scale = dOut/dL_n / P^2, c = scale * moment / count: the normaliser mu_s's share (0 without it).
struct GmBackwardCoefficients {
  double scale, c, inv_mu_s, inv_mu_t;
};

SKD_HOST_DEVICE GmBackwardCoefficients gm_backward_coefficients(double sample_grad, const double* stats_row,
                                                                int64_t P, GraphNormalize normalize) {
  const double entries = static_cast<double>(P * P > 0 ? P * P : 1);
  const double scale = sample_grad / entries;
  const double count = stats_row[kStatStudentCount];
  const double c = (normalize == GraphNormalize::MeanPositive && count > 0)
                       ? scale * stats_row[kStatLossMoment] / count
                       : 0.0;
  return {scale, c, 1.0 / stats_row[kStatStudentMean], 1.0 / stats_row[kStatTeacherMean]};
}

// W_ij of one off-diagonal pair from its Gram-form squared distances (coefficients above, in T).
template <typename T>
SKD_HOST_DEVICE T gm_pair_weight(T d2_s, T d2_t, bool squared, PointwiseLoss loss, T beta, T inv_beta,
                                 T inv_mu_s, T inv_mu_t, T scale, T c) {
  const T ds = gm_distance(d2_s, squared), dt = gm_distance(d2_t, squared);
  const T x = ds * inv_mu_s - dt * inv_mu_t;
  const T positive = ds > T(0) ? T(1) : T(0);
  return inv_mu_s * (scale * gm_pointwise_loss_grad(x, loss, beta, inv_beta) - c * positive) *
         gm_distance_grad(d2_s, ds, squared);
}

// ---------------------------------------------------------------------------------------------
// The Gram-chunk (matrix-product) path: a group of `samples` graphs, rows i = row0 + r (r < rows)
// against columns j = col0 + q (q < cols); gram[(s * rows + r) * cols + q] = f_i . f_j, computed by
// a batched GEMM (cuBLAS / the CPU BLAS). The elementwise steps below turn a chunk into sums or
// into W; they are written once here and run by a CPU loop or a CUDA kernel.
struct GramChunk {
  int64_t samples, rows, cols, row0, col0, P;
};

enum class ChunkPass : int32_t { Normaliser = 0, Loss = 1 };

// Columns of a chunk's per-row sums (4 doubles per row). Pairs j > i only, each counted for (i, j)
// and (j, i). Normaliser: {sum D_s > 0, count D_s > 0, sum D_t > 0, count D_t > 0};
// Loss: {sum l(x), sum l'(x) D_s/mu_s, 0, 0}.
constexpr int64_t kChunkSumColumns = 4;

template <typename T>
SKD_HOST_DEVICE void gm_add_pair_sums(T d2_s, T d2_t, ChunkPass pass, bool squared, PointwiseLoss loss, T beta,
                                      T inv_beta, T inv_mu_s, T inv_mu_t, double sums[kChunkSumColumns]) {
  const T ds = gm_distance(d2_s, squared), dt = gm_distance(d2_t, squared);
  if (pass == ChunkPass::Normaliser) {
    sums[0] += ds > T(0) ? 2.0 * ds : 0.0;
    sums[1] += ds > T(0) ? 2.0 : 0.0;
    sums[2] += dt > T(0) ? 2.0 * dt : 0.0;
    sums[3] += dt > T(0) ? 2.0 : 0.0;
  } else {
    const T ns = ds * inv_mu_s;
    const T x = ns - dt * inv_mu_t;
    sums[0] += 2.0 * gm_pointwise_loss(x, loss, beta, inv_beta);
    sums[1] += 2.0 * gm_pointwise_loss_grad(x, loss, beta, inv_beta) * ns;
  }
}

}  // namespace skdcore
