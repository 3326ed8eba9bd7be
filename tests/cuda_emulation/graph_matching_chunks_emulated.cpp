// Runs cuda/graph_matching_chunks.cu's launchers on the CPU (cuda_emulation.h) and compares them
// with naive double loops over the same Gram chunk: per-row sums of both forward passes and the
// backward's W and row sums, for every option combination, chunks off the diagonal and across it,
// float and double, and with a NaN/Inf feature (its entries come out NaN). Exit code 0 = all match.
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "graph_matching_chunks.cu"

using namespace skdcore;

struct Case {
  int64_t samples, rows, cols, row0, col0, P, C;
};

template <typename T>
bool close(double got, double want, const char* what, const Case& k, int64_t index) {
  const double tol = sizeof(T) == 4 ? 2e-4 : 1e-10;
  if (std::fabs(got - want) <= tol * (1 + std::fabs(want))) return true;
  if ((std::isnan(got) && std::isnan(want)) || got == want) return true;  // NaN policy: NaN/Inf in, NaN/Inf out
  std::printf("MISMATCH %s (samples=%ld rows=%ld cols=%ld row0=%ld col0=%ld P=%ld) at %ld: %g vs %g\n", what,
              (long)k.samples, (long)k.rows, (long)k.cols, (long)k.row0, (long)k.col0, (long)k.P, (long)index,
              got, want);
  return false;
}

// bad != 0: feature 0 of node row0 (sample 0) becomes bad (NaN/Inf): its entries must come out NaN.
template <typename T>
bool check(const Case& k, GraphMatchingOptions options, std::mt19937& rng, T bad = T(0)) {
  std::uniform_real_distribution<double> dist(-1.0, 1.0);
  const int64_t S = k.samples, P = k.P, C = k.C;
  std::vector<T> fs(S * P * C), ft(S * P * C);
  for (auto& v : fs) v = static_cast<T>(dist(rng));
  for (auto& v : ft) v = static_cast<T>(dist(rng));
  // Duplicate nodes: node 1 repeats node 0 (distance below the clamp: gradient 0).
  for (int64_t s = 0; s < S; ++s)
    for (int64_t c = 0; c < C; ++c) fs[(s * P + 1) * C + c] = fs[(s * P + 0) * C + c];
  if (bad != T(0)) fs[k.row0 * C] = bad;
  auto dot = [&](const std::vector<T>& f, int64_t s, int64_t i, int64_t j) {
    double acc = 0;
    for (int64_t c = 0; c < C; ++c) acc += (double)f[(s * P + i) * C + c] * (double)f[(s * P + j) * C + c];
    return acc;
  };
  std::vector<T> gs(S * k.rows * k.cols), gt(gs.size()), ns(S * P), nt(S * P);
  for (int64_t s = 0; s < S; ++s) {
    for (int64_t i = 0; i < P; ++i) {
      ns[s * P + i] = static_cast<T>(dot(fs, s, i, i));
      nt[s * P + i] = static_cast<T>(dot(ft, s, i, i));
    }
    for (int64_t r = 0; r < k.rows; ++r)
      for (int64_t q = 0; q < k.cols; ++q) {
        gs[(s * k.rows + r) * k.cols + q] = static_cast<T>(dot(fs, s, k.row0 + r, k.col0 + q));
        gt[(s * k.rows + r) * k.cols + q] = static_cast<T>(dot(ft, s, k.row0 + r, k.col0 + q));
      }
  }
  std::vector<double> stats(S * kStatsColumns), sample_grad(S);
  for (int64_t s = 0; s < S; ++s) {
    stats[s * kStatsColumns + kStatStudentMean] = 0.5 + 0.1 * s;
    stats[s * kStatsColumns + kStatTeacherMean] = 0.7;
    stats[s * kStatsColumns + kStatStudentCount] = static_cast<double>(P * (P - 1));
    stats[s * kStatsColumns + kStatLossMoment] = 3.0 - s;
    sample_grad[s] = 1.0 + s;
  }
  const bool squared = options.distance == GraphDistance::SquaredEuclidean;
  const double beta = options.beta, inv_beta = gm_inverse_beta(beta);
  const GramChunk chunk{S, k.rows, k.cols, k.row0, k.col0, P};
  const cuda::ChunkInputs<T> in{gs.data(), gt.data(), ns.data(), nt.data(), stats.data()};
  bool ok = true;
  for (ChunkPass pass : {ChunkPass::Normaliser, ChunkPass::Loss}) {
    std::vector<double> got(S * k.rows * kChunkSumColumns, -1.0);
    ok &= cuda::graph_matching_chunk_sums<T>(in, chunk, options, pass, got.data(), nullptr) == cudaSuccess;
    for (int64_t s = 0; s < S; ++s)
      for (int64_t r = 0; r < k.rows; ++r) {
        const double* st = stats.data() + s * kStatsColumns;
        double want[kChunkSumColumns] = {0, 0, 0, 0};
        const int64_t i = k.row0 + r;
        for (int64_t q = 0; q < k.cols; ++q) {
          const int64_t j = k.col0 + q;
          if (j <= i) continue;
          const double g_s = gs[(s * k.rows + r) * k.cols + q], g_t = gt[(s * k.rows + r) * k.cols + q];
          const double ds = gm_distance<double>((double)ns[s * P + i] + ns[s * P + j] - 2 * g_s, squared);
          const double dt = gm_distance<double>((double)nt[s * P + i] + nt[s * P + j] - 2 * g_t, squared);
          if (pass == ChunkPass::Normaliser) {
            if (ds > 0) want[0] += 2 * ds, want[1] += 2;  // NB: a NaN distance is not positive
            if (dt > 0) want[2] += 2 * dt, want[3] += 2;
          } else {
            const double x = ds / st[kStatStudentMean] - dt / st[kStatTeacherMean];
            want[0] += 2 * gm_pointwise_loss<double>(x, options.loss, beta, inv_beta);
            want[1] += 2 * gm_pointwise_loss_grad<double>(x, options.loss, beta, inv_beta) * ds / st[kStatStudentMean];
          }
        }
        for (int c = 0; c < kChunkSumColumns; ++c) {
          const int64_t index = (s * k.rows + r) * kChunkSumColumns + c;
          ok &= close<T>(got[index], want[c], pass == ChunkPass::Loss ? "loss sums" : "normaliser sums", k, index);
        }
      }
  }
  // Backward: W written over a copy of gram_s (in place, as the driver calls it).
  std::vector<T> w = gs, rowsum(S * k.rows, T(-1));
  cuda::ChunkInputs<T> in_place = in;
  in_place.gram_s = w.data();
  ok &= cuda::graph_matching_chunk_weights<T>(in_place, sample_grad.data(), chunk, options, w.data(),
                                              rowsum.data(), nullptr) == cudaSuccess;
  for (int64_t s = 0; s < S; ++s) {
    const double* st = stats.data() + s * kStatsColumns;
    const GmBackwardCoefficients co = gm_backward_coefficients(sample_grad[s], st, P, options.normalize);
    for (int64_t r = 0; r < k.rows; ++r) {
      const int64_t i = k.row0 + r;
      double want_rowsum = 0;
      for (int64_t q = 0; q < k.cols; ++q) {
        const int64_t j = k.col0 + q, index = (s * k.rows + r) * k.cols + q;
        double want = 0;
        if (j != i) {
          const double d2s = (double)ns[s * P + i] + ns[s * P + j] - 2.0 * gs[index];
          const double d2t = (double)nt[s * P + i] + nt[s * P + j] - 2.0 * gt[index];
          const double ds = gm_distance<double>(d2s, squared), dt = gm_distance<double>(d2t, squared);
          const double x = ds * co.inv_mu_s - dt * co.inv_mu_t;
          want = co.inv_mu_s * (co.scale * gm_pointwise_loss_grad<double>(x, options.loss, beta, inv_beta) - co.c) *
                 gm_distance_grad<double>(d2s, ds, squared);
        }
        want_rowsum += want;
        ok &= close<T>(w[index], want, "W", k, index);
      }
      ok &= close<T>(rowsum[s * k.rows + r], want_rowsum, "rowsum", k, s * k.rows + r);
    }
  }
  if (bad != T(0) && !std::isnan((double)rowsum[0])) {
    std::printf("MISMATCH NaN policy: a bad feature (%g) in row %ld left W's row sum finite\n", (double)bad,
                (long)k.row0);
    ok = false;
  }
  return ok;
}

int main() {
  std::mt19937 rng(7);
  const Case cases[] = {
      {2, 5, 9, 0, 0, 9, 6},    // whole matrix in one chunk (rows 0..4, all columns)
      {2, 4, 6, 5, 5, 11, 3},   // upper band of a later row chunk (forward's recomputed sweeps)
      {1, 3, 13, 10, 0, 13, 4}, // last rows, all columns (backward)
      {3, 1, 200, 0, 0, 200, 2},// a row longer than the block (threads stride over columns)
  };
  bool ok = true;
  for (const Case& k : cases)
    for (int d = 0; d < 2; ++d)
      for (int l = 0; l < 2; ++l)
        for (int n = 0; n < 2; ++n) {
          GraphMatchingOptions options{static_cast<GraphDistance>(d), static_cast<PointwiseLoss>(l), 0.3,
                                       static_cast<GraphNormalize>(n), LossReduction::Mean};
          ok &= check<float>(k, options, rng);
          ok &= check<double>(k, options, rng);
        }
  const GraphMatchingOptions skd{GraphDistance::Euclidean, PointwiseLoss::SmoothL1, 1.0, GraphNormalize::MeanPositive,
                                 LossReduction::Mean};
  for (const Case& k : cases)
    for (double bad : {NAN, INFINITY}) {
      ok &= check<float>(k, skd, rng, static_cast<float>(bad));
      ok &= check<double>(k, skd, rng, bad);
    }
  std::printf(ok ? "all match\n" : "FAILED\n");
  return ok ? 0 : 1;
}
