// CUDA glue of skdcore::gradient_revision: checks, device guard, current stream, the launches.
// The tensor table (pointers, sizes, chunks) reaches the kernels BY VALUE as kernel arguments
// (cuda/gradient_revision.cuh, multi_tensor_apply style): no host->device copy, no
// synchronisation, no device memory for it. Device allocations per call, all stream-ordered from
// the caching allocator: the outputs, the Gram partials (chunks x pairs float64) and the K+1
// weights. Built only against a CUDA torch (SKDCORE_WITH_CUDA); the kernels are in cuda/.
#include <ATen/Dispatch.h>
#include <c10/cuda/CUDAStream.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include <cstdint>
#include <tuple>
#include <vector>

#include "checks.h"
#include "cuda_launch.h"
#include "gradient_revision.cuh"
#include "gradient_revision.h"

namespace skdcore {
namespace {

// The gradients as contiguous tensors (the inputs themselves when already contiguous), loss-major
// like the op's arguments: vectors[j * N + i], j = 0 the task gradient; numel[i] per parameter.
struct ContiguousGradients {
  std::vector<at::Tensor> vectors;
  std::vector<int64_t> numel;

  ContiguousGradients(at::TensorList task, at::TensorList distill) {
    vectors.reserve(task.size() + distill.size());
    for (const auto& t : task) {
      vectors.push_back(t.contiguous());
      numel.push_back(t.numel());
    }
    for (const auto& t : distill) vectors.push_back(t.contiguous());
  }

  int64_t num_tensors() const { return static_cast<int64_t>(numel.size()); }

  // Host array of device pointers, what the launchers pack into their by-value tables.
  template <typename scalar_t>
  std::vector<const scalar_t*> pointers() const {
    std::vector<const scalar_t*> out;
    out.reserve(vectors.size());
    for (const auto& t : vectors) out.push_back(t.const_data_ptr<scalar_t>());
    return out;
  }
};

at::TensorOptions double_options(const at::Device& device) {
  return at::TensorOptions().dtype(at::kDouble).device(device);
}

at::Tensor gram_cuda_impl(const char* op, at::TensorList task, at::TensorList distill, int64_t K,
                          GradientRevisionMode mode) {
  at::Tensor gram = at::zeros({K + 1, K + 1}, double_options(task[0].device()));
  const ContiguousGradients gradients(task, distill);
  const int64_t num_chunks = cuda::gradient_revision_num_chunks(gradients.numel.data(), gradients.num_tensors());
  if (num_chunks == 0) return gram;
  at::Tensor partials =
      at::empty({num_chunks * gradient_revision_num_pairs(K, mode)}, double_options(task[0].device()));
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES(task[0].scalar_type(), "gradient_revision_gram_cuda", [&] {
    const std::vector<const scalar_t*> vectors = gradients.pointers<scalar_t>();
    check_launch(cuda::gradient_revision_gram<scalar_t>(vectors.data(), gradients.numel.data(),
                                                        gradients.num_tensors(), K, mode,
                                                        partials.mutable_data_ptr<double>(),
                                                        gram.mutable_data_ptr<double>(), stream),
                 op);
  });
  return gram;
}

at::Tensor apply_cuda_impl(const char* op, at::TensorList out, at::TensorList task,
                           at::TensorList distill, const at::Tensor& gram, int64_t K, double eps,
                           GradientRevisionMode mode, int64_t seed) {
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  const at::Tensor gram_c = gram.contiguous();
  at::Tensor weights = at::empty({K + 1}, double_options(gram.device()));
  at::Tensor stats = at::empty({2, K}, double_options(gram.device()));
  check_launch(cuda::gradient_revision_weights(gram_c.const_data_ptr<double>(), K, eps, mode,
                                               static_cast<uint64_t>(seed),
                                               weights.mutable_data_ptr<double>(),
                                               stats.mutable_data_ptr<double>(), stream),
               op);
  if (task.empty()) return stats;
  const ContiguousGradients gradients(task, distill);
  std::vector<at::Tensor> targets;  // contiguous outputs: `out` itself, or a buffer copied back
  targets.reserve(out.size());
  for (const auto& o : out) targets.push_back(o.is_contiguous() ? o : at::empty_like(o, at::MemoryFormat::Contiguous));
  AT_DISPATCH_FLOATING_TYPES(task[0].scalar_type(), "gradient_revision_apply_cuda", [&] {
    const std::vector<const scalar_t*> vectors = gradients.pointers<scalar_t>();
    std::vector<scalar_t*> outputs;
    outputs.reserve(targets.size());
    for (auto& t : targets) outputs.push_back(t.mutable_data_ptr<scalar_t>());
    check_launch(cuda::gradient_revision_apply<scalar_t>(vectors.data(), outputs.data(), gradients.numel.data(),
                                                         gradients.num_tensors(), K,
                                                         weights.const_data_ptr<double>(), stream),
                 op);
  });
  for (size_t i = 0; i < out.size(); ++i) {
    if (!out[i].is_same(targets[i])) out[i].copy_(targets[i]);
  }
  return stats;
}

at::Tensor gradient_revision_gram_cuda(at::TensorList task, at::TensorList distill, int64_t num_losses,
                                       c10::string_view mode) {
  const GradientRevisionCall call = checked_gram_call(c10::kCUDA, task, distill, num_losses, mode);
  TORCH_CHECK_VALUE(!task.empty(), "skdcore.gradient_revision_gram: needs at least one gradient tensor");
  const c10::cuda::CUDAGuard device_guard(task[0].device());
  return gram_cuda_impl("skdcore.gradient_revision_gram", task, distill, call.K, call.mode);
}

at::Tensor gradient_revision_apply_cuda_(at::TensorList out, at::TensorList task, at::TensorList distill,
                                         const at::Tensor& gram, double eps, c10::string_view mode, int64_t seed) {
  const GradientRevisionCall call = checked_apply_call(c10::kCUDA, out, task, distill, gram, mode);
  const c10::cuda::CUDAGuard device_guard(gram.device());
  return apply_cuda_impl("skdcore.gradient_revision_apply_", out, task, distill, gram, call.K, eps, call.mode,
                         seed);
}

}  // namespace

TORCH_LIBRARY_IMPL(skdcore, CUDA, m) {
  // gradient_revision, gradient_revision_, gradient_revision_apply: composites of these two
  // (gradient_revision.cpp).
  m.impl("gradient_revision_gram", &gradient_revision_gram_cuda);
  m.impl("gradient_revision_apply_", &gradient_revision_apply_cuda_);
}

}  // namespace skdcore
