// Runs cuda/graph_matching.cu's fused launchers (the CUDA op's default path) on the CPU
// (cuda_emulation.h) and compares them with a naive double computation of the same loss: per-sample
// losses, the saved statistics, and the student gradient, for both feature layouts, every
// distance/loss/normalisation, several 32-node tiles with a remainder, float and double; and the NaN
// policy (a NaN/Inf feature gives a NaN loss and gradient for its sample only).
// Exit code 0 = all match.
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "graph_matching.cu"

using namespace skdcore;

struct Expected {
  std::vector<double> per_sample, stats, grad;  // grad in the features' layout
};

// Naive loss and gradient of N graphs of P nodes (node p, channel c at layout offsets).
template <typename T>
Expected naive(const std::vector<T>& fs, const std::vector<T>& ft, const cuda::GraphLayout& g,
               const GraphMatchingOptions& o, const std::vector<double>& sample_grad) {
  const bool squared = o.distance == GraphDistance::SquaredEuclidean;
  const double beta = o.beta, inv_beta = gm_inverse_beta(beta);
  auto at = [&](const std::vector<T>& f, int64_t n, int64_t p, int64_t c) {
    return (double)f[n * g.P * g.C + p * g.node_stride + c * g.channel_stride];
  };
  auto d2 = [&](const std::vector<T>& f, int64_t n, int64_t i, int64_t j) {
    double ni = 0, nj = 0, dot = 0;
    for (int64_t c = 0; c < g.C; ++c) {
      ni += at(f, n, i, c) * at(f, n, i, c), nj += at(f, n, j, c) * at(f, n, j, c), dot += at(f, n, i, c) * at(f, n, j, c);
    }
    return ni + nj - 2 * dot;  // the Gram form, as the kernels
  };
  Expected e{std::vector<double>(g.N), std::vector<double>(g.N * kStatsColumns), std::vector<double>(fs.size(), 0.0)};
  for (int64_t n = 0; n < g.N; ++n) {
    double sum_s = 0, sum_t = 0, count = 0;
    for (int64_t i = 0; i < g.P; ++i)
      for (int64_t j = 0; j < g.P; ++j)
        if (i != j) sum_s += gm_distance(d2(fs, n, i, j), squared), sum_t += gm_distance(d2(ft, n, i, j), squared), ++count;
    double* st = e.stats.data() + n * kStatsColumns;
    st[kStatStudentMean] = gm_normaliser(sum_s, count, o.normalize);
    st[kStatTeacherMean] = gm_normaliser(sum_t, count, o.normalize);
    st[kStatStudentCount] = count;
    double loss = 0, moment = 0;
    for (int64_t i = 0; i < g.P; ++i)
      for (int64_t j = 0; j < g.P; ++j) {
        if (i == j) continue;
        const double ns = gm_distance(d2(fs, n, i, j), squared) / st[kStatStudentMean];
        const double x = ns - gm_distance(d2(ft, n, i, j), squared) / st[kStatTeacherMean];
        loss += gm_pointwise_loss(x, o.loss, beta, inv_beta);
        moment += gm_pointwise_loss_grad(x, o.loss, beta, inv_beta) * ns;
      }
    st[kStatLossMoment] = moment;
    e.per_sample[n] = loss / double(g.P * g.P);
    const GmBackwardCoefficients k = gm_backward_coefficients(sample_grad[n], st, g.P, o.normalize);
    for (int64_t i = 0; i < g.P; ++i)
      for (int64_t j = 0; j < g.P; ++j) {
        if (i == j) continue;
        const double w = gm_pair_weight(d2(fs, n, i, j), d2(ft, n, i, j), squared, o.loss, beta, inv_beta,
                                        k.inv_mu_s, k.inv_mu_t, k.scale, k.c);
        for (int64_t c = 0; c < g.C; ++c)
          e.grad[n * g.P * g.C + i * g.node_stride + c * g.channel_stride] += 4 * w * (at(fs, n, i, c) - at(fs, n, j, c));
      }
  }
  return e;
}

// |got - want| <= tol (|want| + scale); tol by the kernels' precision (got may be their float64 outputs).
template <typename T>
bool close(const std::vector<T>& got, const std::vector<double>& want, const char* what, double scale, double tol) {
  for (size_t i = 0; i < want.size(); ++i) {
    if (!(std::fabs((double)got[i] - want[i]) <= tol * (std::fabs(want[i]) + scale))) {
      std::printf("MISMATCH %s at %zu: %g vs %g\n", what, i, (double)got[i], want[i]);
      return false;
    }
  }
  return true;
}

template <typename T>
bool check(int64_t N, int64_t P, int64_t C, bool channel_major, GraphMatchingOptions o, std::mt19937& rng) {
  std::uniform_real_distribution<double> dist(-1.0, 1.0);
  const cuda::GraphLayout g{N, P, C, channel_major ? 1 : C, channel_major ? P : 1};
  std::vector<T> fs(N * P * C), ft(N * P * C);
  for (auto& v : fs) v = static_cast<T>(dist(rng));
  for (auto& v : ft) v = static_cast<T>(2 * dist(rng));
  std::vector<double> sample_grad(N);
  for (int64_t n = 0; n < N; ++n) sample_grad[n] = 0.5 + n;
  const Expected e = naive(fs, ft, g, o, sample_grad);
  std::vector<double> workspace(cuda::graph_matching_workspace_size(g)), per_sample(N), stats(N * kStatsColumns);
  std::vector<T> grad(fs.size(), T(0));
  bool ok = cuda::graph_matching_forward<T>(fs.data(), ft.data(), g, o, workspace.data(), per_sample.data(),
                                            stats.data(), nullptr) == cudaSuccess;
  ok &= cuda::graph_matching_backward<T>(sample_grad.data(), fs.data(), ft.data(), stats.data(), g, o,
                                         workspace.data(), grad.data(), nullptr) == cudaSuccess;
  double grad_scale = 0;
  for (double v : e.grad) grad_scale = std::max(grad_scale, std::fabs(v));
  const double tol = sizeof(T) == 4 ? 2e-4 : 1e-9;
  ok = ok && close(per_sample, e.per_sample, "per-sample loss", 0, tol) && close(stats, e.stats, "stats", 0, tol) &&
       close(grad, e.grad, "grad", grad_scale, tol);
  if (!ok)
    std::printf("  in N=%ld P=%ld C=%ld %s distance=%d loss=%d normalize=%d %s\n", (long)N, (long)P, (long)C,
                channel_major ? "(N, C, T, V)" : "(N, P, C)", (int)o.distance, (int)o.loss, (int)o.normalize,
                sizeof(T) == 4 ? "float" : "double");
  return ok;
}

// NaN policy (the reference's): a NaN or Inf feature of sample 0 (student or teacher) makes its loss
// and its gradient NaN; sample 1 stays finite.
template <typename T>
bool check_nan_policy(T bad, bool in_teacher, bool channel_major, std::mt19937& rng) {
  std::uniform_real_distribution<double> dist(-1.0, 1.0);
  const int64_t N = 2, P = 40, C = 6;
  const cuda::GraphLayout g{N, P, C, channel_major ? 1 : C, channel_major ? P : 1};
  std::vector<T> fs(N * P * C), ft(N * P * C);
  for (auto& v : fs) v = static_cast<T>(dist(rng));
  for (auto& v : ft) v = static_cast<T>(dist(rng));
  (in_teacher ? ft : fs)[3 * g.node_stride + 2 * g.channel_stride] = bad;  // sample 0, node 3, channel 2
  const GraphMatchingOptions o{GraphDistance::Euclidean, PointwiseLoss::SmoothL1, 1.0, GraphNormalize::MeanPositive,
                               LossReduction::Mean};
  std::vector<double> workspace(cuda::graph_matching_workspace_size(g)), per_sample(N), stats(N * kStatsColumns);
  std::vector<double> sample_grad{1.0, 1.0};
  std::vector<T> grad(fs.size(), T(0));
  bool ok = cuda::graph_matching_forward<T>(fs.data(), ft.data(), g, o, workspace.data(), per_sample.data(),
                                            stats.data(), nullptr) == cudaSuccess;
  ok &= cuda::graph_matching_backward<T>(sample_grad.data(), fs.data(), ft.data(), stats.data(), g, o,
                                         workspace.data(), grad.data(), nullptr) == cudaSuccess;
  bool grad0_nan = false, grad1_finite = true;
  for (int64_t k = 0; k < P * C; ++k) grad0_nan |= std::isnan((double)grad[k]);
  for (int64_t k = P * C; k < N * P * C; ++k) grad1_finite &= std::isfinite((double)grad[k]);
  ok &= std::isnan(per_sample[0]) && std::isfinite(per_sample[1]) && grad0_nan && grad1_finite;
  if (!ok)
    std::printf("MISMATCH NaN policy: bad=%g in %s %s: loss %g %g, grad NaN in sample 0: %d, sample 1 finite: %d\n",
                (double)bad, in_teacher ? "teacher" : "student", sizeof(T) == 4 ? "float" : "double", per_sample[0],
                per_sample[1], (int)grad0_nan, (int)grad1_finite);
  return ok;
}

int main() {
  std::mt19937 rng(3);
  bool ok = true;
  for (int d = 0; d < 2; ++d)
    for (int l = 0; l < 2; ++l)
      for (int n = 0; n < 2; ++n) {
        const GraphMatchingOptions o{static_cast<GraphDistance>(d), static_cast<PointwiseLoss>(l), 0.4,
                                     static_cast<GraphNormalize>(n), LossReduction::Mean};
        ok &= check<double>(2, 45, 37, (d + l + n) % 2 == 0, o, rng);  // 2 tiles of rows, 2 of channels
      }
  const GraphMatchingOptions skd{GraphDistance::Euclidean, PointwiseLoss::SmoothL1, 1.0, GraphNormalize::MeanPositive,
                                 LossReduction::Mean};
  ok &= check<float>(2, 70, 20, true, skd, rng);
  ok &= check<float>(1, 33, 5, false, skd, rng);
  for (double bad : {NAN, INFINITY, -INFINITY})
    for (bool in_teacher : {false, true}) {
      ok &= check_nan_policy<float>(static_cast<float>(bad), in_teacher, in_teacher, rng);
      ok &= check_nan_policy<double>(bad, in_teacher, !in_teacher, rng);
    }
  std::printf(ok ? "all match\n" : "FAILED\n");
  return ok ? 0 : 1;
}
