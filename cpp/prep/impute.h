// NaN-aware centred moving-window mean imputation along time (SKD's low-quality data, step 3).
// Torch-free: the nanobind module skdcore._prep calls it on numpy arrays in DataLoader workers.
#pragma once

#include <cmath>
#include <cstdint>

namespace skdcore {
namespace prep {

// Frames t-window..t+window clipped to [0, T-1]. NB: the window is clamped to T first, so a huge
// one (2**63-1: "the whole clip") cannot overflow t + window.
struct FrameRange {
  int64_t lo, hi;
};
inline FrameRange window_frames(int64_t t, int64_t T, int64_t window) {
  const int64_t w = window < T ? window : T;
  return {t - w < 0 ? 0 : t - w, t + w >= T ? T - 1 : t + w};
}

// x, out: contiguous (outer, T, inner). For every series x[o, :, i], a NaN at frame t becomes the
// mean of the non-NaN values among frames t-window..t+window (t excluded; frames beyond the ends
// count as missing). Means read the input series, so an imputed value never feeds another.
// Where no value is available, out stays NaN. Non-NaN values are copied unchanged.
template <typename scalar_t>
void impute_window_mean(const scalar_t* x, scalar_t* out, int64_t outer, int64_t T, int64_t inner,
                        int64_t window) {
  for (int64_t o = 0; o < outer; ++o) {
    const scalar_t* series = x + o * T * inner;
    scalar_t* result = out + o * T * inner;
    for (int64_t t = 0; t < T; ++t) {
      const auto [lo, hi] = window_frames(t, T, window);
      for (int64_t i = 0; i < inner; ++i) {
        const scalar_t value = series[t * inner + i];
        if (!std::isnan(value)) {
          result[t * inner + i] = value;
          continue;
        }
        double sum = 0.0;
        int64_t count = 0;
        for (int64_t s = lo; s <= hi; ++s) {
          const scalar_t neighbour = series[s * inner + i];
          if (!std::isnan(neighbour)) {  // frame t itself is NaN here, so it never counts
            sum += static_cast<double>(neighbour);
            ++count;
          }
        }
        result[t * inner + i] = count > 0 ? static_cast<scalar_t>(sum / static_cast<double>(count))
                                          : value;
      }
    }
  }
}

}  // namespace prep
}  // namespace skdcore
