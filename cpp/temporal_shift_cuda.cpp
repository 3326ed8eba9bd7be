// CUDA kernels of skdcore::temporal_shift behind the shared entry points (temporal_shift.cpp): the
// current stream, the launch, its check.
// Built only against a CUDA torch (SKDCORE_WITH_CUDA); the kernels are in cuda/.
#include <ATen/Dispatch.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include <tuple>

#include "common/cuda_launch.h"
#include "temporal_shift.cuh"
#include "temporal_shift.h"

namespace skdcore {
namespace {

void forward_cuda(const at::Tensor& x, const at::Tensor& shift, at::Tensor& out, int64_t stride) {
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "temporal_shift_forward_cuda", [&] {
    check_launch(cuda::temporal_shift_forward<scalar_t>(x.const_data_ptr<scalar_t>(), shift.const_data_ptr<scalar_t>(),
                                                        out.mutable_data_ptr<scalar_t>(), x.size(0), x.size(1),
                                                        x.size(2), x.size(3), stride, stream),
                 "skdcore.temporal_shift");
  });
}

void backward_cuda(const at::Tensor& grad, const at::Tensor& x, const at::Tensor& shift, at::Tensor& grad_x,
                   at::Tensor& grad_shift, int64_t stride) {
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "temporal_shift_backward_cuda", [&] {
    check_launch(cuda::temporal_shift_backward<scalar_t>(
                     grad.const_data_ptr<scalar_t>(), x.const_data_ptr<scalar_t>(), shift.const_data_ptr<scalar_t>(),
                     grad_x.mutable_data_ptr<scalar_t>(), grad_shift.mutable_data_ptr<scalar_t>(), x.size(0),
                     x.size(1), x.size(2), x.size(3), stride, stream),
                 "skdcore._temporal_shift_backward");
  });
}

constexpr TemporalShiftKernels kCudaKernels{c10::kCUDA, &forward_cuda, &backward_cuda};

}  // namespace

TORCH_LIBRARY_IMPL(skdcore, CUDA, m) { register_temporal_shift<kCudaKernels>(m); }

}  // namespace skdcore
