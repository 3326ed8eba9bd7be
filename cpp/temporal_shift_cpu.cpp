// CPU kernels of skdcore::temporal_shift and its backward. Layout (N, C, T, V): one (n, c) series is
// a contiguous (T, V) block, so every kernel works row by row (V contiguous values, vectorisable)
// and parallelises over the N*C series; no two threads ever write the same element.
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <limits>
#include <tuple>
#include <vector>

#include "temporal_shift.h"

namespace skdcore {
namespace {

// At least ~16k elements of work per task so small inputs do not pay the thread start-up.
int64_t series_grain(int64_t elements_per_series) {
  return std::max<int64_t>(1, 16384 / std::max<int64_t>(1, elements_per_series));
}

// out_row = w0 * row0 + w1 * row1, where a null row is a frame outside the clip.
template <typename scalar_t>
void blend_rows(const scalar_t* __restrict__ row0, scalar_t w0, const scalar_t* __restrict__ row1,
                scalar_t w1, scalar_t* __restrict__ out, int64_t V) {
  if (row0 && row1) {
    for (int64_t v = 0; v < V; ++v) out[v] = w0 * row0[v] + w1 * row1[v];
  } else if (row0) {
    for (int64_t v = 0; v < V; ++v) out[v] = w0 * row0[v];
  } else if (row1) {
    for (int64_t v = 0; v < V; ++v) out[v] = w1 * row1[v];
  } else {
    std::fill(out, out + V, scalar_t(0));
  }
}

template <typename scalar_t>
void temporal_shift_forward_kernel(const scalar_t* x, const scalar_t* shift, scalar_t* out, int64_t N,
                                   int64_t C, int64_t T, int64_t V, int64_t stride) {
  const int64_t T_out = T / stride;
  at::parallel_for(0, N * C, series_grain(T_out * V), [&](int64_t begin, int64_t end) {
    for (int64_t nc = begin; nc < end; ++nc) {
      const ShiftTaps<scalar_t> taps = shift_taps<scalar_t>(shift[nc % C], T);
      const scalar_t* src = x + nc * T * V;
      scalar_t* dst = out + nc * T_out * V;
      if (taps_undefined(taps)) {
        std::fill(dst, dst + T_out * V, std::numeric_limits<scalar_t>::quiet_NaN());
        continue;
      }
      // Stride 1: the frames whose two taps are both inside form one contiguous span of rows, so
      // blend it as one long vector loop; the rows at the clip edges go through the per-row path.
      int64_t span_begin = 0, span_end = 0;
      if (stride == 1) {
        span_begin = std::min(std::max<int64_t>(0, -taps.first), T_out);
        span_end = std::max(span_begin, std::min(T_out, T - 1 - taps.first));
        if (span_end > span_begin) {
          blend_rows<scalar_t>(src + (span_begin + taps.first) * V, scalar_t(1) - taps.frac,
                               src + (span_begin + taps.first + 1) * V, taps.frac, dst + span_begin * V,
                               (span_end - span_begin) * V);
        }
      }
      for (int64_t t = 0; t < T_out; ++t) {
        if (t == span_begin && span_end > span_begin) t = span_end;
        if (t >= T_out) break;
        const int64_t tau = t * stride + taps.first;
        blend_rows<scalar_t>(frame_inside(tau, T) ? src + tau * V : nullptr, scalar_t(1) - taps.frac,
                             frame_inside(tau + 1, T) ? src + (tau + 1) * V : nullptr, taps.frac,
                             dst + t * V, V);
      }
    }
  });
}

// One pass per (n, c) series, in the order of the output frames: grad_x by scattering each grad row
// to the <= 2 input frames it was read from (the series block is owned by one thread and small
// enough to stay in cache), and grad_shift's partial sum for the series; partials are reduced over
// n in a fixed order afterwards (deterministic).
template <typename scalar_t>
void temporal_shift_backward_kernel(const scalar_t* grad, const scalar_t* x, const scalar_t* shift,
                                    scalar_t* grad_x, scalar_t* grad_shift, int64_t N, int64_t C,
                                    int64_t T, int64_t V, int64_t stride) {
  const int64_t T_out = T / stride;
  std::vector<double> partial(N * C, 0.0);
  at::parallel_for(0, N * C, series_grain(T * V), [&](int64_t begin, int64_t end) {
    // Per-joint accumulators of grad_shift: independent lanes, so the loops vectorise (a single
    // running sum would be a serial dependency chain); summed in double per series.
    std::vector<scalar_t> lanes(V);
    scalar_t* lane = lanes.data();
    for (int64_t nc = begin; nc < end; ++nc) {
      const ShiftTaps<scalar_t> taps = shift_taps<scalar_t>(shift[nc % C], T);
      const scalar_t w0 = scalar_t(1) - taps.frac, w1 = taps.frac;
      const scalar_t* g = grad + nc * T_out * V;
      const scalar_t* src = x + nc * T * V;
      scalar_t* gx = grad_x + nc * T * V;
      if (taps_undefined(taps)) {
        std::fill(gx, gx + T * V, std::numeric_limits<scalar_t>::quiet_NaN());
        partial[nc] = std::numeric_limits<double>::quiet_NaN();
        continue;
      }
      std::fill(gx, gx + T * V, scalar_t(0));
      std::fill(lane, lane + V, scalar_t(0));
      for (int64_t t = 0; t < T_out; ++t) {
        const int64_t tau = t * stride + taps.first;
        const scalar_t* gr = g + t * V;
        if (frame_inside(tau, T)) {
          const scalar_t* here = src + tau * V;
          scalar_t* out = gx + tau * V;
          for (int64_t v = 0; v < V; ++v) {
            out[v] += w0 * gr[v];
            lane[v] -= gr[v] * here[v];
          }
        }
        if (frame_inside(tau + 1, T)) {
          const scalar_t* next = src + (tau + 1) * V;
          scalar_t* out = gx + (tau + 1) * V;
          for (int64_t v = 0; v < V; ++v) {
            out[v] += w1 * gr[v];
            lane[v] += gr[v] * next[v];
          }
        }
      }
      double sum = 0.0;
      for (int64_t v = 0; v < V; ++v) sum += static_cast<double>(lane[v]);
      partial[nc] = sum;
    }
  });
  for (int64_t c = 0; c < C; ++c) {
    double total = 0.0;
    for (int64_t n = 0; n < N; ++n) total += partial[n * C + c];
    grad_shift[c] = static_cast<scalar_t>(total);
  }
}

void forward_cpu(const at::Tensor& x, const at::Tensor& shift, at::Tensor& out, int64_t stride) {
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "temporal_shift_forward_cpu", [&] {
    temporal_shift_forward_kernel<scalar_t>(x.const_data_ptr<scalar_t>(), shift.const_data_ptr<scalar_t>(),
                                            out.mutable_data_ptr<scalar_t>(), x.size(0), x.size(1), x.size(2),
                                            x.size(3), stride);
  });
}

void backward_cpu(const at::Tensor& grad, const at::Tensor& x, const at::Tensor& shift, at::Tensor& grad_x,
                  at::Tensor& grad_shift, int64_t stride) {
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "temporal_shift_backward_cpu", [&] {
    temporal_shift_backward_kernel<scalar_t>(
        grad.const_data_ptr<scalar_t>(), x.const_data_ptr<scalar_t>(), shift.const_data_ptr<scalar_t>(),
        grad_x.mutable_data_ptr<scalar_t>(), grad_shift.mutable_data_ptr<scalar_t>(), x.size(0), x.size(1),
        x.size(2), x.size(3), stride);
  });
}

constexpr TemporalShiftKernels kCpuKernels{c10::kCPU, &forward_cpu, &backward_cpu};

}  // namespace

TORCH_LIBRARY_IMPL(skdcore, CPU, m) { register_temporal_shift<kCpuKernels>(m); }

}  // namespace skdcore
