// SKD's reference low-quality clip in one pass (steps 1-4 of "LQ generation" in docs/method.md):
// occlusion by a given mask -> zero coordinates count as missing -> NaN-aware centred window mean
// over time from the pre-imputation values -> still-missing values become 0.
// Torch-free and branch-free in the inner loop (the missing pattern is random, so branches on it
// mispredict about half the time); the joint axis is innermost and contiguous, so it vectorises.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "impute.h"

namespace skdcore {
namespace prep {

// x, out: contiguous (C, T, inner) with inner = V * M; mask: contiguous (T, inner), nonzero where
// the joint is occluded (all C coordinates zeroed). A coordinate is missing when it is occluded,
// exactly 0 (the reference turns every 0 into NaN) or NaN. A missing coordinate at frame t becomes
// the mean of the present ones among frames t-window..t+window (frames beyond the ends count as
// missing; frame t is missing itself so it never counts), accumulated in double in ascending frame
// order; with none present it becomes 0. Present coordinates are copied unchanged.
template <typename scalar_t>
void skd_occlude_impute(const scalar_t* x, const uint8_t* mask, scalar_t* out, int64_t C, int64_t T,
                        int64_t inner, int64_t window) {
  std::vector<double> value(static_cast<size_t>(T * inner));  // 0 where missing
  std::vector<double> present(static_cast<size_t>(T * inner));  // 1 / 0
  std::vector<double> sum(static_cast<size_t>(inner));
  std::vector<double> count(static_cast<size_t>(inner));
  for (int64_t c = 0; c < C; ++c) {
    const scalar_t* xc = x + c * T * inner;
    scalar_t* oc = out + c * T * inner;
    for (int64_t k = 0; k < T * inner; ++k) {
      const double v = mask[k] ? 0.0 : static_cast<double>(xc[k]);
      // NB: NaN != NaN, so `v == v` is false for NaN; zero and NaN are both missing.
      const bool ok = (v != 0.0) && (v == v);
      present[k] = ok ? 1.0 : 0.0;
      value[k] = ok ? v : 0.0;
    }
    for (int64_t t = 0; t < T; ++t) {
      const auto [lo, hi] = window_frames(t, T, window);
      for (int64_t i = 0; i < inner; ++i) {
        sum[i] = 0.0;
        count[i] = 0.0;
      }
      for (int64_t s = lo; s <= hi; ++s) {
        const double* vs = value.data() + s * inner;
        const double* ps = present.data() + s * inner;
        for (int64_t i = 0; i < inner; ++i) {
          sum[i] += vs[i];
          count[i] += ps[i];
        }
      }
      const double* vt = value.data() + t * inner;
      const double* pt = present.data() + t * inner;
      for (int64_t i = 0; i < inner; ++i) {
        const double mean = count[i] > 0.0 ? sum[i] / (count[i] > 0.0 ? count[i] : 1.0) : 0.0;
        oc[t * inner + i] = static_cast<scalar_t>(pt[i] > 0.0 ? vt[i] : mean);
      }
    }
  }
}

}  // namespace prep
}  // namespace skdcore
