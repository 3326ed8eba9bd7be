// Per-channel fractional shift in time, shared by the CPU and CUDA kernels. Torch-free: included by
// cuda/temporal_shift.cu.
//
// x: (N, C, T, V), shift: (C,), stride s, T_out = T / s. For channel c with i = floor(shift[c]),
// f = shift[c] - i:
//   out[n, c, t, v] = (1 - f) x[n, c, t*s + i, v] + f x[n, c, t*s + i + 1, v]   (0 outside [0, T))
//   d out / d shift[c] = x[.., t*s + i + 1, ..] - x[.., t*s + i, ..]
//   grad_x[n, c, tau, v] = (1 - f) g[.., t0, ..] + f g[.., t1, ..] where t0*s + i == tau, t1*s + i + 1 == tau
// (the terms whose output frame does not exist are dropped). This is the forward of the Shift-GCN
// "shift" CUDA op along time and the exact adjoint of it.
#pragma once

#include <cmath>
#include <cstdint>

#include "common/host_device.h"

namespace skdcore {

template <typename acc_t>
struct ShiftTaps {
  int64_t first;  // first source frame offset i = floor(shift)
  acc_t frac;     // weight f of frame i + 1
};

// NB: the offset is clamped to [-(T + 2), T + 1] before the integer cast (no overflow, NaN -> clamp):
// beyond that range both taps are outside the clip for every output frame, so the result is the same.
template <typename acc_t>
SKD_HOST_DEVICE ShiftTaps<acc_t> shift_taps(acc_t shift, int64_t T) {
  acc_t base = skd_floor(shift);
  const acc_t low = static_cast<acc_t>(-(T + 2)), high = static_cast<acc_t>(T + 1);
  if (!(base >= low)) base = low;
  if (base > high) base = high;
  return {static_cast<int64_t>(base), shift - skd_floor(shift)};
}

SKD_HOST_DEVICE bool frame_inside(int64_t tau, int64_t T) { return tau >= 0 && tau < T; }

// NaN policy: a non-finite shift (NaN, +-inf: its fraction shift - floor(shift) is NaN) makes its
// channel's output and gradients NaN, as in the reference (0 * NaN = NaN there), instead of the
// clamp above silently reading outside the clip (zeros).
// NB: x != x (no build uses -ffinite-math-only; nvcc's --use_fast_math keeps NaN compares).
template <typename acc_t>
SKD_HOST_DEVICE bool taps_undefined(const ShiftTaps<acc_t>& taps) {
  return taps.frac != taps.frac;
}

// The output frame t with t * stride + first + tap == tau (tap 0 or 1), or -1 if there is none.
SKD_HOST_DEVICE int64_t output_frame_reading(int64_t tau, int64_t first, int64_t tap, int64_t stride,
                                             int64_t T_out) {
  const int64_t d = tau - first - tap;
  if (d < 0 || d % stride != 0) return -1;
  const int64_t t = d / stride;
  return t < T_out ? t : -1;
}

}  // namespace skdcore
