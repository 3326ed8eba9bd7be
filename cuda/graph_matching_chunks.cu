// CUDA kernels of graph_matching_loss's matrix-product path: elementwise epilogues of a chunk of
// Gram blocks. One block per (sample, row), its threads striding over the row's columns (coalesced),
// a fixed-order shared-memory reduction per row (deterministic, no atomics). Memory-bound: each
// entry of both Gram blocks is read once (and W written once in the backward).
#include "graph_matching_chunks.cuh"

#include "block_reduce.cuh"
#include "launch.cuh"

namespace skdcore {
namespace cuda {
namespace {

constexpr int kThreads = 128;

// Block b = (sample s, row r) = (b / rows, b % rows).
struct RowIndex {
  int64_t s, r, i;
};
__device__ __forceinline__ RowIndex row_of_block(const GramChunk& chunk) {
  const int64_t b = blockIdx.x;
  const int64_t s = b / chunk.rows, r = b % chunk.rows;
  return {s, r, chunk.row0 + r};
}

template <typename acc_t>
__global__ void __launch_bounds__(kThreads)
    graph_matching_chunk_sums_kernel(ChunkInputs<acc_t> in, GramChunk chunk, GraphMatchingOptions options, ChunkPass pass,
                      double* __restrict__ per_row) {
  __shared__ double reduce[kChunkSumColumns][kThreads];
  const RowIndex row = row_of_block(chunk);
  const bool squared = options.distance == GraphDistance::SquaredEuclidean;
  const acc_t beta = static_cast<acc_t>(options.beta);
  const acc_t inv_beta = gm_inverse_beta(beta);
  const double* st = in.stats + row.s * kStatsColumns;
  const acc_t inv_mu_s = pass == ChunkPass::Loss ? static_cast<acc_t>(1.0 / st[kStatStudentMean]) : acc_t(1);
  const acc_t inv_mu_t = pass == ChunkPass::Loss ? static_cast<acc_t>(1.0 / st[kStatTeacherMean]) : acc_t(1);
  const acc_t sq_i_s = in.norms_s[row.s * chunk.P + row.i], sq_i_t = in.norms_t[row.s * chunk.P + row.i];
  const acc_t* norms_s = in.norms_s + row.s * chunk.P + chunk.col0;
  const acc_t* norms_t = in.norms_t + row.s * chunk.P + chunk.col0;
  const int64_t offset = (row.s * chunk.rows + row.r) * chunk.cols;
  // Pairs j > i only: columns q with col0 + q > i.
  const int64_t first = row.i + 1 - chunk.col0 > 0 ? row.i + 1 - chunk.col0 : 0;
  double sums[kChunkSumColumns] = {0, 0, 0, 0};
  for (int64_t q = first + threadIdx.x; q < chunk.cols; q += kThreads) {
    const acc_t d2_s = sq_i_s + norms_s[q] - acc_t(2) * in.gram_s[offset + q];
    const acc_t d2_t = sq_i_t + norms_t[q] - acc_t(2) * in.gram_t[offset + q];
    gm_add_pair_sums(d2_s, d2_t, pass, squared, options.loss, beta, inv_beta, inv_mu_s, inv_mu_t, sums);
  }
  block_sums<kThreads, kChunkSumColumns>(sums, reduce);
  if (threadIdx.x == 0) {
    double* out = per_row + (row.s * chunk.rows + row.r) * kChunkSumColumns;
    for (int k = 0; k < kChunkSumColumns; ++k) out[k] = sums[k];
  }
}

template <typename acc_t>
__global__ void __launch_bounds__(kThreads)
    graph_matching_chunk_weights_kernel(ChunkInputs<acc_t> in, const double* __restrict__ sample_grad, GramChunk chunk,
                         GraphMatchingOptions options, acc_t* w, acc_t* __restrict__ rowsum) {
  __shared__ double reduce[1][kThreads];
  const RowIndex row = row_of_block(chunk);
  const bool squared = options.distance == GraphDistance::SquaredEuclidean;
  const acc_t beta = static_cast<acc_t>(options.beta);
  const acc_t inv_beta = gm_inverse_beta(beta);
  const GmBackwardCoefficients k =
      gm_backward_coefficients(sample_grad[row.s], in.stats + row.s * kStatsColumns, chunk.P, options.normalize);
  const acc_t scale = static_cast<acc_t>(k.scale), c = static_cast<acc_t>(k.c);
  const acc_t inv_mu_s = static_cast<acc_t>(k.inv_mu_s), inv_mu_t = static_cast<acc_t>(k.inv_mu_t);
  const acc_t sq_i_s = in.norms_s[row.s * chunk.P + row.i], sq_i_t = in.norms_t[row.s * chunk.P + row.i];
  const acc_t* norms_s = in.norms_s + row.s * chunk.P + chunk.col0;
  const acc_t* norms_t = in.norms_t + row.s * chunk.P + chunk.col0;
  const int64_t offset = (row.s * chunk.rows + row.r) * chunk.cols;
  acc_t total = 0;
  for (int64_t q = threadIdx.x; q < chunk.cols; q += kThreads) {
    acc_t value = 0;
    if (chunk.col0 + q != row.i) {
      const acc_t d2_s = sq_i_s + norms_s[q] - acc_t(2) * in.gram_s[offset + q];
      const acc_t d2_t = sq_i_t + norms_t[q] - acc_t(2) * in.gram_t[offset + q];
      value = gm_pair_weight(d2_s, d2_t, squared, options.loss, beta, inv_beta, inv_mu_s, inv_mu_t, scale, c);
    }
    w[offset + q] = value;  // NB: may overwrite gram_s[offset + q], read just above by this thread only
    total += value;
  }
  double sum[1] = {static_cast<double>(total)};
  block_sums<kThreads, 1>(sum, reduce);
  if (threadIdx.x == 0) rowsum[row.s * chunk.rows + row.r] = static_cast<acc_t>(sum[0]);
}

}  // namespace

template <typename acc_t>
cudaError_t graph_matching_chunk_sums(ChunkInputs<acc_t> in, GramChunk chunk, GraphMatchingOptions options,
                                      ChunkPass pass, double* per_row, cudaStream_t stream) {
  const int64_t blocks = chunk.samples * chunk.rows;
  if (blocks == 0) return cudaSuccess;
  if (blocks > 0x7fffffff) return cudaErrorInvalidValue;
  SKD_LAUNCH(graph_matching_chunk_sums_kernel<acc_t>, dim3(static_cast<unsigned int>(blocks)), kThreads, 0, stream, in, chunk,
             options, pass, per_row);
  return cudaGetLastError();
}

template <typename acc_t>
cudaError_t graph_matching_chunk_weights(ChunkInputs<acc_t> in, const double* sample_grad, GramChunk chunk,
                                         GraphMatchingOptions options, acc_t* w, acc_t* rowsum,
                                         cudaStream_t stream) {
  const int64_t blocks = chunk.samples * chunk.rows;
  if (blocks == 0) return cudaSuccess;
  if (blocks > 0x7fffffff) return cudaErrorInvalidValue;
  SKD_LAUNCH(graph_matching_chunk_weights_kernel<acc_t>, dim3(static_cast<unsigned int>(blocks)), kThreads, 0, stream, in,
             sample_grad, chunk, options, w, rowsum);
  return cudaGetLastError();
}

template cudaError_t graph_matching_chunk_sums<float>(ChunkInputs<float>, GramChunk, GraphMatchingOptions,
                                                      ChunkPass, double*, cudaStream_t);
template cudaError_t graph_matching_chunk_sums<double>(ChunkInputs<double>, GramChunk, GraphMatchingOptions,
                                                       ChunkPass, double*, cudaStream_t);
template cudaError_t graph_matching_chunk_weights<float>(ChunkInputs<float>, const double*, GramChunk,
                                                         GraphMatchingOptions, float*, float*, cudaStream_t);
template cudaError_t graph_matching_chunk_weights<double>(ChunkInputs<double>, const double*, GramChunk,
                                                          GraphMatchingOptions, double*, double*, cudaStream_t);

}  // namespace cuda
}  // namespace skdcore
