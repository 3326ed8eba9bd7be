// CUDA kernels of skdcore::normalize_adjacency behind the shared entry points (normalize_adjacency.cpp):
// the current stream, the launch, its check.
// Built only against a CUDA torch (SKDCORE_WITH_CUDA); the kernels are in cuda/.
#include <ATen/Dispatch.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include "common/cuda_launch.h"
#include "normalize_adjacency.cuh"
#include "normalize_adjacency.h"

namespace skdcore {
namespace {

void forward_cuda(const at::Tensor& A, at::Tensor& out, AdjacencyNorm mode) {
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES(A.scalar_type(), "normalize_adjacency_forward_cuda", [&] {
    check_launch(cuda::normalize_adjacency_forward<scalar_t>(A.const_data_ptr<scalar_t>(),
                                                             out.mutable_data_ptr<scalar_t>(), A.size(0),
                                                             A.size(1), mode, stream),
                 "skdcore.normalize_adjacency");
  });
}

void backward_cuda(const at::Tensor& grad, const at::Tensor& A, at::Tensor& grad_A, AdjacencyNorm mode) {
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES(A.scalar_type(), "normalize_adjacency_backward_cuda", [&] {
    check_launch(cuda::normalize_adjacency_backward<scalar_t>(
                     grad.const_data_ptr<scalar_t>(), A.const_data_ptr<scalar_t>(),
                     grad_A.mutable_data_ptr<scalar_t>(), A.size(0), A.size(1), mode, stream),
                 "skdcore._normalize_adjacency_backward");
  });
}

constexpr NormalizeAdjacencyKernels kCudaKernels{c10::kCUDA, &forward_cuda, &backward_cuda};

}  // namespace

TORCH_LIBRARY_IMPL(skdcore, CUDA, m) { register_normalize_adjacency<kCudaKernels>(m); }

}  // namespace skdcore
