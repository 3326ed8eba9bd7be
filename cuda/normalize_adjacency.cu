// CUDA kernels of skdcore::normalize_adjacency. One block per partition k: the (V, V) matrix is
// tiny (V <= a few hundred joints), so per-joint scales live in shared memory.
#include "normalize_adjacency.cuh"
#include "accumulate.cuh"
#include "launch.cuh"

namespace skdcore {
namespace cuda {
namespace {

constexpr int kThreads = 256;

// scale[i] = degree[i] (as_scales false) or adjacency_scale(degree[i]); in_degree sums column i,
// symmetric sums row i.
template <typename scalar_t, typename acc_t>
__device__ void block_scales(const scalar_t* a, int64_t V, AdjacencyNorm mode, acc_t* scale, bool as_scales = true) {
  for (int64_t i = threadIdx.x; i < V; i += blockDim.x) {
    acc_t degree = 0;
    for (int64_t j = 0; j < V; ++j) {
      degree += static_cast<acc_t>(mode == AdjacencyNorm::InDegree ? a[j * V + i] : a[i * V + j]);
    }
    scale[i] = as_scales ? adjacency_scale(mode, degree) : degree;
  }
  __syncthreads();
}

template <typename scalar_t>
__global__ void normalize_adjacency_forward_kernel(const scalar_t* __restrict__ A,
                                                   scalar_t* __restrict__ out, int64_t V,
                                                   AdjacencyNorm mode) {
  using acc_t = typename Accumulate<scalar_t>::type;
  acc_t* degree = block_shared_memory<acc_t>();  // (V,)
  const int64_t offset = static_cast<int64_t>(blockIdx.x) * V * V;
  block_scales(A + offset, V, mode, degree, /*as_scales=*/false);
  for (int64_t idx = threadIdx.x; idx < V * V; idx += blockDim.x) {
    const int64_t v = idx / V, w = idx % V;
    out[offset + idx] = static_cast<scalar_t>(
        normalized_adjacency_entry(mode, static_cast<acc_t>(A[offset + idx]), degree[v], degree[w]));
  }
}

template <typename scalar_t>
__global__ void normalize_adjacency_backward_kernel(const scalar_t* __restrict__ G,
                                                    const scalar_t* __restrict__ A,
                                                    scalar_t* __restrict__ dA, int64_t V,
                                                    AdjacencyNorm mode) {
  using acc_t = typename Accumulate<scalar_t>::type;
  acc_t* scale = block_shared_memory<acc_t>();  // (2, V): scales, then per-joint reductions
  acc_t* reduced = scale + V;
  const int64_t offset = static_cast<int64_t>(blockIdx.x) * V * V;
  const scalar_t* a = A + offset;
  const scalar_t* g = G + offset;
  block_scales(a, V, mode, scale);
  // Same formulas as the CPU kernel (cpp/normalize_adjacency_cpu.cpp).
  for (int64_t i = threadIdx.x; i < V; i += blockDim.x) {
    acc_t r = 0;
    for (int64_t j = 0; j < V; ++j) {
      const acc_t col = static_cast<acc_t>(g[j * V + i]) * static_cast<acc_t>(a[j * V + i]);
      if (mode == AdjacencyNorm::InDegree) {
        r += col;
      } else {
        const acc_t row = static_cast<acc_t>(g[i * V + j]) * static_cast<acc_t>(a[i * V + j]);
        r += row * scale[j] + col * scale[j];
      }
    }
    reduced[i] = r;
  }
  __syncthreads();
  for (int64_t idx = threadIdx.x; idx < V * V; idx += blockDim.x) {
    const int64_t v = idx / V, w = idx % V;
    const acc_t gvw = static_cast<acc_t>(g[idx]);
    acc_t value;
    if (mode == AdjacencyNorm::InDegree) {
      value = scale[w] * (gvw - scale[w] * reduced[w]);
    } else {
      value = gvw * scale[v] * scale[w] - acc_t(0.5) * scale[v] * scale[v] * scale[v] * reduced[v];
    }
    dA[offset + idx] = static_cast<scalar_t>(value);
  }
}

}  // namespace

template <typename scalar_t>
cudaError_t normalize_adjacency_forward(const scalar_t* A, scalar_t* out, int64_t K, int64_t V,
                                        AdjacencyNorm mode, cudaStream_t stream) {
  if (K == 0 || V == 0) return cudaSuccess;
  using acc_t = typename Accumulate<scalar_t>::type;
  const size_t shared = static_cast<size_t>(V) * sizeof(acc_t);
  SKD_LAUNCH(normalize_adjacency_forward_kernel<scalar_t>, static_cast<unsigned int>(K), kThreads, shared, stream,
             A, out, V, mode);
  return cudaGetLastError();
}

template <typename scalar_t>
cudaError_t normalize_adjacency_backward(const scalar_t* grad, const scalar_t* A, scalar_t* grad_A,
                                         int64_t K, int64_t V, AdjacencyNorm mode,
                                         cudaStream_t stream) {
  if (K == 0 || V == 0) return cudaSuccess;
  using acc_t = typename Accumulate<scalar_t>::type;
  const size_t shared = 2 * static_cast<size_t>(V) * sizeof(acc_t);
  SKD_LAUNCH(normalize_adjacency_backward_kernel<scalar_t>, static_cast<unsigned int>(K), kThreads, shared, stream,
             grad, A, grad_A, V, mode);
  return cudaGetLastError();
}

template cudaError_t normalize_adjacency_forward<float>(const float*, float*, int64_t, int64_t,
                                                        AdjacencyNorm, cudaStream_t);
template cudaError_t normalize_adjacency_forward<double>(const double*, double*, int64_t, int64_t,
                                                         AdjacencyNorm, cudaStream_t);
template cudaError_t normalize_adjacency_backward<float>(const float*, const float*, float*,
                                                         int64_t, int64_t, AdjacencyNorm,
                                                         cudaStream_t);
template cudaError_t normalize_adjacency_backward<double>(const double*, const double*, double*,
                                                          int64_t, int64_t, AdjacencyNorm,
                                                          cudaStream_t);

}  // namespace cuda
}  // namespace skdcore
