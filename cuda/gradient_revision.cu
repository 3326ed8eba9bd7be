// CUDA kernels of skdcore::gradient_revision: each launch covers up to one table of tensors
// (gradient_revision.cuh), passed by value.
//   gram    : block c reduces its chunk for every needed pair (float64) -> partials[c, p]
//   finalize: block p sums partials[:, p] in a fixed order -> gram[a, b] and gram[b, a]
//   weights : one thread runs the shared scalar math (gradient_revision_math.h)
//   apply   : block c writes out = sum_j w_j v_j over its chunk
#include "gradient_revision.cuh"

#include <algorithm>

#include "accumulate.cuh"
#include "block_reduce.cuh"
#include "launch.cuh"

namespace skdcore {
namespace cuda {
namespace {

constexpr int kThreads = 256;
using Table = GradientRevisionTable;

// The element range [begin, end) of this block's chunk and the first pointer of its tensor slot.
struct BlockChunk {
  int64_t begin, end, first_pointer;
};

__device__ __forceinline__ BlockChunk block_chunk(const Table& table, int64_t stride) {
  const int64_t slot = table.block_slot[blockIdx.x];
  const int64_t begin = static_cast<int64_t>(table.block_chunk[blockIdx.x]) * kGradientRevisionChunk;
  return {begin, min(begin + kGradientRevisionChunk, table.numel[slot]), slot * stride};
}

template <typename scalar_t>
__global__ void gradient_revision_gram_partials_kernel(const __grid_constant__ Table table, int64_t K,
                                                       GradientRevisionMode mode, double* __restrict__ partials) {
  __shared__ double shared[1][kThreads];
  const BlockChunk chunk = block_chunk(table, K + 1);
  const int64_t num_pairs = gradient_revision_num_pairs(K, mode);
  for (int64_t p = 0; p < num_pairs; ++p) {
    int64_t a_index, b_index;
    gradient_revision_pair(p, K, mode, &a_index, &b_index);
    const scalar_t* a = static_cast<const scalar_t*>(table.pointers[chunk.first_pointer + a_index]);
    const scalar_t* b = static_cast<const scalar_t*>(table.pointers[chunk.first_pointer + b_index]);
    double sum = 0.0;
    for (int64_t e = chunk.begin + threadIdx.x; e < chunk.end; e += blockDim.x) {
      sum += static_cast<double>(a[e]) * static_cast<double>(b[e]);
    }
    double total[1] = {sum};
    block_sums<kThreads, 1>(total, shared);
    if (threadIdx.x == 0) partials[(table.first_block + blockIdx.x) * num_pairs + p] = total[0];
  }
}

__global__ void gradient_revision_gram_finalize_kernel(const double* __restrict__ partials, int64_t num_chunks,
                                                       int64_t K, GradientRevisionMode mode, double* __restrict__ gram) {
  __shared__ double shared[1][kThreads];
  const int64_t p = blockIdx.x;
  const int64_t num_pairs = gradient_revision_num_pairs(K, mode);
  double total[1] = {0.0};
  for (int64_t c = threadIdx.x; c < num_chunks; c += blockDim.x) total[0] += partials[c * num_pairs + p];
  block_sums<kThreads, 1>(total, shared);
  if (threadIdx.x == 0) {
    int64_t a, b;
    gradient_revision_pair(p, K, mode, &a, &b);
    const int64_t n = K + 1;
    gram[a * n + b] = total[0];
    gram[b * n + a] = total[0];
  }
}

__global__ void gradient_revision_weights_kernel(const double* gram, int64_t K, double eps, GradientRevisionMode mode,
                                                 uint64_t seed, double* weights, double* stats) {
  skdcore::gradient_revision_weights(gram, K, eps, mode, seed, weights, stats);
}

template <typename scalar_t>
__global__ void gradient_revision_apply_kernel(const __grid_constant__ Table table, int64_t K,
                                               const double* __restrict__ weights) {
  using acc_t = typename Accumulate<scalar_t>::type;
  const BlockChunk chunk = block_chunk(table, K + 2);
  scalar_t* out = static_cast<scalar_t*>(const_cast<void*>(table.pointers[chunk.first_pointer + K + 1]));
  const scalar_t* task = static_cast<const scalar_t*>(table.pointers[chunk.first_pointer]);
  for (int64_t e = chunk.begin + threadIdx.x; e < chunk.end; e += blockDim.x) {
    acc_t value = static_cast<acc_t>(weights[0]) * static_cast<acc_t>(task[e]);
    for (int64_t j = 1; j <= K; ++j) {
      const scalar_t* vector = static_cast<const scalar_t*>(table.pointers[chunk.first_pointer + j]);
      value += static_cast<acc_t>(weights[j]) * static_cast<acc_t>(vector[e]);
    }
    // NB: each element is read then written by the same thread, so out may alias the task vector.
    out[e] = static_cast<scalar_t>(value);
  }
}

int64_t chunks_of(int64_t numel) { return (numel + kGradientRevisionChunk - 1) / kGradientRevisionChunk; }

// Packs tensor i's `stride` pointers (pointer(i, j), j < stride) and every chunk into tables and
// calls launch(table, blocks) for each; a tensor cut by a full table continues in the next one.
template <typename Pointer, typename Launch>
cudaError_t for_each_table(const int64_t* numel, int64_t num_tensors, int64_t stride, Pointer pointer,
                           Launch launch) {
  const int64_t max_slots = std::min<int64_t>(Table::kMaxSlots, Table::kMaxPointers / stride);
  Table table;
  table.first_block = 0;
  int64_t slots = 0, blocks = 0;
  auto flush = [&]() -> cudaError_t {
    const cudaError_t err = launch(table, blocks);
    table.first_block += blocks;
    slots = 0;
    blocks = 0;
    return err;
  };
  for (int64_t i = 0; i < num_tensors; ++i) {
    int64_t slot = -1;  // tensor i's slot in the current table
    for (int64_t c = 0; c < chunks_of(numel[i]); ++c) {
      if (slot < 0) {
        if (slots == max_slots) {
          const cudaError_t err = flush();
          if (err != cudaSuccess) return err;
        }
        slot = slots++;
        for (int64_t j = 0; j < stride; ++j) table.pointers[slot * stride + j] = pointer(i, j);
        table.numel[slot] = numel[i];
      }
      table.block_slot[blocks] = static_cast<uint8_t>(slot);
      table.block_chunk[blocks] = static_cast<int32_t>(c);
      if (++blocks == Table::kMaxBlocks) {
        const cudaError_t err = flush();
        if (err != cudaSuccess) return err;
        slot = -1;
      }
    }
  }
  return blocks > 0 ? flush() : cudaSuccess;
}

}  // namespace

int64_t gradient_revision_num_chunks(const int64_t* numel, int64_t num_tensors) {
  int64_t chunks = 0;
  for (int64_t i = 0; i < num_tensors; ++i) chunks += chunks_of(numel[i]);
  return chunks;
}

template <typename scalar_t>
cudaError_t gradient_revision_gram(const scalar_t* const* vectors, const int64_t* numel,
                                   int64_t num_tensors, int64_t K, GradientRevisionMode mode,
                                   double* partials, double* gram, cudaStream_t stream) {
  const int64_t num_chunks = gradient_revision_num_chunks(numel, num_tensors);
  if (num_chunks == 0) return cudaSuccess;
  const cudaError_t err = for_each_table(
      numel, num_tensors, K + 1, [&](int64_t i, int64_t j) -> const void* { return vectors[j * num_tensors + i]; },
      [&](const Table& table, int64_t blocks) {
        SKD_LAUNCH(gradient_revision_gram_partials_kernel<scalar_t>, static_cast<unsigned int>(blocks), kThreads, 0,
                   stream, table, K, mode, partials);
        return cudaGetLastError();
      });
  if (err != cudaSuccess) return err;
  SKD_LAUNCH(gradient_revision_gram_finalize_kernel, static_cast<unsigned int>(gradient_revision_num_pairs(K, mode)),
             kThreads, 0, stream, partials, num_chunks, K, mode, gram);
  return cudaGetLastError();
}

cudaError_t gradient_revision_weights(const double* gram, int64_t K, double eps,
                                      GradientRevisionMode mode, uint64_t seed, double* weights,
                                      double* stats, cudaStream_t stream) {
  SKD_LAUNCH(gradient_revision_weights_kernel, 1, 1, 0, stream, gram, K, eps, mode, seed, weights, stats);
  return cudaGetLastError();
}

template <typename scalar_t>
cudaError_t gradient_revision_apply(const scalar_t* const* vectors, scalar_t* const* outputs,
                                    const int64_t* numel, int64_t num_tensors, int64_t K,
                                    const double* weights, cudaStream_t stream) {
  return for_each_table(
      numel, num_tensors, K + 2,
      [&](int64_t i, int64_t j) -> const void* {
        return j <= K ? static_cast<const void*>(vectors[j * num_tensors + i]) : static_cast<const void*>(outputs[i]);
      },
      [&](const Table& table, int64_t blocks) {
        SKD_LAUNCH(gradient_revision_apply_kernel<scalar_t>, static_cast<unsigned int>(blocks), kThreads, 0, stream,
                   table, K, weights);
        return cudaGetLastError();
      });
}

#define SKD_INSTANTIATE(T)                                                                                   \
  template cudaError_t gradient_revision_gram<T>(const T* const*, const int64_t*, int64_t, int64_t,          \
                                                 GradientRevisionMode, double*, double*, cudaStream_t);      \
  template cudaError_t gradient_revision_apply<T>(const T* const*, T* const*, const int64_t*, int64_t, int64_t, \
                                                  const double*, cudaStream_t);
SKD_INSTANTIATE(float)
SKD_INSTANTIATE(double)
#undef SKD_INSTANTIATE

}  // namespace cuda
}  // namespace skdcore
