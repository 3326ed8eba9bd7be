// skdcore::temporal_shift: declarations shared by the CPU/CUDA/autograd files.
#pragma once

#include <ATen/ATen.h>
#include <torch/library.h>

#include <tuple>

#include "temporal_shift_math.h"

namespace skdcore {

// Validates x: (N, C, T, V) floating, shift: (C,) same dtype/device, stride >= 1.
void check_temporal_shift_args(const char* op, const at::Tensor& x, const at::Tensor& shift,
                               int64_t stride);

// Validates the backward's (grad, x, shift): x and shift as above, grad of the output shape
// (N, C, T // stride, V), x's dtype and device.
void check_temporal_shift_backward_args(const char* op, const at::Tensor& grad, const at::Tensor& x,
                                        const at::Tensor& shift, int64_t stride);

// A device's kernels, on contiguous inputs of at least one element and preallocated outputs
// (grad_shift zero-filled; every element of out and grad_x is written).
struct TemporalShiftKernels {
  c10::DeviceType device;
  void (*forward)(const at::Tensor& x, const at::Tensor& shift, at::Tensor& out, int64_t stride);
  void (*backward)(const at::Tensor& grad, const at::Tensor& x, const at::Tensor& shift, at::Tensor& grad_x,
                   at::Tensor& grad_shift, int64_t stride);
};

// The ops' bodies on one device, written once: checks (inputs on kernels.device, float32/float64),
// device guard, contiguous inputs, the outputs, then the device's kernel.
at::Tensor temporal_shift_on(const TemporalShiftKernels& kernels, const at::Tensor& x, const at::Tensor& shift,
                             int64_t stride);
std::tuple<at::Tensor, at::Tensor> temporal_shift_backward_on(const TemporalShiftKernels& kernels,
                                                              const at::Tensor& grad, const at::Tensor& x,
                                                              const at::Tensor& shift, int64_t stride);

// Registers both ops for one device (its TORCH_LIBRARY_IMPL block).
template <const TemporalShiftKernels& kernels>
void register_temporal_shift(torch::Library& m) {
  m.impl("temporal_shift", [](const at::Tensor& x, const at::Tensor& shift, int64_t stride) {
    return temporal_shift_on(kernels, x, shift, stride);
  });
  m.impl("_temporal_shift_backward",
         [](const at::Tensor& grad, const at::Tensor& x, const at::Tensor& shift, int64_t stride) {
           return temporal_shift_backward_on(kernels, grad, x, shift, stride);
         });
}

// Dispatcher entry points (go through the dispatcher, so autograd/fake/devices all apply).
at::Tensor temporal_shift(const at::Tensor& x, const at::Tensor& shift, int64_t stride);
std::tuple<at::Tensor, at::Tensor> _temporal_shift_backward(const at::Tensor& grad,
                                                            const at::Tensor& x,
                                                            const at::Tensor& shift,
                                                            int64_t stride);

}  // namespace skdcore
