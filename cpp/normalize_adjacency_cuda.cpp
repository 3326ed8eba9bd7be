// CUDA glue of skdcore::normalize_adjacency: checks, device guard, current stream, launch.
// Built only against a CUDA torch (SKDCORE_WITH_CUDA); the kernels are in cuda/.
#include <ATen/Dispatch.h>
#include <c10/cuda/CUDAStream.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include "checks.h"
#include "normalize_adjacency.cuh"
#include "normalize_adjacency.h"

namespace skdcore {
namespace {

void check_launch(cudaError_t err, const char* op) {
  TORCH_CHECK(err == cudaSuccess, op, ": CUDA kernel launch failed: ", cudaGetErrorString(err));
}

at::Tensor normalize_adjacency_forward_cuda(const at::Tensor& A, c10::string_view mode_name) {
  constexpr const char* op = "skdcore.normalize_adjacency";
  check_adjacency(op, "A", A);
  checks::check_device(op, "A", A, c10::kCUDA);
  TORCH_CHECK_TYPE(A.scalar_type() == at::kFloat || A.scalar_type() == at::kDouble, op,
                   ": A must be float32 or float64, got ", A.scalar_type());
  const AdjacencyNorm mode = parse_adjacency_norm(mode_name);
  const c10::cuda::CUDAGuard device_guard(A.device());
  const at::Tensor A_c = A.contiguous();
  at::Tensor out = at::empty_like(A_c);
  if (A_c.numel() == 0) return out;
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES(A_c.scalar_type(), "normalize_adjacency_forward_cuda", [&] {
    check_launch(cuda::normalize_adjacency_forward<scalar_t>(
                     A_c.const_data_ptr<scalar_t>(), out.mutable_data_ptr<scalar_t>(),
                     A_c.size(0), A_c.size(1), mode, stream),
                 op);
  });
  return out;
}

at::Tensor normalize_adjacency_backward_cuda(const at::Tensor& grad, const at::Tensor& A,
                                             c10::string_view mode_name) {
  constexpr const char* op = "skdcore._normalize_adjacency_backward";
  check_adjacency_backward(op, grad, A);
  const AdjacencyNorm mode = parse_adjacency_norm(mode_name);
  const c10::cuda::CUDAGuard device_guard(A.device());
  const at::Tensor A_c = A.contiguous();
  const at::Tensor G_c = grad.contiguous();
  at::Tensor dA = at::empty_like(A_c);
  if (A_c.numel() == 0) return dA;
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES(A_c.scalar_type(), "normalize_adjacency_backward_cuda", [&] {
    check_launch(cuda::normalize_adjacency_backward<scalar_t>(
                     G_c.const_data_ptr<scalar_t>(), A_c.const_data_ptr<scalar_t>(),
                     dA.mutable_data_ptr<scalar_t>(), A_c.size(0), A_c.size(1), mode, stream),
                 op);
  });
  return dA;
}

}  // namespace

TORCH_LIBRARY_IMPL(skdcore, CUDA, m) {
  m.impl("normalize_adjacency", &normalize_adjacency_forward_cuda);
  m.impl("_normalize_adjacency_backward", &normalize_adjacency_backward_cuda);
}

}  // namespace skdcore
