// CUDA kernels of skdcore::graph_matching_loss. Simple and correct over clever:
//   * one block per (sample n, row tile I of 32 nodes); it walks the column tiles J, computing each
//     32 x 32 Gram block of student and teacher with shared-memory tiles over C (fp32 FMA
//     accumulation for float, fp64 for double; no tf32/tensor cores: the Gram form subtracts
//     |a|^2 + |b|^2 - 2 a.b, and tf32's 10-bit mantissa would turn that cancellation into distance
//     errors of ~1e-3 relative to |a|^2, far above the smooth-L1 signal);
//   * forward: J >= I only (symmetry), per-(n, I) partial sums written to a workspace and reduced
//     per sample in a fixed order (deterministic, no atomics); two passes (normalisers, loss);
//   * backward: all J, each block owns its 32 gradient rows (no atomics, deterministic),
//     grad_i = 4 sum_j W_ij (f_i - f_j), W_ij = dL/dd2_ij.
// Distance math is shared with the CPU kernel (cpp/graph_matching_math.h).
#include "graph_matching.cuh"
#include "accumulate.cuh"
#include "block_reduce.cuh"
#include "launch.cuh"

namespace skdcore {
namespace cuda {
namespace {

constexpr int kTile = static_cast<int>(kGraphTile);  // nodes per tile side
constexpr int kRowsPerThread = 4;                    // 32 rows / 8 thread rows
constexpr int kThreadRows = kTile / kRowsPerThread;  // blockDim = (32, 8)
constexpr int kThreads = kTile * kThreadRows;


__device__ __forceinline__ int64_t node_offset(const GraphLayout& g, int64_t n, int64_t p, int64_t c) {
  return n * g.P * g.C + p * g.node_stride + c * g.channel_stride;
}

template <typename scalar_t>
__global__ void graph_matching_square_norms_kernel(const scalar_t* __restrict__ features, GraphLayout g, double* __restrict__ out) {
  const int64_t index = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (index >= g.N * g.P) return;
  const int64_t n = index / g.P, p = index % g.P;
  double acc = 0;
  for (int64_t c = 0; c < g.C; ++c) {
    const double v = static_cast<double>(features[node_offset(g, n, p, c)]);
    acc += v * v;
  }
  out[index] = acc;
}

// Loads rows [row0, row0 + 32) x channels [c0, c0 + 32) of sample n into tile[row][channel].
template <typename scalar_t, typename acc_t>
__device__ void load_tile(const scalar_t* __restrict__ x, const GraphLayout& g, int64_t n, int64_t row0, int64_t c0,
                          acc_t (*tile)[kTile + 1]) {
  const int tid = threadIdx.y * blockDim.x + threadIdx.x;
  for (int e = tid; e < kTile * kTile; e += kThreads) {
    // Consecutive threads read consecutive nodes: coalesced for the (N, C, T, V) layout.
    const int r = e % kTile, k = e / kTile;
    const int64_t p = row0 + r, c = c0 + k;
    tile[r][k] = (p < g.P && c < g.C) ? static_cast<acc_t>(x[node_offset(g, n, p, c)]) : acc_t(0);
  }
}

// Gram block of rows I and J for one graph: gram[q] = f_{i_q} . f_j, i_q = row0_i + ty + 8q, j = row0_j + tx.
template <typename scalar_t, typename acc_t>
__device__ void gram_block(const scalar_t* __restrict__ x, const GraphLayout& g, int64_t n, int64_t row0_i,
                           int64_t row0_j, acc_t (*tile_i)[kTile + 1], acc_t (*tile_j)[kTile + 1],
                           acc_t gram[kRowsPerThread]) {
  for (int q = 0; q < kRowsPerThread; ++q) gram[q] = acc_t(0);
  for (int64_t c0 = 0; c0 < g.C; c0 += kTile) {
    load_tile(x, g, n, row0_i, c0, tile_i);
    load_tile(x, g, n, row0_j, c0, tile_j);
    __syncthreads();
#pragma unroll 8
    for (int k = 0; k < kTile; ++k) {
      const acc_t b = tile_j[threadIdx.x][k];
      for (int q = 0; q < kRowsPerThread; ++q) gram[q] += tile_i[threadIdx.y + kThreadRows * q][k] * b;
    }
    __syncthreads();
  }
}

// Forward pass over tiles J >= I of block (I = blockIdx.x, n = blockIdx.y): partial[4] = the
// pass's sums over the block's pairs j > i (gm_add_pair_sums: each stands for (i, j) and (j, i)).
template <typename scalar_t, ChunkPass kPass>
__global__ void graph_matching_forward_pass_kernel(const scalar_t* __restrict__ student, const scalar_t* __restrict__ teacher,
                                    GraphLayout g, GraphMatchingOptions options, const double* __restrict__ norms_s,
                                    const double* __restrict__ norms_t, const double* __restrict__ stats,
                                    double* __restrict__ partial) {
  using acc_t = typename Accumulate<scalar_t>::type;
  __shared__ acc_t tile_i[kTile][kTile + 1];
  __shared__ acc_t tile_j[kTile][kTile + 1];
  __shared__ double reduce[kChunkSumColumns][kThreads];
  const int64_t I = blockIdx.x, n = blockIdx.y, R = gridDim.x;
  const bool squared = options.distance == GraphDistance::SquaredEuclidean;
  const acc_t beta = static_cast<acc_t>(options.beta);
  const acc_t inv_beta = gm_inverse_beta(beta);
  acc_t inv_mu_s = 1, inv_mu_t = 1;
  if (kPass == ChunkPass::Loss) {
    inv_mu_s = static_cast<acc_t>(1.0 / stats[n * kStatsColumns + kStatStudentMean]);
    inv_mu_t = static_cast<acc_t>(1.0 / stats[n * kStatsColumns + kStatTeacherMean]);
  }
  double sums[kChunkSumColumns] = {0, 0, 0, 0};
  for (int64_t J = I; J < R; ++J) {
    acc_t gram_s[kRowsPerThread], gram_t[kRowsPerThread];
    gram_block(student, g, n, I * kTile, J * kTile, tile_i, tile_j, gram_s);
    gram_block(teacher, g, n, I * kTile, J * kTile, tile_i, tile_j, gram_t);
    const int64_t j = J * kTile + threadIdx.x;
    for (int q = 0; q < kRowsPerThread; ++q) {
      const int64_t i = I * kTile + threadIdx.y + kThreadRows * q;
      if (i >= g.P || j >= g.P || j <= i) continue;  // upper triangle only
      const acc_t d2_s = static_cast<acc_t>(norms_s[n * g.P + i] + norms_s[n * g.P + j]) - acc_t(2) * gram_s[q];
      const acc_t d2_t = static_cast<acc_t>(norms_t[n * g.P + i] + norms_t[n * g.P + j]) - acc_t(2) * gram_t[q];
      gm_add_pair_sums(d2_s, d2_t, kPass, squared, options.loss, beta, inv_beta, inv_mu_s, inv_mu_t, sums);
    }
  }
  block_sums<kThreads, kChunkSumColumns>(sums, reduce);
  if (threadIdx.x == 0 && threadIdx.y == 0) {
    for (int k = 0; k < kChunkSumColumns; ++k) partial[(n * R + I) * kChunkSumColumns + k] = sums[k];
  }
}

// One thread per sample: reduces the R partials in order into stats / per-sample losses.
template <ChunkPass kPass>
__global__ void graph_matching_finalize_kernel(const double* __restrict__ partial, GraphLayout g, int64_t R,
                                GraphNormalize normalize, double* __restrict__ stats,
                                double* __restrict__ per_sample) {
  const int64_t n = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (n >= g.N) return;
  double acc[kChunkSumColumns] = {0, 0, 0, 0};
  for (int64_t I = 0; I < R; ++I) {
    for (int k = 0; k < kChunkSumColumns; ++k) acc[k] += partial[(n * R + I) * kChunkSumColumns + k];
  }
  double* st = stats + n * kStatsColumns;
  if (kPass == ChunkPass::Normaliser) {
    st[kStatStudentMean] = gm_normaliser(acc[0], acc[1], normalize);
    st[kStatTeacherMean] = gm_normaliser(acc[2], acc[3], normalize);
    st[kStatStudentCount] = acc[1];
  } else {
    const double entries = static_cast<double>(g.P * g.P > 0 ? g.P * g.P : 1);
    per_sample[n] = acc[0] / entries;
    st[kStatLossMoment] = acc[1];
  }
}

// Backward of block (I = blockIdx.x, n = blockIdx.y): all tiles J, gradient rows I owned by the block.
template <typename scalar_t>
__global__ void graph_matching_backward_kernel(const double* __restrict__ sample_grad, const scalar_t* __restrict__ student,
                                const scalar_t* __restrict__ teacher, GraphLayout g, GraphMatchingOptions options,
                                const double* __restrict__ norms_s, const double* __restrict__ norms_t,
                                const double* __restrict__ stats, scalar_t* __restrict__ grad) {
  using acc_t = typename Accumulate<scalar_t>::type;
  __shared__ acc_t tile_i[kTile][kTile + 1];
  __shared__ acc_t tile_j[kTile][kTile + 1];
  __shared__ acc_t w[kTile][kTile + 1];
  __shared__ acc_t rowsum[kTile];
  const int64_t I = blockIdx.x, n = blockIdx.y, R = gridDim.x;
  const int tid = threadIdx.y * blockDim.x + threadIdx.x;
  const bool squared = options.distance == GraphDistance::SquaredEuclidean;
  const acc_t beta = static_cast<acc_t>(options.beta);
  const acc_t inv_beta = gm_inverse_beta(beta);
  const GmBackwardCoefficients k = gm_backward_coefficients(sample_grad[n], stats + n * kStatsColumns, g.P,
                                                            options.normalize);
  const acc_t inv_mu_s = static_cast<acc_t>(k.inv_mu_s), inv_mu_t = static_cast<acc_t>(k.inv_mu_t);
  const acc_t scale = static_cast<acc_t>(k.scale), c = static_cast<acc_t>(k.c);
  if (tid < kTile) rowsum[tid] = 0;
  __syncthreads();
  for (int64_t J = 0; J < R; ++J) {
    acc_t gram_s[kRowsPerThread], gram_t[kRowsPerThread];
    gram_block(student, g, n, I * kTile, J * kTile, tile_i, tile_j, gram_s);
    gram_block(teacher, g, n, I * kTile, J * kTile, tile_i, tile_j, gram_t);
    const int64_t j = J * kTile + threadIdx.x;
    for (int q = 0; q < kRowsPerThread; ++q) {
      const int row = threadIdx.y + kThreadRows * q;
      const int64_t i = I * kTile + row;
      acc_t value = 0;
      if (i < g.P && j < g.P && i != j) {
        const acc_t d2_s = static_cast<acc_t>(norms_s[n * g.P + i] + norms_s[n * g.P + j]) - acc_t(2) * gram_s[q];
        const acc_t d2_t = static_cast<acc_t>(norms_t[n * g.P + i] + norms_t[n * g.P + j]) - acc_t(2) * gram_t[q];
        value = gm_pair_weight(d2_s, d2_t, squared, options.loss, beta, inv_beta, inv_mu_s, inv_mu_t, scale, c);
      }
      w[row][threadIdx.x] = value;
    }
    __syncthreads();
    if (tid < kTile) {
      acc_t r = 0;
      for (int k = 0; k < kTile; ++k) r += w[tid][k];
      rowsum[tid] += r;
    }
    // grad_I[i, c] -= 4 sum_j W_ij f_j[c], channels in chunks of 32 staged in tile_j[j][c].
    for (int64_t c0 = 0; c0 < g.C; c0 += kTile) {
      load_tile(student, g, n, J * kTile, c0, tile_j);
      __syncthreads();
      for (int q = 0; q < kRowsPerThread; ++q) {
        const int row = threadIdx.y + kThreadRows * q;
        const int64_t i = I * kTile + row, ch = c0 + threadIdx.x;
        if (i >= g.P || ch >= g.C) continue;
        acc_t acc = 0;
        for (int k = 0; k < kTile; ++k) acc += w[row][k] * tile_j[k][threadIdx.x];
        scalar_t& out = grad[node_offset(g, n, i, ch)];
        out = static_cast<scalar_t>(static_cast<acc_t>(out) - acc_t(4) * acc);
      }
      __syncthreads();
    }
  }
  // grad_i += 4 rowsum_i f_i
  for (int e = tid; e < kTile * g.C; e += kThreads) {
    const int row = e % kTile;
    const int64_t i = I * kTile + row, ch = e / kTile;
    if (i >= g.P) continue;
    const int64_t offset = node_offset(g, n, i, ch);
    grad[offset] = static_cast<scalar_t>(static_cast<acc_t>(grad[offset]) +
                                         acc_t(4) * rowsum[row] * static_cast<acc_t>(student[offset]));
  }
}

int64_t tile_count(int64_t P) { return (P + kTile - 1) / kTile; }

template <typename scalar_t>
cudaError_t launch_square_norms(const scalar_t* features, const GraphLayout& g, double* out, cudaStream_t stream) {
  const int64_t total = g.N * g.P;
  const unsigned int blocks = static_cast<unsigned int>((total + 255) / 256);
  SKD_LAUNCH(graph_matching_square_norms_kernel<scalar_t>, dim3(blocks), 256, 0, stream, features, g, out);
  return cudaGetLastError();
}

}  // namespace

template <typename scalar_t>
cudaError_t graph_matching_forward(const scalar_t* student, const scalar_t* teacher, GraphLayout layout,
                                   GraphMatchingOptions options, double* workspace, double* per_sample,
                                   double* stats, cudaStream_t stream) {
  if (layout.N == 0 || layout.P == 0) return cudaSuccess;
  const int64_t R = tile_count(layout.P);
  double* norms_s = workspace;
  double* norms_t = norms_s + layout.N * layout.P;
  double* partial = norms_t + layout.N * layout.P;
  cudaError_t err = launch_square_norms(student, layout, norms_s, stream);
  if (err != cudaSuccess) return err;
  if ((err = launch_square_norms(teacher, layout, norms_t, stream)) != cudaSuccess) return err;
  const dim3 grid(static_cast<unsigned int>(R), static_cast<unsigned int>(layout.N));
  const dim3 block(kTile, kThreadRows);
  const unsigned int finalize_blocks = static_cast<unsigned int>((layout.N + 127) / 128);
  SKD_LAUNCH((graph_matching_forward_pass_kernel<scalar_t, ChunkPass::Normaliser>), grid, block, 0, stream, student, teacher,
             layout, options, norms_s, norms_t, stats, partial);
  if ((err = cudaGetLastError()) != cudaSuccess) return err;
  SKD_LAUNCH(graph_matching_finalize_kernel<ChunkPass::Normaliser>, dim3(finalize_blocks), 128, 0, stream, partial, layout, R,
             options.normalize, stats, per_sample);
  if ((err = cudaGetLastError()) != cudaSuccess) return err;
  SKD_LAUNCH((graph_matching_forward_pass_kernel<scalar_t, ChunkPass::Loss>), grid, block, 0, stream, student, teacher, layout,
             options, norms_s, norms_t, stats, partial);
  if ((err = cudaGetLastError()) != cudaSuccess) return err;
  SKD_LAUNCH(graph_matching_finalize_kernel<ChunkPass::Loss>, dim3(finalize_blocks), 128, 0, stream, partial, layout, R,
             options.normalize, stats, per_sample);
  return cudaGetLastError();
}

template <typename scalar_t>
cudaError_t graph_matching_backward(const double* sample_grad, const scalar_t* student, const scalar_t* teacher,
                                    const double* stats, GraphLayout layout, GraphMatchingOptions options,
                                    double* workspace, scalar_t* grad, cudaStream_t stream) {
  if (layout.N == 0 || layout.P == 0 || layout.C == 0) return cudaSuccess;
  double* norms_s = workspace;
  double* norms_t = norms_s + layout.N * layout.P;
  cudaError_t err = launch_square_norms(student, layout, norms_s, stream);
  if (err != cudaSuccess) return err;
  if ((err = launch_square_norms(teacher, layout, norms_t, stream)) != cudaSuccess) return err;
  const dim3 grid(static_cast<unsigned int>(tile_count(layout.P)), static_cast<unsigned int>(layout.N));
  const dim3 block(kTile, kThreadRows);
  SKD_LAUNCH(graph_matching_backward_kernel<scalar_t>, grid, block, 0, stream, sample_grad, student, teacher, layout, options,
             norms_s, norms_t, stats, grad);
  return cudaGetLastError();
}

template cudaError_t graph_matching_forward<float>(const float*, const float*, GraphLayout, GraphMatchingOptions,
                                                   double*, double*, double*, cudaStream_t);
template cudaError_t graph_matching_forward<double>(const double*, const double*, GraphLayout, GraphMatchingOptions,
                                                    double*, double*, double*, cudaStream_t);
template cudaError_t graph_matching_backward<float>(const double*, const float*, const float*, const double*,
                                                    GraphLayout, GraphMatchingOptions, double*, float*, cudaStream_t);
template cudaError_t graph_matching_backward<double>(const double*, const double*, const double*, const double*,
                                                     GraphLayout, GraphMatchingOptions, double*, double*,
                                                     cudaStream_t);

}  // namespace cuda
}  // namespace skdcore
