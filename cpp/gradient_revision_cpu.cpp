// CPU kernels of skdcore::gradient_revision (fused multi-tensor, no concatenation copies).
//
// Pass 1 (gram): the parameter tensors are cut into chunks of kChunk elements; at::parallel_for
// runs over all chunks of all tensors, each chunk writes its partial dot products (float64) into
// its own slot, and the slots are summed in chunk order, so the result does not depend on the
// thread count. Pass 2 (apply): out = sum_j weights[j] * v_j per chunk, same parallel split.
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <tuple>
#include <vector>

#include "gradient_revision.h"

namespace skdcore {
namespace {

constexpr int64_t kChunk = 2048;         // elements; (K+1) chunks stay in L1/L2 across the pairs
constexpr int64_t kGrainElements = 1 << 15;  // below this much work, stay on one thread

struct Chunk {
  int64_t tensor;
  int64_t begin;
  int64_t length;
};

std::vector<Chunk> make_chunks(const ContiguousGradients& gradients) {
  std::vector<Chunk> chunks;
  for (int64_t i = 0; i < gradients.num_tensors(); ++i) {
    const int64_t n = gradients.numel[i];
    for (int64_t begin = 0; begin < n; begin += kChunk) {
      chunks.push_back({i, begin, std::min(kChunk, n - begin)});
    }
  }
  return chunks;
}

// NB: 16 independent float64 lanes let the compiler vectorise (and pipeline) the reduction
// without -ffast-math; the lanes are summed in a fixed order.
template <typename scalar_t>
double dot_chunk(const scalar_t* a, const scalar_t* b, int64_t n) {
  constexpr int64_t kLanes = 16;
  double lanes[kLanes] = {};
  int64_t e = 0;
  for (; e + kLanes <= n; e += kLanes) {
    for (int64_t l = 0; l < kLanes; ++l) {
      lanes[l] += static_cast<double>(a[e + l]) * static_cast<double>(b[e + l]);
    }
  }
  double tail = 0.0;
  for (; e < n; ++e) tail += static_cast<double>(a[e]) * static_cast<double>(b[e]);
  double sum = 0.0;
  for (int64_t l = 0; l < kLanes; ++l) sum += lanes[l];
  return sum + tail;
}

int64_t grain_chunks() { return std::max<int64_t>(1, kGrainElements / kChunk); }

template <typename scalar_t>
void gram_kernel(const ContiguousGradients& table, const std::vector<Chunk>& chunks,
                 const std::vector<std::pair<int64_t, int64_t>>& pairs, int64_t K, double* gram) {
  const int64_t P = static_cast<int64_t>(pairs.size());
  const int64_t num_chunks = static_cast<int64_t>(chunks.size());
  std::vector<double> partial(static_cast<size_t>(num_chunks * P), 0.0);
  at::parallel_for(0, num_chunks, grain_chunks(), [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c) {
      const Chunk& chunk = chunks[c];
      for (int64_t p = 0; p < P; ++p) {
        const scalar_t* a = table.data<scalar_t>(pairs[p].first, chunk.tensor) + chunk.begin;
        const scalar_t* b = table.data<scalar_t>(pairs[p].second, chunk.tensor) + chunk.begin;
        partial[c * P + p] = dot_chunk(a, b, chunk.length);
      }
    }
  });
  const int64_t n = K + 1;
  for (int64_t p = 0; p < P; ++p) {
    double sum = 0.0;
    for (int64_t c = 0; c < num_chunks; ++c) sum += partial[c * P + p];
    gram[pairs[p].first * n + pairs[p].second] = sum;
    gram[pairs[p].second * n + pairs[p].first] = sum;
  }
}

template <typename scalar_t>
void apply_kernel(const ContiguousGradients& table, const std::vector<Chunk>& chunks, int64_t K,
                  const double* weights, const std::vector<scalar_t*>& out) {
  using opmath_t = at::opmath_type<scalar_t>;
  std::vector<opmath_t> w(weights, weights + K + 1);
  at::parallel_for(0, static_cast<int64_t>(chunks.size()), grain_chunks(),
                   [&](int64_t begin, int64_t end) {
    opmath_t acc[kChunk];
    for (int64_t c = begin; c < end; ++c) {
      const Chunk& chunk = chunks[c];
      const int64_t n = chunk.length;
      const scalar_t* task = table.data<scalar_t>(0, chunk.tensor) + chunk.begin;
      for (int64_t e = 0; e < n; ++e) acc[e] = w[0] * static_cast<opmath_t>(task[e]);
      for (int64_t j = 1; j <= K; ++j) {
        const scalar_t* g = table.data<scalar_t>(j, chunk.tensor) + chunk.begin;
        const opmath_t wj = w[j];
        for (int64_t e = 0; e < n; ++e) acc[e] += wj * static_cast<opmath_t>(g[e]);
      }
      // NB: written after every input element of the chunk was read, so out may alias task.
      scalar_t* o = out[chunk.tensor] + chunk.begin;
      for (int64_t e = 0; e < n; ++e) o[e] = static_cast<scalar_t>(acc[e]);
    }
  });
}

void gram_cpu(const ContiguousGradients& gradients, int64_t K, GradientRevisionMode mode, at::Tensor& gram) {
  const auto chunks = make_chunks(gradients);
  const auto pairs = gradient_revision_pairs(K, mode);
  AT_DISPATCH_FLOATING_TYPES(gradients.vectors[0].scalar_type(), "gradient_revision_gram_cpu", [&] {
    gram_kernel<scalar_t>(gradients, chunks, pairs, K, gram.mutable_data_ptr<double>());
  });
}

void weights_cpu(const at::Tensor& gram, int64_t K, double eps, GradientRevisionMode mode, int64_t seed,
                 at::Tensor& weights, at::Tensor& stats) {
  gradient_revision_weights(gram.const_data_ptr<double>(), K, eps, mode, static_cast<uint64_t>(seed),
                            weights.mutable_data_ptr<double>(), stats.mutable_data_ptr<double>());
}

void apply_cpu(const ContiguousGradients& gradients, int64_t K, const at::Tensor& weights,
               std::vector<at::Tensor>& outputs) {
  const auto chunks = make_chunks(gradients);
  AT_DISPATCH_FLOATING_TYPES(gradients.vectors[0].scalar_type(), "gradient_revision_apply_cpu", [&] {
    std::vector<scalar_t*> out_ptrs;
    out_ptrs.reserve(outputs.size());
    for (auto& t : outputs) out_ptrs.push_back(t.mutable_data_ptr<scalar_t>());
    apply_kernel<scalar_t>(gradients, chunks, K, weights.const_data_ptr<double>(), out_ptrs);
  });
}

constexpr GradientRevisionKernels kCpuKernels{c10::kCPU, &gram_cpu, &weights_cpu, &apply_cpu};

}  // namespace

TORCH_LIBRARY_IMPL(skdcore, CPU, m) { register_gradient_revision<kCpuKernels>(m); }

}  // namespace skdcore
