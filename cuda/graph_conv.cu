// CUDA kernels of skdcore::graph_conv. Simple tiled kernels, correct first:
//  - forward (also grad_x): one block per (sample, time tile, output-channel tile). For each
//    chunk of input channels it stages x and weight in shared memory, aggregates x over the
//    graph there (xa = x A_k, the adjacency also in shared memory), then accumulates
//    y += W_k xa in registers. The (N, K, C, T, V) intermediate never exists in global memory.
//  - weight / adjacency gradients: long reductions over (n, t); blocks take slices of them and
//    atomically add their partial sums into an acc_t buffer.
#include "graph_conv.cuh"

#include "launch.cuh"

namespace skdcore {
namespace cuda {
namespace {

constexpr int kThreads = 256;
constexpr int kOutputsPerThread = 8;  // register accumulators per thread
constexpr int64_t kOutputsPerBlock = kThreads * kOutputsPerThread;
constexpr size_t kSharedBudget = 48 * 1024;  // default dynamic shared memory limit
constexpr int kGradTile = 16;                // (o, c) tile of the weight-gradient kernel

// Loads in the accumulation type; stores back (half/bfloat16 round from float).
template <typename acc_t, typename scalar_t>
__device__ __forceinline__ acc_t to_acc(scalar_t v) {
  return static_cast<acc_t>(v);
}
template <typename acc_t>
__device__ __forceinline__ acc_t to_acc(__half v) {
  return static_cast<acc_t>(__half2float(v));
}
template <typename acc_t>
__device__ __forceinline__ acc_t to_acc(__nv_bfloat16 v) {
  return static_cast<acc_t>(__bfloat162float(v));
}

template <typename scalar_t, typename acc_t>
__device__ __forceinline__ scalar_t store_value(acc_t v) {
  return static_cast<scalar_t>(v);
}
template <>
__device__ __forceinline__ __half store_value<__half, float>(float v) {
  return __float2half(v);
}
template <>
__device__ __forceinline__ __nv_bfloat16 store_value<__nv_bfloat16, float>(float v) {
  return __float2bfloat16(v);
}

struct ForwardTiles {
  int64_t out_channels;  // OT: output channels per block
  int64_t frames;        // TT: time steps per block
  int64_t in_channels;   // CC: input channels staged per step
  bool adjacency_in_shared;
};

template <typename acc_t>
size_t forward_shared_bytes(const GraphConvShape& s, const ForwardTiles& t) {
  const int64_t P = t.frames * s.V;
  const int64_t a = t.adjacency_in_shared ? s.K * s.V * s.V : 0;
  return sizeof(acc_t) * static_cast<size_t>(a + t.in_channels * P + s.K * t.in_channels * P +
                                             s.K * t.out_channels * t.in_channels);
}

// NB: every block is independent; threads own outputs idx = threadIdx.x + j * kThreads of the
// (OT, TT*V) output tile, so the register array is indexed by compile-time j only.
template <typename scalar_t, typename acc_t>
__global__ void __launch_bounds__(kThreads)
    graph_conv_forward_kernel(const scalar_t* __restrict__ x, const scalar_t* __restrict__ weight,
                              const acc_t* __restrict__ a_eff, const scalar_t* __restrict__ bias,
                              scalar_t* __restrict__ y, GraphConvShape s, ForwardTiles tiles,
                              int64_t time_tiles) {
  acc_t* shared = block_shared_memory<acc_t>();
  const int64_t V = s.V, K = s.K, T = s.T, C_in = s.C_in, C_out = s.C_out;
  const int64_t OT = tiles.out_channels, TT = tiles.frames, CC = tiles.in_channels;
  const int64_t P = TT * V;  // positions (t, w) of the tile
  acc_t* a_s = shared;
  acc_t* x_s = a_s + (tiles.adjacency_in_shared ? K * V * V : 0);  // [CC][P]
  acc_t* xa_s = x_s + CC * P;                                      // [K][CC][P]
  acc_t* w_s = xa_s + K * CC * P;                                  // [K][OT][CC]
  const acc_t* a = tiles.adjacency_in_shared ? a_s : a_eff;

  const int64_t n = blockIdx.x / time_tiles;
  const int64_t t0 = (blockIdx.x % time_tiles) * TT;
  const int64_t o0 = static_cast<int64_t>(blockIdx.y) * OT;
  const int64_t outputs = OT * P;

  if (tiles.adjacency_in_shared) {
    for (int64_t i = threadIdx.x; i < K * V * V; i += blockDim.x) a_s[i] = a_eff[i];
  }
  acc_t acc[kOutputsPerThread];
#pragma unroll
  for (int j = 0; j < kOutputsPerThread; ++j) acc[j] = acc_t(0);

  for (int64_t c0 = 0; c0 < C_in; c0 += CC) {
    __syncthreads();  // the previous step's readers of x_s / xa_s / w_s are done
    for (int64_t i = threadIdx.x; i < CC * P; i += blockDim.x) {
      const int64_t c = c0 + i / P, t = t0 + (i % P) / V, v = i % V;
      x_s[i] = (c < C_in && t < T) ? to_acc<acc_t>(x[((n * C_in + c) * T + t) * V + v]) : acc_t(0);
    }
    for (int64_t i = threadIdx.x; i < K * OT * CC; i += blockDim.x) {
      const int64_t k = i / (OT * CC), o = o0 + (i / CC) % OT, c = c0 + i % CC;
      w_s[i] = (o < C_out && c < C_in) ? to_acc<acc_t>(weight[(k * C_out + o) * C_in + c])
                                       : acc_t(0);
    }
    __syncthreads();
    // xa[k][c][tt, w] = sum_v x[c][tt, v] * a[k][v, w]
    for (int64_t i = threadIdx.x; i < K * CC * P; i += blockDim.x) {
      const int64_t k = i / (CC * P), c = (i / P) % CC, p = i % P;
      const acc_t* x_row = x_s + c * P + (p / V) * V;
      const acc_t* a_col = a + k * V * V + p % V;
      acc_t sum = 0;
      for (int64_t v = 0; v < V; ++v) sum += x_row[v] * a_col[v * V];
      xa_s[i] = sum;
    }
    __syncthreads();
    // y[o][tt, w] += sum_k sum_c w[k][o][c] * xa[k][c][tt, w]
#pragma unroll
    for (int j = 0; j < kOutputsPerThread; ++j) {
      const int64_t idx = threadIdx.x + static_cast<int64_t>(j) * kThreads;
      if (idx < outputs) {
        const int64_t oo = idx / P, p = idx % P;
        acc_t sum = acc[j];
        for (int64_t k = 0; k < K; ++k) {
          const acc_t* w_row = w_s + (k * OT + oo) * CC;
          const acc_t* xa_col = xa_s + k * CC * P + p;
          for (int64_t c = 0; c < CC; ++c) sum += w_row[c] * xa_col[c * P];
        }
        acc[j] = sum;
      }
    }
  }
#pragma unroll
  for (int j = 0; j < kOutputsPerThread; ++j) {
    const int64_t idx = threadIdx.x + static_cast<int64_t>(j) * kThreads;
    if (idx < outputs) {
      const int64_t o = o0 + idx / P, t = t0 + (idx % P) / V, w = idx % V;
      if (o < C_out && t < T) {
        const acc_t b = bias != nullptr ? to_acc<acc_t>(bias[o]) : acc_t(0);
        y[((n * C_out + o) * T + t) * V + w] = store_value<scalar_t, acc_t>(acc[j] + b);
      }
    }
  }
}

// grad_weight[k, o, c] += sum over this block's (n, t) slice of g[n,o,t,w] * (x[n] a_k)[c,t,w].
// Block: (k, o tile, c tile) x one slice of the n*time_tiles work items; thread = (o, c).
template <typename scalar_t, typename acc_t>
__global__ void __launch_bounds__(kThreads)
    graph_conv_weight_grad_kernel(const scalar_t* __restrict__ grad, const scalar_t* __restrict__ x,
                                  const acc_t* __restrict__ a_eff, acc_t* __restrict__ grad_weight,
                                  GraphConvShape s, int64_t frames, int64_t o_tiles,
                                  int64_t c_tiles) {
  acc_t* shared = block_shared_memory<acc_t>();
  const int64_t V = s.V, T = s.T, C_in = s.C_in, C_out = s.C_out;
  const int64_t P = frames * V, stride = P + 1;  // +1: (o, c) threads read rows without bank conflicts
  acc_t* x_s = shared;                            // [kGradTile][P]
  acc_t* xa_s = x_s + kGradTile * P;              // [kGradTile][stride]
  acc_t* g_s = xa_s + kGradTile * stride;         // [kGradTile][stride]

  int64_t block = blockIdx.x;
  const int64_t c0 = (block % c_tiles) * kGradTile;
  block /= c_tiles;
  const int64_t o0 = (block % o_tiles) * kGradTile;
  const int64_t k = block / o_tiles;
  const int64_t time_tiles = (T + frames - 1) / frames;
  const int64_t items = s.N * time_tiles;

  const acc_t* a = a_eff + k * V * V;  // tiny and re-read by every block: served by L1/L2
  const int64_t oo = threadIdx.x / kGradTile, cc = threadIdx.x % kGradTile;
  acc_t acc = 0;
  for (int64_t item = blockIdx.y; item < items; item += gridDim.y) {
    const int64_t n = item / time_tiles, t0 = (item % time_tiles) * frames;
    __syncthreads();
    for (int64_t i = threadIdx.x; i < kGradTile * P; i += blockDim.x) {
      const int64_t r = i / P, p = i % P, t = t0 + p / V, w = p % V;
      const int64_t c = c0 + r, o = o0 + r;
      x_s[i] = (c < C_in && t < T) ? to_acc<acc_t>(x[((n * C_in + c) * T + t) * V + w]) : acc_t(0);
      g_s[r * stride + p] =
          (o < C_out && t < T) ? to_acc<acc_t>(grad[((n * C_out + o) * T + t) * V + w]) : acc_t(0);
    }
    __syncthreads();
    for (int64_t i = threadIdx.x; i < kGradTile * P; i += blockDim.x) {
      const int64_t r = i / P, p = i % P;
      const acc_t* x_row = x_s + r * P + (p / V) * V;
      const acc_t* a_col = a + p % V;
      acc_t sum = 0;
      for (int64_t v = 0; v < V; ++v) sum += x_row[v] * a_col[v * V];
      xa_s[r * stride + p] = sum;
    }
    __syncthreads();
    const acc_t* g_row = g_s + oo * stride;
    const acc_t* xa_row = xa_s + cc * stride;
    for (int64_t p = 0; p < P; ++p) acc += g_row[p] * xa_row[p];
  }
  const int64_t o = o0 + oo, c = c0 + cc;
  if (o < C_out && c < C_in) atomicAdd(grad_weight + (k * C_out + o) * C_in + c, acc);
}

// grad_a_eff[k, v, w] += sum over this block's (n, t, c) slice of x[n,c,t,v] * q[c,t,w],
// q = weight[k]^T grad[n]. Block: (k, tile of (v, w) pairs) x one slice of the n*time_tiles items.
template <typename scalar_t, typename acc_t>
__global__ void __launch_bounds__(kThreads)
    graph_conv_adjacency_grad_kernel(const scalar_t* __restrict__ grad,
                                     const scalar_t* __restrict__ x,
                                     const scalar_t* __restrict__ weight,
                                     acc_t* __restrict__ grad_a_eff, GraphConvShape s,
                                     int64_t frames, int64_t channels, int64_t pair_tiles) {
  acc_t* shared = block_shared_memory<acc_t>();
  const int64_t V = s.V, T = s.T, C_in = s.C_in, C_out = s.C_out;
  const int64_t P = frames * V;
  acc_t* x_s = shared;             // [channels][P]
  acc_t* q_s = x_s + channels * P;  // [channels][P]

  const int64_t pair0 = (blockIdx.x % pair_tiles) * kOutputsPerBlock;
  const int64_t k = blockIdx.x / pair_tiles;
  const int64_t time_tiles = (T + frames - 1) / frames;
  const int64_t items = s.N * time_tiles;
  acc_t acc[kOutputsPerThread];
#pragma unroll
  for (int j = 0; j < kOutputsPerThread; ++j) acc[j] = acc_t(0);

  for (int64_t item = blockIdx.y; item < items; item += gridDim.y) {
    const int64_t n = item / time_tiles, t0 = (item % time_tiles) * frames;
    for (int64_t c0 = 0; c0 < C_in; c0 += channels) {
      __syncthreads();
      for (int64_t i = threadIdx.x; i < channels * P; i += blockDim.x) {
        const int64_t c = c0 + i / P, t = t0 + (i % P) / V, w = i % V;
        acc_t xv = 0, q = 0;
        if (c < C_in && t < T) {
          xv = to_acc<acc_t>(x[((n * C_in + c) * T + t) * V + w]);
          for (int64_t o = 0; o < C_out; ++o) {
            q += to_acc<acc_t>(weight[(k * C_out + o) * C_in + c]) *
                 to_acc<acc_t>(grad[((n * C_out + o) * T + t) * V + w]);
          }
        }
        x_s[i] = xv;
        q_s[i] = q;
      }
      __syncthreads();
#pragma unroll
      for (int j = 0; j < kOutputsPerThread; ++j) {
        const int64_t pair = pair0 + threadIdx.x + static_cast<int64_t>(j) * kThreads;
        if (pair < V * V) {
          const int64_t v = pair / V, w = pair % V;
          acc_t sum = acc[j];
          for (int64_t r = 0; r < channels * frames; ++r) sum += x_s[r * V + v] * q_s[r * V + w];
          acc[j] = sum;
        }
      }
    }
  }
#pragma unroll
  for (int j = 0; j < kOutputsPerThread; ++j) {
    const int64_t pair = pair0 + threadIdx.x + static_cast<int64_t>(j) * kThreads;
    if (pair < V * V) atomicAdd(grad_a_eff + k * V * V + pair, acc[j]);
  }
}

// Enough blocks along the reduction to fill a large GPU, never more than there are items.
unsigned int reduction_slices(int64_t items, int64_t other_blocks) {
  const int64_t wanted = (1024 + other_blocks - 1) / other_blocks;
  const int64_t slices = items < wanted ? items : wanted;
  return static_cast<unsigned int>(slices < 1 ? 1 : (slices > 65535 ? 65535 : slices));
}

}  // namespace

template <typename scalar_t>
cudaError_t graph_conv_forward(const scalar_t* x, const scalar_t* weight,
                               const graph_conv_acc_t<scalar_t>* a_eff, const scalar_t* bias,
                               scalar_t* y, GraphConvShape s, cudaStream_t stream) {
  using acc_t = graph_conv_acc_t<scalar_t>;
  if (s.empty_output() || s.C_in == 0 || s.K == 0) return cudaSuccess;  // caller fills y
  if (s.V > kOutputsPerBlock) return cudaErrorInvalidValue;
  ForwardTiles tiles{};
  tiles.out_channels = s.C_out < 64 ? s.C_out : 64;
  if (tiles.out_channels * s.V > kOutputsPerBlock) tiles.out_channels = kOutputsPerBlock / s.V;
  tiles.frames = kOutputsPerBlock / (tiles.out_channels * s.V);
  if (tiles.frames > s.T) tiles.frames = s.T;
  // Largest input-channel step that fits, with the adjacency in shared memory if possible.
  bool fits = false;
  for (int in_shared = 1; in_shared >= 0 && !fits; --in_shared) {
    tiles.adjacency_in_shared = in_shared == 1;
    for (int64_t cc = 16; cc >= 1 && !fits; cc /= 2) {
      tiles.in_channels = cc;
      fits = forward_shared_bytes<acc_t>(s, tiles) <= kSharedBudget;
    }
  }
  if (!fits) return cudaErrorInvalidConfiguration;  // K * V too large for one tile
  const int64_t time_tiles = (s.T + tiles.frames - 1) / tiles.frames;
  const int64_t out_tiles = (s.C_out + tiles.out_channels - 1) / tiles.out_channels;
  if (s.N * time_tiles > 2147483647LL || out_tiles > 65535) return cudaErrorInvalidConfiguration;
  const dim3 grid(static_cast<unsigned int>(s.N * time_tiles), static_cast<unsigned int>(out_tiles));
  const auto kernel = graph_conv_forward_kernel<scalar_t, acc_t>;
  SKD_LAUNCH(kernel, grid, kThreads, forward_shared_bytes<acc_t>(s, tiles), stream, x, weight, a_eff, bias, y,
             s, tiles, time_tiles);
  return cudaGetLastError();
}

template <typename scalar_t>
cudaError_t graph_conv_weight_grad(const scalar_t* grad, const scalar_t* x,
                                   const graph_conv_acc_t<scalar_t>* a_eff,
                                   graph_conv_acc_t<scalar_t>* grad_weight, GraphConvShape s,
                                   cudaStream_t stream) {
  using acc_t = graph_conv_acc_t<scalar_t>;
  if (s.empty_output() || s.C_in == 0 || s.K == 0) return cudaSuccess;
  static_assert(kGradTile * kGradTile == kThreads, "one thread per (o, c) pair of the tile");
  int64_t frames = 64 / s.V;
  frames = frames < 1 ? 1 : (frames > s.T ? s.T : frames);
  const int64_t P = frames * s.V;
  const size_t shared =
      sizeof(acc_t) * static_cast<size_t>(kGradTile * P + 2 * kGradTile * (P + 1));
  if (shared > kSharedBudget) return cudaErrorInvalidConfiguration;
  const int64_t o_tiles = (s.C_out + kGradTile - 1) / kGradTile;
  const int64_t c_tiles = (s.C_in + kGradTile - 1) / kGradTile;
  const int64_t blocks = s.K * o_tiles * c_tiles;
  if (blocks > 2147483647LL) return cudaErrorInvalidConfiguration;
  const int64_t items = s.N * ((s.T + frames - 1) / frames);
  const dim3 grid(static_cast<unsigned int>(blocks), reduction_slices(items, blocks));
  const auto kernel = graph_conv_weight_grad_kernel<scalar_t, acc_t>;
  SKD_LAUNCH(kernel, grid, kThreads, shared, stream, grad, x, a_eff, grad_weight, s, frames, o_tiles, c_tiles);
  return cudaGetLastError();
}

template <typename scalar_t>
cudaError_t graph_conv_adjacency_grad(const scalar_t* grad, const scalar_t* x,
                                      const scalar_t* weight,
                                      graph_conv_acc_t<scalar_t>* grad_a_eff,
                                      GraphConvShape s, cudaStream_t stream) {
  using acc_t = graph_conv_acc_t<scalar_t>;
  if (s.empty_output() || s.C_in == 0 || s.K == 0) return cudaSuccess;
  int64_t frames = 64 / s.V;
  frames = frames < 1 ? 1 : (frames > s.T ? s.T : frames);
  const int64_t channels = s.C_in < 8 ? s.C_in : 8;
  const size_t shared = sizeof(acc_t) * static_cast<size_t>(2 * channels * frames * s.V);
  if (shared > kSharedBudget) return cudaErrorInvalidConfiguration;
  const int64_t pair_tiles = (s.V * s.V + kOutputsPerBlock - 1) / kOutputsPerBlock;
  const int64_t blocks = s.K * pair_tiles;
  const int64_t items = s.N * ((s.T + frames - 1) / frames);
  const dim3 grid(static_cast<unsigned int>(blocks), reduction_slices(items, blocks));
  const auto kernel = graph_conv_adjacency_grad_kernel<scalar_t, acc_t>;
  SKD_LAUNCH(kernel, grid, kThreads, shared, stream, grad, x, weight, grad_a_eff, s, frames, channels,
             pair_tiles);
  return cudaGetLastError();
}

#define SKDCORE_INSTANTIATE_GRAPH_CONV(scalar_t)                                                  \
  template cudaError_t graph_conv_forward<scalar_t>(const scalar_t*, const scalar_t*,           \
                                                    const graph_conv_acc_t<scalar_t>*,          \
                                                    const scalar_t*, scalar_t*, GraphConvShape, \
                                                    cudaStream_t);                              \
  template cudaError_t graph_conv_weight_grad<scalar_t>(                                        \
      const scalar_t*, const scalar_t*, const graph_conv_acc_t<scalar_t>*,                      \
      graph_conv_acc_t<scalar_t>*, GraphConvShape, cudaStream_t);                               \
  template cudaError_t graph_conv_adjacency_grad<scalar_t>(                                     \
      const scalar_t*, const scalar_t*, const scalar_t*, graph_conv_acc_t<scalar_t>*,           \
      GraphConvShape, cudaStream_t);

SKDCORE_INSTANTIATE_GRAPH_CONV(float)
SKDCORE_INSTANTIATE_GRAPH_CONV(double)
SKDCORE_INSTANTIATE_GRAPH_CONV(__half)
SKDCORE_INSTANTIATE_GRAPH_CONV(__nv_bfloat16)

}  // namespace cuda
}  // namespace skdcore
