// skdcore::temporal_shift: declarations shared by the CPU/CUDA/autograd files.
#pragma once

#include <ATen/ATen.h>

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

// Dispatcher entry points (go through the dispatcher, so autograd/fake/devices all apply).
at::Tensor temporal_shift(const at::Tensor& x, const at::Tensor& shift, int64_t stride);
std::tuple<at::Tensor, at::Tensor> _temporal_shift_backward(const at::Tensor& grad,
                                                            const at::Tensor& x,
                                                            const at::Tensor& shift,
                                                            int64_t stride);

}  // namespace skdcore
