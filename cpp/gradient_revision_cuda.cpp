// CUDA kernels of skdcore::gradient_revision behind the shared entry points (gradient_revision.cpp):
// the current stream, the launches, their checks.
// The tensor table (pointers, sizes, chunks) reaches the kernels BY VALUE as kernel arguments
// (cuda/gradient_revision.cuh, multi_tensor_apply style): no host->device copy, no
// synchronisation, no device memory for it. Device allocations per call, all stream-ordered from
// the caching allocator: the outputs, the Gram partials (chunks x pairs float64) and the K+1
// weights. Built only against a CUDA torch (SKDCORE_WITH_CUDA); the kernels are in cuda/.
#include <ATen/Dispatch.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include <cstdint>
#include <tuple>
#include <vector>

#include "common/cuda_launch.h"
#include "gradient_revision.cuh"
#include "gradient_revision.h"

namespace skdcore {
namespace {

template <typename scalar_t>
std::vector<const scalar_t*> pointers(const ContiguousGradients& gradients) {
  std::vector<const scalar_t*> out;
  out.reserve(gradients.vectors.size());
  for (const auto& t : gradients.vectors) out.push_back(t.const_data_ptr<scalar_t>());
  return out;
}

void gram_cuda(const ContiguousGradients& gradients, int64_t K, GradientRevisionMode mode, at::Tensor& gram) {
  const int64_t num_chunks = cuda::gradient_revision_num_chunks(gradients.numel.data(), gradients.num_tensors());
  at::Tensor partials = at::empty({num_chunks * gradient_revision_num_pairs(K, mode)}, gram.options());
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES(gradients.vectors[0].scalar_type(), "gradient_revision_gram_cuda", [&] {
    const std::vector<const scalar_t*> vectors = pointers<scalar_t>(gradients);
    check_launch(cuda::gradient_revision_gram<scalar_t>(vectors.data(), gradients.numel.data(),
                                                        gradients.num_tensors(), K, mode,
                                                        partials.mutable_data_ptr<double>(),
                                                        gram.mutable_data_ptr<double>(), stream),
                 "skdcore.gradient_revision_gram");
  });
}

void weights_cuda(const at::Tensor& gram, int64_t K, double eps, GradientRevisionMode mode, int64_t seed,
                  at::Tensor& weights, at::Tensor& stats) {
  check_launch(cuda::gradient_revision_weights(gram.const_data_ptr<double>(), K, eps, mode,
                                               static_cast<uint64_t>(seed), weights.mutable_data_ptr<double>(),
                                               stats.mutable_data_ptr<double>(), c10::cuda::getCurrentCUDAStream()),
               "skdcore.gradient_revision_apply_");
}

void apply_cuda(const ContiguousGradients& gradients, int64_t K, const at::Tensor& weights,
                std::vector<at::Tensor>& outputs) {
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES(gradients.vectors[0].scalar_type(), "gradient_revision_apply_cuda", [&] {
    const std::vector<const scalar_t*> vectors = pointers<scalar_t>(gradients);
    std::vector<scalar_t*> out_ptrs;
    out_ptrs.reserve(outputs.size());
    for (auto& t : outputs) out_ptrs.push_back(t.mutable_data_ptr<scalar_t>());
    check_launch(cuda::gradient_revision_apply<scalar_t>(vectors.data(), out_ptrs.data(), gradients.numel.data(),
                                                         gradients.num_tensors(), K,
                                                         weights.const_data_ptr<double>(), stream),
                 "skdcore.gradient_revision_apply_");
  });
}

constexpr GradientRevisionKernels kCudaKernels{c10::kCUDA, &gram_cuda, &weights_cuda, &apply_cuda};

}  // namespace

TORCH_LIBRARY_IMPL(skdcore, CUDA, m) { register_gradient_revision<kCudaKernels>(m); }

}  // namespace skdcore
