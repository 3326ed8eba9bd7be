// CUDA kernels of skdcore::temporal_shift. The op is memory-bound (2 reads + 1 write per element), so
// the forward and grad_x kernels are one thread per output element with coalesced V-contiguous
// access; grad_shift is one block per channel reducing over (N, T_out, V) in shared memory.
#include <algorithm>

#include "temporal_shift.cuh"
#include "accumulate.cuh"
#include "launch.cuh"

namespace skdcore {
namespace cuda {
namespace {

constexpr int kThreads = 256;
constexpr int64_t kMaxBlocks = 65535;

unsigned int grid_for(int64_t elements) {
  return static_cast<unsigned int>(std::min<int64_t>((elements + kThreads - 1) / kThreads, kMaxBlocks));
}

template <typename scalar_t>
__global__ void temporal_shift_forward_kernel(const scalar_t* __restrict__ x,
                                              const scalar_t* __restrict__ shift,
                                              scalar_t* __restrict__ out, int64_t C, int64_t T,
                                              int64_t V, int64_t stride, int64_t T_out, int64_t total) {
  using acc_t = typename Accumulate<scalar_t>::type;
  for (int64_t idx = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; idx < total;
       idx += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t v = idx % V;
    const int64_t t = (idx / V) % T_out;
    const int64_t nc = idx / (V * T_out);
    const ShiftTaps<acc_t> taps = shift_taps<acc_t>(static_cast<acc_t>(shift[nc % C]), T);
    const scalar_t* src = x + nc * T * V + v;
    const int64_t tau = t * stride + taps.first;
    acc_t value = 0;
    if (frame_inside(tau, T)) value += (acc_t(1) - taps.frac) * static_cast<acc_t>(src[tau * V]);
    if (frame_inside(tau + 1, T)) value += taps.frac * static_cast<acc_t>(src[(tau + 1) * V]);
    if (taps_undefined(taps)) value = taps.frac;  // NaN policy (temporal_shift_math.h)
    out[idx] = static_cast<scalar_t>(value);
  }
}

template <typename scalar_t>
__global__ void temporal_shift_grad_x_kernel(const scalar_t* __restrict__ grad,
                                             const scalar_t* __restrict__ shift,
                                             scalar_t* __restrict__ grad_x, int64_t C, int64_t T,
                                             int64_t V, int64_t stride, int64_t T_out, int64_t total) {
  using acc_t = typename Accumulate<scalar_t>::type;
  for (int64_t idx = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; idx < total;
       idx += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t v = idx % V;
    const int64_t tau = (idx / V) % T;
    const int64_t nc = idx / (V * T);
    const ShiftTaps<acc_t> taps = shift_taps<acc_t>(static_cast<acc_t>(shift[nc % C]), T);
    const scalar_t* g = grad + nc * T_out * V + v;
    const int64_t t0 = output_frame_reading(tau, taps.first, 0, stride, T_out);
    const int64_t t1 = output_frame_reading(tau, taps.first, 1, stride, T_out);
    acc_t value = 0;
    if (t0 >= 0) value += (acc_t(1) - taps.frac) * static_cast<acc_t>(g[t0 * V]);
    if (t1 >= 0) value += taps.frac * static_cast<acc_t>(g[t1 * V]);
    if (taps_undefined(taps)) value = taps.frac;
    grad_x[idx] = static_cast<scalar_t>(value);
  }
}

// grad_shift[c] = sum_{n, t, v} grad[n, c, t, v] * (x[n, c, t*s+i+1, v] - x[n, c, t*s+i, v]).
template <typename scalar_t>
__global__ void temporal_shift_grad_shift_kernel(const scalar_t* __restrict__ grad,
                                                 const scalar_t* __restrict__ x,
                                                 const scalar_t* __restrict__ shift,
                                                 scalar_t* __restrict__ grad_shift, int64_t N, int64_t C,
                                                 int64_t T, int64_t V, int64_t stride, int64_t T_out) {
  using acc_t = typename Accumulate<scalar_t>::type;
  __shared__ acc_t partial[kThreads];
  const int64_t c = blockIdx.x;
  const ShiftTaps<acc_t> taps = shift_taps<acc_t>(static_cast<acc_t>(shift[c]), T);
  const int64_t per_series = T_out * V;
  acc_t sum = 0;
  for (int64_t idx = threadIdx.x; idx < N * per_series; idx += blockDim.x) {
    const int64_t n = idx / per_series;
    const int64_t t = (idx % per_series) / V;
    const int64_t v = idx % V;
    const int64_t series = n * C + c;
    const scalar_t* src = x + series * T * V + v;
    const int64_t tau = t * stride + taps.first;
    acc_t difference = 0;
    if (frame_inside(tau + 1, T)) difference += static_cast<acc_t>(src[(tau + 1) * V]);
    if (frame_inside(tau, T)) difference -= static_cast<acc_t>(src[tau * V]);
    sum += static_cast<acc_t>(grad[series * per_series + t * V + v]) * difference;
  }
  partial[threadIdx.x] = sum;
  __syncthreads();
  for (int width = kThreads / 2; width > 0; width /= 2) {
    if (threadIdx.x < width) partial[threadIdx.x] += partial[threadIdx.x + width];
    __syncthreads();
  }
  if (threadIdx.x == 0) grad_shift[c] = static_cast<scalar_t>(taps_undefined(taps) ? taps.frac : partial[0]);
}

}  // namespace

template <typename scalar_t>
cudaError_t temporal_shift_forward(const scalar_t* x, const scalar_t* shift, scalar_t* out, int64_t N,
                                   int64_t C, int64_t T, int64_t V, int64_t stride, cudaStream_t stream) {
  const int64_t T_out = T / stride;
  const int64_t total = N * C * T_out * V;
  if (total == 0) return cudaSuccess;
  SKD_LAUNCH(temporal_shift_forward_kernel<scalar_t>, grid_for(total), kThreads, 0, stream, x, shift, out, C, T,
             V, stride, T_out, total);
  return cudaGetLastError();
}

template <typename scalar_t>
cudaError_t temporal_shift_backward(const scalar_t* grad, const scalar_t* x, const scalar_t* shift,
                                    scalar_t* grad_x, scalar_t* grad_shift, int64_t N, int64_t C,
                                    int64_t T, int64_t V, int64_t stride, cudaStream_t stream) {
  const int64_t T_out = T / stride;
  const int64_t total = N * C * T * V;
  if (total == 0) return cudaSuccess;
  SKD_LAUNCH(temporal_shift_grad_x_kernel<scalar_t>, grid_for(total), kThreads, 0, stream, grad, shift, grad_x, C,
             T, V, stride, T_out, total);
  cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) return err;
  SKD_LAUNCH(temporal_shift_grad_shift_kernel<scalar_t>, static_cast<unsigned int>(C), kThreads, 0, stream, grad,
             x, shift, grad_shift, N, C, T, V, stride, T_out);
  return cudaGetLastError();
}

template cudaError_t temporal_shift_forward<float>(const float*, const float*, float*, int64_t, int64_t,
                                                   int64_t, int64_t, int64_t, cudaStream_t);
template cudaError_t temporal_shift_forward<double>(const double*, const double*, double*, int64_t,
                                                    int64_t, int64_t, int64_t, int64_t, cudaStream_t);
template cudaError_t temporal_shift_backward<float>(const float*, const float*, const float*, float*,
                                                    float*, int64_t, int64_t, int64_t, int64_t, int64_t,
                                                    cudaStream_t);
template cudaError_t temporal_shift_backward<double>(const double*, const double*, const double*,
                                                     double*, double*, int64_t, int64_t, int64_t,
                                                     int64_t, int64_t, cudaStream_t);

}  // namespace cuda
}  // namespace skdcore
