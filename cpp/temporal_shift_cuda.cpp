// CUDA glue of skdcore::temporal_shift: checks, device guard, current stream, launch.
// Built only against a CUDA torch (SKDCORE_WITH_CUDA); the kernels are in cuda/.
#include <ATen/Dispatch.h>
#include <c10/cuda/CUDAStream.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include <tuple>

#include "checks.h"
#include "temporal_shift.cuh"
#include "temporal_shift.h"

namespace skdcore {
namespace {

void check_launch(cudaError_t err, const char* op) {
  TORCH_CHECK(err == cudaSuccess, op, ": CUDA kernel launch failed: ", cudaGetErrorString(err));
}

void check_cuda_float(const char* op, const at::Tensor& x) {
  checks::check_device(op, "x", x, c10::kCUDA);
  TORCH_CHECK_TYPE(x.scalar_type() == at::kFloat || x.scalar_type() == at::kDouble, op,
                   ": x must be float32 or float64, got ", x.scalar_type(), "; convert it with .float()");
}

at::Tensor temporal_shift_forward_cuda(const at::Tensor& x, const at::Tensor& shift, int64_t stride) {
  constexpr const char* op = "skdcore.temporal_shift";
  check_temporal_shift_args(op, x, shift, stride);
  check_cuda_float(op, x);
  const c10::cuda::CUDAGuard device_guard(x.device());
  const at::Tensor x_c = x.contiguous();
  const at::Tensor shift_c = shift.contiguous();
  const int64_t N = x_c.size(0), C = x_c.size(1), T = x_c.size(2), V = x_c.size(3);
  at::Tensor out = at::empty({N, C, T / stride, V}, x_c.options());
  if (out.numel() == 0) return out;
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES(x_c.scalar_type(), "temporal_shift_forward_cuda", [&] {
    check_launch(cuda::temporal_shift_forward<scalar_t>(
                     x_c.const_data_ptr<scalar_t>(), shift_c.const_data_ptr<scalar_t>(),
                     out.mutable_data_ptr<scalar_t>(), N, C, T, V, stride, stream),
                 op);
  });
  return out;
}

std::tuple<at::Tensor, at::Tensor> temporal_shift_backward_cuda(const at::Tensor& grad,
                                                                const at::Tensor& x,
                                                                const at::Tensor& shift,
                                                                int64_t stride) {
  constexpr const char* op = "skdcore._temporal_shift_backward";
  check_temporal_shift_backward_args(op, grad, x, shift, stride);
  check_cuda_float(op, x);
  const int64_t N = x.size(0), C = x.size(1), T = x.size(2), V = x.size(3);
  const c10::cuda::CUDAGuard device_guard(x.device());
  const at::Tensor x_c = x.contiguous();
  const at::Tensor grad_c = grad.contiguous();
  const at::Tensor shift_c = shift.contiguous();
  at::Tensor grad_x = at::empty_like(x_c);  // NB: every element is written by the kernel
  at::Tensor grad_shift = at::zeros_like(shift_c);
  if (x_c.numel() == 0) return {grad_x, grad_shift};
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES(x_c.scalar_type(), "temporal_shift_backward_cuda", [&] {
    check_launch(cuda::temporal_shift_backward<scalar_t>(
                     grad_c.const_data_ptr<scalar_t>(), x_c.const_data_ptr<scalar_t>(),
                     shift_c.const_data_ptr<scalar_t>(), grad_x.mutable_data_ptr<scalar_t>(),
                     grad_shift.mutable_data_ptr<scalar_t>(), N, C, T, V, stride, stream),
                 op);
  });
  return {grad_x, grad_shift};
}

}  // namespace

TORCH_LIBRARY_IMPL(skdcore, CUDA, m) {
  m.impl("temporal_shift", &temporal_shift_forward_cuda);
  m.impl("_temporal_shift_backward", &temporal_shift_backward_cuda);
}

}  // namespace skdcore
