// CUDA kernels of skdcore::gradient_revision: one launch covers all parameter tensors.
//   gram    : block c reduces its chunk for every needed pair (float64) -> partials[c, p]
//   finalize: block p sums partials[:, p] in a fixed order -> gram[a, b] and gram[b, a]
//   weights : one thread runs the shared scalar math (gradient_revision_math.h)
//   apply   : block c writes out = sum_j w_j v_j over its chunk
#include "gradient_revision.cuh"
#include "accumulate.cuh"
#include "block_reduce.cuh"
#include "launch.cuh"

namespace skdcore {
namespace cuda {
namespace {

constexpr int kThreads = 256;

template <typename scalar_t>
__global__ void gradient_revision_gram_partials_kernel(const scalar_t* const* __restrict__ vectors,
                                     const int64_t* __restrict__ numel, int64_t num_tensors,
                                     const int64_t* __restrict__ chunk_tensor,
                                     const int64_t* __restrict__ chunk_begin,
                                     const int64_t* __restrict__ pairs, int64_t num_pairs,
                                     double* __restrict__ partials) {
  __shared__ double shared[1][kThreads];
  const int64_t c = blockIdx.x;
  const int64_t i = chunk_tensor[c];
  const int64_t begin = chunk_begin[c];
  const int64_t end = min(begin + kGradientRevisionChunk, numel[i]);
  for (int64_t p = 0; p < num_pairs; ++p) {
    const scalar_t* a = vectors[pairs[2 * p] * num_tensors + i];
    const scalar_t* b = vectors[pairs[2 * p + 1] * num_tensors + i];
    double sum = 0.0;
    for (int64_t e = begin + threadIdx.x; e < end; e += blockDim.x) {
      sum += static_cast<double>(a[e]) * static_cast<double>(b[e]);
    }
    double total[1] = {sum};
    block_sums<kThreads, 1>(total, shared);
    if (threadIdx.x == 0) partials[c * num_pairs + p] = total[0];
  }
}

__global__ void gradient_revision_gram_finalize_kernel(const double* __restrict__ partials, int64_t num_chunks,
                                     const int64_t* __restrict__ pairs, int64_t num_pairs,
                                     int64_t K, double* __restrict__ gram) {
  __shared__ double shared[1][kThreads];
  const int64_t p = blockIdx.x;
  double total[1] = {0.0};
  for (int64_t c = threadIdx.x; c < num_chunks; c += blockDim.x) total[0] += partials[c * num_pairs + p];
  block_sums<kThreads, 1>(total, shared);
  if (threadIdx.x == 0) {
    const int64_t a = pairs[2 * p], b = pairs[2 * p + 1], n = K + 1;
    gram[a * n + b] = total[0];
    gram[b * n + a] = total[0];
  }
}

__global__ void gradient_revision_weights_kernel(const double* gram, int64_t K, double eps, GradientRevisionMode mode,
                               uint64_t seed, double* weights, double* stats) {
  skdcore::gradient_revision_weights(gram, K, eps, mode, seed, weights, stats);
}

template <typename scalar_t>
__global__ void gradient_revision_apply_kernel(const scalar_t* const* __restrict__ vectors,
                             scalar_t* const* __restrict__ outputs,
                             const int64_t* __restrict__ numel, int64_t num_tensors,
                             const int64_t* __restrict__ chunk_tensor,
                             const int64_t* __restrict__ chunk_begin, int64_t K,
                             const double* __restrict__ weights) {
  using acc_t = typename Accumulate<scalar_t>::type;
  const int64_t c = blockIdx.x;
  const int64_t i = chunk_tensor[c];
  const int64_t begin = chunk_begin[c];
  const int64_t end = min(begin + kGradientRevisionChunk, numel[i]);
  scalar_t* out = outputs[i];
  for (int64_t e = begin + threadIdx.x; e < end; e += blockDim.x) {
    acc_t value = static_cast<acc_t>(weights[0]) * static_cast<acc_t>(vectors[i][e]);
    for (int64_t j = 1; j <= K; ++j) {
      value += static_cast<acc_t>(weights[j]) * static_cast<acc_t>(vectors[j * num_tensors + i][e]);
    }
    // NB: each element is read then written by the same thread, so out may alias the task vector.
    out[e] = static_cast<scalar_t>(value);
  }
}

}  // namespace

template <typename scalar_t>
cudaError_t gradient_revision_gram(const scalar_t* const* vectors, const int64_t* numel,
                                   int64_t num_tensors, const int64_t* chunk_tensor,
                                   const int64_t* chunk_begin, int64_t num_chunks,
                                   const int64_t* pairs, int64_t num_pairs, int64_t K,
                                   double* partials, double* gram, cudaStream_t stream) {
  if (num_chunks == 0 || num_pairs == 0) return cudaSuccess;
  SKD_LAUNCH(gradient_revision_gram_partials_kernel<scalar_t>, static_cast<unsigned int>(num_chunks), kThreads, 0, stream, vectors,
             numel, num_tensors, chunk_tensor, chunk_begin, pairs, num_pairs, partials);
  cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) return err;
  SKD_LAUNCH(gradient_revision_gram_finalize_kernel, static_cast<unsigned int>(num_pairs), kThreads, 0, stream, partials, num_chunks,
             pairs, num_pairs, K, gram);
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
                                    const int64_t* numel, int64_t num_tensors,
                                    const int64_t* chunk_tensor, const int64_t* chunk_begin,
                                    int64_t num_chunks, int64_t K, const double* weights,
                                    cudaStream_t stream) {
  if (num_chunks == 0) return cudaSuccess;
  SKD_LAUNCH(gradient_revision_apply_kernel<scalar_t>, static_cast<unsigned int>(num_chunks), kThreads, 0, stream, vectors, outputs,
             numel, num_tensors, chunk_tensor, chunk_begin, K, weights);
  return cudaGetLastError();
}

#define SKD_INSTANTIATE(T)                                                                       \
  template cudaError_t gradient_revision_gram<T>(const T* const*, const int64_t*, int64_t,       \
                                                 const int64_t*, const int64_t*, int64_t,        \
                                                 const int64_t*, int64_t, int64_t, double*,      \
                                                 double*, cudaStream_t);                         \
  template cudaError_t gradient_revision_apply<T>(const T* const*, T* const*, const int64_t*,    \
                                                  int64_t, const int64_t*, const int64_t*,       \
                                                  int64_t, int64_t, const double*, cudaStream_t);
SKD_INSTANTIATE(float)
SKD_INSTANTIATE(double)
#undef SKD_INSTANTIATE

}  // namespace cuda
}  // namespace skdcore
