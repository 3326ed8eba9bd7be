// Runs cuda/temporal_shift.cu's launchers on the CPU (cuda_emulation.h) and compares them with
// naive double loops written from the op's definition (python/skdcore/reference/temporal_shift.py):
// the forward; grad_x by scattering every output frame back to the two frames it read (the
// adjoint, not the kernel's gather); grad_shift. Strides 1, 2 (odd T too), 3 and one above T;
// integer, fractional and negative shifts and shifts that leave the clip (one tap or both, far
// enough to be clamped); non-finite shifts (NaN policy: that channel's output and gradients are
// NaN); sizes with block remainders and per-channel reductions longer than a block; float and
// double. Exit code 0 = all match.
#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <vector>

#include "temporal_shift.cu"

using namespace skdcore;

struct Case {
  int64_t N, C, T, V, stride;
};

// got[i] vs want[i] within tol * (1 + scale[i]); scale: the sum of the magnitudes that went into
// want[i], so a long float reduction gets its share of rounding and nothing more.
template <typename T>
bool compare(const char* what, const Case& k, const std::vector<T>& got, const std::vector<double>& want,
             const std::vector<double>& scale) {
  const double tol = sizeof(T) == 4 ? 1e-5 : 1e-12;
  int reported = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    const double g = static_cast<double>(got[i]);
    if (std::isnan(want[i]) ? std::isnan(g) : std::fabs(g - want[i]) <= tol * (1 + scale[i])) continue;
    // (an unexpected NaN, e.g. an element never written, fails)
    if (reported++ < 5) {
      std::printf("MISMATCH %s<%s> (N=%ld C=%ld T=%ld V=%ld stride=%ld) at %zu: %.9g vs %.9g\n", what,
                  sizeof(T) == 4 ? "float" : "double", (long)k.N, (long)k.C, (long)k.T, (long)k.V,
                  (long)k.stride, i, g, want[i]);
    }
  }
  return reported == 0;
}

// Shifts of every kind for a clip of T frames; channel c gets shifts[c % size].
std::vector<double> shift_kinds(int64_t T) {
  const double t = static_cast<double>(T);
  return {0.0,    1.0,      -2.0,          2.5,          -1.25,         0.75,  -0.3, 3.999,
          t - 0.5,  // only the first tap inside for the last output frames
          -t + 0.5,  // only the second tap inside for the first output frame
          t + 3.5, -(t + 7.25),  // both taps outside (the second clamped in shift_taps)
          1e6, -1e6,             // far outside: clamped before the integer cast
          std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity()};
}

template <typename T>
bool check(const Case& k, std::mt19937& rng) {
  std::uniform_real_distribution<double> dist(-1.0, 1.0);
  const int64_t N = k.N, C = k.C, Tn = k.T, V = k.V, s = k.stride, T_out = Tn / s;
  std::vector<T> x(N * C * Tn * V), grad(N * C * T_out * V), shift(C);
  for (auto& v : x) v = static_cast<T>(dist(rng));
  for (auto& v : grad) v = static_cast<T>(dist(rng));
  const std::vector<double> kinds = shift_kinds(Tn);
  for (int64_t c = 0; c < C; ++c) shift[c] = static_cast<T>(kinds[c % kinds.size()]);

  // Naive: frame i = floor(shift) with weight 1 - f, frame i + 1 with weight f, 0 outside [0, T).
  std::vector<double> out(grad.size(), 0.0), out_scale(grad.size(), 0.0);
  std::vector<double> grad_x(x.size(), 0.0), grad_x_scale(x.size(), 0.0);
  std::vector<double> grad_shift(C, 0.0), grad_shift_scale(C, 0.0);
  auto at = [&](int64_t n, int64_t c, int64_t tau, int64_t v) { return ((n * C + c) * Tn + tau) * V + v; };
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c) {
      const double sh = static_cast<double>(shift[c]);
      if (!std::isfinite(sh)) {  // NaN policy: the whole channel's output and gradients are NaN
        const double nan = std::numeric_limits<double>::quiet_NaN();
        for (int64_t e = 0; e < T_out * V; ++e) out[(n * C + c) * T_out * V + e] = nan;
        for (int64_t e = 0; e < Tn * V; ++e) grad_x[(n * C + c) * Tn * V + e] = nan;
        grad_shift[c] = nan;
        continue;
      }
      const int64_t i = static_cast<int64_t>(std::floor(sh));
      const double f = sh - std::floor(sh);
      for (int64_t t = 0; t < T_out; ++t)
        for (int64_t v = 0; v < V; ++v) {
          const int64_t o = ((n * C + c) * T_out + t) * V + v;
          const double g = static_cast<double>(grad[o]);
          const int64_t tau = t * s + i;
          double x0 = 0, x1 = 0;
          if (tau >= 0 && tau < Tn) {
            x0 = static_cast<double>(x[at(n, c, tau, v)]);
            grad_x[at(n, c, tau, v)] += (1 - f) * g;
            grad_x_scale[at(n, c, tau, v)] += std::fabs((1 - f) * g);
          }
          if (tau + 1 >= 0 && tau + 1 < Tn) {
            x1 = static_cast<double>(x[at(n, c, tau + 1, v)]);
            grad_x[at(n, c, tau + 1, v)] += f * g;
            grad_x_scale[at(n, c, tau + 1, v)] += std::fabs(f * g);
          }
          out[o] = (1 - f) * x0 + f * x1;
          out_scale[o] = std::fabs((1 - f) * x0) + std::fabs(f * x1);
          grad_shift[c] += g * (x1 - x0);
          grad_shift_scale[c] += std::fabs(g) * (std::fabs(x1) + std::fabs(x0));
        }
    }

  // Outputs start as NaN so an element the kernels never write shows up.
  const T nan = std::numeric_limits<T>::quiet_NaN();
  std::vector<T> got_out(out.size(), nan), got_grad_x(grad_x.size(), nan), got_grad_shift(C, nan);
  bool ok = cuda::temporal_shift_forward<T>(x.data(), shift.data(), got_out.data(), N, C, Tn, V, s, nullptr) ==
            cudaSuccess;
  ok &= cuda::temporal_shift_backward<T>(grad.data(), x.data(), shift.data(), got_grad_x.data(),
                                         got_grad_shift.data(), N, C, Tn, V, s, nullptr) == cudaSuccess;
  ok &= compare("forward", k, got_out, out, out_scale);
  ok &= compare("grad_x", k, got_grad_x, grad_x, grad_x_scale);
  ok &= compare("grad_shift", k, got_grad_shift, grad_shift, grad_shift_scale);
  return ok;
}

int main() {
  std::mt19937 rng(11);
  const Case cases[] = {
      {2, 16, 9, 7, 1},    // 2016 outputs: 8 blocks, the last one partial
      {3, 16, 11, 25, 2},  // odd T with stride 2 (T_out = 5); grad_shift reduces 375 > 256 terms
      {2, 16, 10, 3, 3},   // stride 3 (frames 9 never read with shift 0)
      {1, 16, 1, 5, 1},    // a one-frame clip
      {2, 16, 3, 4, 4},    // stride above T: no output frame (T_out = 0), grad_x 0 (NaN channels: NaN)
  };
  bool ok = true;
  for (const Case& k : cases) {
    ok &= check<float>(k, rng);
    ok &= check<double>(k, rng);
  }
  std::printf(ok ? "all match\n" : "FAILED\n");
  return ok ? 0 : 1;
}
