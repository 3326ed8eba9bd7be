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

#include "checks.h"
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

std::vector<Chunk> make_chunks(at::TensorList task) {
  std::vector<Chunk> chunks;
  for (int64_t i = 0; i < static_cast<int64_t>(task.size()); ++i) {
    const int64_t n = task[i].numel();
    for (int64_t begin = 0; begin < n; begin += kChunk) {
      chunks.push_back({i, begin, std::min(kChunk, n - begin)});
    }
  }
  return chunks;
}

// Contiguous views of v_j[i] (j = 0: task, j >= 1: distillation loss j-1), kept alive by `owned`.
struct GradientTable {
  std::vector<at::Tensor> owned;
  int64_t num_tensors = 0;

  GradientTable(at::TensorList task, at::TensorList distill) : num_tensors(task.size()) {
    owned.reserve(task.size() + distill.size());
    for (const auto& t : task) owned.push_back(t.contiguous());
    for (const auto& t : distill) owned.push_back(t.contiguous());
  }
  template <typename scalar_t>
  const scalar_t* data(int64_t j, int64_t i) const {
    return owned[j * num_tensors + i].const_data_ptr<scalar_t>();
  }
};

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
void gram_kernel(const GradientTable& table, const std::vector<Chunk>& chunks,
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
void apply_kernel(const GradientTable& table, const std::vector<Chunk>& chunks, int64_t K,
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

at::ScalarType gradient_dtype(at::TensorList task) {
  return task.empty() ? at::kFloat : task[0].scalar_type();
}

at::Tensor gram_cpu_impl(at::TensorList task, at::TensorList distill, int64_t K,
                         GradientRevisionMode mode) {
  at::Tensor gram = at::zeros({K + 1, K + 1}, at::TensorOptions().dtype(at::kDouble));
  const auto chunks = make_chunks(task);
  if (chunks.empty()) return gram;
  const GradientTable table(task, distill);
  const auto pairs = gradient_revision_pairs(K, mode);
  AT_DISPATCH_FLOATING_TYPES(gradient_dtype(task), "gradient_revision_gram_cpu", [&] {
    gram_kernel<scalar_t>(table, chunks, pairs, K, gram.mutable_data_ptr<double>());
  });
  return gram;
}

// Weights + stats from the Gram matrix, then the write pass into `out` (contiguous or not).
at::Tensor apply_cpu_impl(at::TensorList out, at::TensorList task, at::TensorList distill,
                          const at::Tensor& gram, int64_t K, double eps,
                          GradientRevisionMode mode, int64_t seed) {
  const at::Tensor gram_c = gram.contiguous();
  std::vector<double> weights(K + 1);
  at::Tensor stats = at::empty({2, K}, at::TensorOptions().dtype(at::kDouble));
  gradient_revision_weights(gram_c.const_data_ptr<double>(), K, eps, mode,
                            static_cast<uint64_t>(seed), weights.data(),
                            stats.mutable_data_ptr<double>());
  const auto chunks = make_chunks(task);
  if (chunks.empty()) return stats;
  const GradientTable table(task, distill);
  // Non-contiguous outputs get a contiguous buffer copied back at the end.
  std::vector<at::Tensor> targets;
  targets.reserve(out.size());
  for (const auto& o : out) targets.push_back(o.is_contiguous() ? o : at::empty_like(o, at::MemoryFormat::Contiguous));
  AT_DISPATCH_FLOATING_TYPES(gradient_dtype(task), "gradient_revision_apply_cpu", [&] {
    std::vector<scalar_t*> out_ptrs;
    out_ptrs.reserve(targets.size());
    for (auto& t : targets) out_ptrs.push_back(t.mutable_data_ptr<scalar_t>());
    apply_kernel<scalar_t>(table, chunks, K, weights.data(), out_ptrs);
  });
  for (size_t i = 0; i < out.size(); ++i) {
    if (!out[i].is_same(targets[i])) out[i].copy_(targets[i]);
  }
  return stats;
}

at::Tensor gradient_revision_gram_cpu(at::TensorList task, at::TensorList distill, int64_t num_losses,
                                      c10::string_view mode) {
  const GradientRevisionCall call = checked_gram_call(c10::kCPU, task, distill, num_losses, mode);
  return gram_cpu_impl(task, distill, call.K, call.mode);
}

at::Tensor gradient_revision_apply_cpu_(at::TensorList out, at::TensorList task, at::TensorList distill,
                                        const at::Tensor& gram, double eps, c10::string_view mode, int64_t seed) {
  const GradientRevisionCall call = checked_apply_call(c10::kCPU, out, task, distill, gram, mode);
  return apply_cpu_impl(out, task, distill, gram, call.K, eps, call.mode, seed);
}

}  // namespace

TORCH_LIBRARY_IMPL(skdcore, CPU, m) {
  // gradient_revision, gradient_revision_, gradient_revision_apply: composites of these two
  // (gradient_revision.cpp).
  m.impl("gradient_revision_gram", &gradient_revision_gram_cpu);
  m.impl("gradient_revision_apply_", &gradient_revision_apply_cpu_);
}

}  // namespace skdcore
