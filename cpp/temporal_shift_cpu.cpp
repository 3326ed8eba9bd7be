// CPU kernels of skdcore::temporal_shift and its backward. Layout (N, C, T, V): one (n, c) series is
// a contiguous (T, V) block, so every kernel works row by row (V contiguous values, vectorisable)
// and parallelises over the N*C series; no two threads ever write the same element.
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <tuple>
#include <vector>

#include "checks.h"
#include "temporal_shift.h"

namespace skdcore {
namespace {

// At least ~16k elements of work per task so small inputs do not pay the thread start-up.
int64_t series_grain(int64_t elements_per_series) {
  return std::max<int64_t>(1, 16384 / std::max<int64_t>(1, elements_per_series));
}

// out_row = w0 * row0 + w1 * row1, where a null row is a frame outside the clip.
template <typename scalar_t>
void blend_rows(const scalar_t* row0, scalar_t w0, const scalar_t* row1, scalar_t w1, scalar_t* out,
                int64_t V) {
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
      for (int64_t t = 0; t < T_out; ++t) {
        const int64_t tau = t * stride + taps.first;
        blend_rows<scalar_t>(frame_inside(tau, T) ? src + tau * V : nullptr, scalar_t(1) - taps.frac,
                             frame_inside(tau + 1, T) ? src + (tau + 1) * V : nullptr, taps.frac,
                             dst + t * V, V);
      }
    }
  });
}

// grad_x by gathering (each input frame finds the <= 2 output frames that read it) and, per
// series, the partial sum of grad_shift; partials are reduced over n in a fixed order afterwards.
template <typename scalar_t>
void temporal_shift_backward_kernel(const scalar_t* grad, const scalar_t* x, const scalar_t* shift,
                                    scalar_t* grad_x, scalar_t* grad_shift, int64_t N, int64_t C,
                                    int64_t T, int64_t V, int64_t stride) {
  const int64_t T_out = T / stride;
  std::vector<double> partial(N * C, 0.0);
  at::parallel_for(0, N * C, series_grain(T * V), [&](int64_t begin, int64_t end) {
    for (int64_t nc = begin; nc < end; ++nc) {
      const ShiftTaps<scalar_t> taps = shift_taps<scalar_t>(shift[nc % C], T);
      const scalar_t* g = grad + nc * T_out * V;
      const scalar_t* src = x + nc * T * V;
      scalar_t* gx = grad_x + nc * T * V;
      for (int64_t tau = 0; tau < T; ++tau) {
        const int64_t t0 = output_frame_reading(tau, taps.first, 0, stride, T_out);
        const int64_t t1 = output_frame_reading(tau, taps.first, 1, stride, T_out);
        blend_rows<scalar_t>(t0 >= 0 ? g + t0 * V : nullptr, scalar_t(1) - taps.frac,
                             t1 >= 0 ? g + t1 * V : nullptr, taps.frac, gx + tau * V, V);
      }
      double sum = 0.0;
      for (int64_t t = 0; t < T_out; ++t) {
        const int64_t tau = t * stride + taps.first;
        const scalar_t* row0 = frame_inside(tau, T) ? src + tau * V : nullptr;
        const scalar_t* row1 = frame_inside(tau + 1, T) ? src + (tau + 1) * V : nullptr;
        if (!row0 && !row1) continue;
        const scalar_t* gr = g + t * V;
        for (int64_t v = 0; v < V; ++v) {
          const double difference = (row1 ? static_cast<double>(row1[v]) : 0.0) -
                                    (row0 ? static_cast<double>(row0[v]) : 0.0);
          sum += static_cast<double>(gr[v]) * difference;
        }
      }
      partial[nc] = sum;
    }
  });
  for (int64_t c = 0; c < C; ++c) {
    double total = 0.0;
    for (int64_t n = 0; n < N; ++n) total += partial[n * C + c];
    grad_shift[c] = static_cast<scalar_t>(total);
  }
}

at::Tensor temporal_shift_forward_cpu(const at::Tensor& x, const at::Tensor& shift, int64_t stride) {
  constexpr const char* op = "skdcore.temporal_shift";
  check_temporal_shift_args(op, x, shift, stride);
  checks::check_device(op, "x", x, c10::kCPU);
  const at::Tensor x_c = x.contiguous();
  const at::Tensor shift_c = shift.contiguous();
  const int64_t N = x_c.size(0), C = x_c.size(1), T = x_c.size(2), V = x_c.size(3);
  at::Tensor out = at::empty({N, C, T / stride, V}, x_c.options());
  if (out.numel() == 0) return out;
  AT_DISPATCH_FLOATING_TYPES(x_c.scalar_type(), "temporal_shift_forward_cpu", [&] {
    temporal_shift_forward_kernel<scalar_t>(x_c.const_data_ptr<scalar_t>(),
                                            shift_c.const_data_ptr<scalar_t>(),
                                            out.mutable_data_ptr<scalar_t>(), N, C, T, V, stride);
  });
  return out;
}

std::tuple<at::Tensor, at::Tensor> temporal_shift_backward_cpu(const at::Tensor& grad,
                                                               const at::Tensor& x,
                                                               const at::Tensor& shift,
                                                               int64_t stride) {
  constexpr const char* op = "skdcore._temporal_shift_backward";
  check_temporal_shift_args(op, x, shift, stride);
  checks::check_device(op, "x", x, c10::kCPU);
  const int64_t N = x.size(0), C = x.size(1), T = x.size(2), V = x.size(3);
  TORCH_CHECK_VALUE(grad.dim() == 4 && grad.size(0) == N && grad.size(1) == C &&
                        grad.size(2) == T / stride && grad.size(3) == V,
                    op, ": grad must have the output shape (N, C, T // stride, V) = (", N, ", ", C,
                    ", ", T / stride, ", ", V, "), got ", grad.sizes());
  checks::check_same_dtype(op, "grad", grad, "x", x);
  const at::Tensor x_c = x.contiguous();
  const at::Tensor grad_c = grad.contiguous();
  const at::Tensor shift_c = shift.contiguous();
  at::Tensor grad_x = at::zeros_like(x_c);
  at::Tensor grad_shift = at::zeros_like(shift_c);
  if (x_c.numel() == 0) return {grad_x, grad_shift};
  AT_DISPATCH_FLOATING_TYPES(x_c.scalar_type(), "temporal_shift_backward_cpu", [&] {
    temporal_shift_backward_kernel<scalar_t>(
        grad_c.const_data_ptr<scalar_t>(), x_c.const_data_ptr<scalar_t>(),
        shift_c.const_data_ptr<scalar_t>(), grad_x.mutable_data_ptr<scalar_t>(),
        grad_shift.mutable_data_ptr<scalar_t>(), N, C, T, V, stride);
  });
  return {grad_x, grad_shift};
}

}  // namespace

TORCH_LIBRARY_IMPL(skdcore, CPU, m) {
  m.impl("temporal_shift", &temporal_shift_forward_cpu);
  m.impl("_temporal_shift_backward", &temporal_shift_backward_cpu);
}

}  // namespace skdcore
