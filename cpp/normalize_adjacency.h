// skdcore::normalize_adjacency: declarations shared by the CPU/CUDA/autograd files.
#pragma once

#include <ATen/ATen.h>
#include <torch/library.h>

#include "normalize_adjacency_math.h"

namespace skdcore {

// Parses the schema's `mode` string; raises ValueError naming the valid choices.
AdjacencyNorm parse_adjacency_norm(c10::string_view mode);

// Validates A: (K, V, V) floating. Shared by every device's kernel.
void check_adjacency(const char* op, const char* arg, const at::Tensor& A);

// Validates the backward's (grad, A) pair: A as above, grad of A's shape, dtype and device.
void check_adjacency_backward(const char* op, const at::Tensor& grad, const at::Tensor& A);

// A device's kernels, on contiguous inputs of at least one element and a preallocated output.
struct NormalizeAdjacencyKernels {
  c10::DeviceType device;
  void (*forward)(const at::Tensor& A, at::Tensor& out, AdjacencyNorm mode);
  void (*backward)(const at::Tensor& grad, const at::Tensor& A, at::Tensor& grad_A, AdjacencyNorm mode);
};

// The ops' bodies on one device, written once: checks (inputs on kernels.device, float32/float64),
// device guard, contiguous inputs, the output, then the device's kernel.
at::Tensor normalize_adjacency_on(const NormalizeAdjacencyKernels& kernels, const at::Tensor& A,
                                  c10::string_view mode);
at::Tensor normalize_adjacency_backward_on(const NormalizeAdjacencyKernels& kernels, const at::Tensor& grad,
                                           const at::Tensor& A, c10::string_view mode);

// Registers both ops for one device (its TORCH_LIBRARY_IMPL block).
template <const NormalizeAdjacencyKernels& kernels>
void register_normalize_adjacency(torch::Library& m) {
  m.impl("normalize_adjacency",
         [](const at::Tensor& A, c10::string_view mode) { return normalize_adjacency_on(kernels, A, mode); });
  m.impl("_normalize_adjacency_backward", [](const at::Tensor& grad, const at::Tensor& A, c10::string_view mode) {
    return normalize_adjacency_backward_on(kernels, grad, A, mode);
  });
}

// Dispatcher entry points (go through the dispatcher, so autograd/fake/devices all apply).
at::Tensor normalize_adjacency(const at::Tensor& A, c10::string_view mode);
at::Tensor _normalize_adjacency_backward(const at::Tensor& grad, const at::Tensor& A,
                                         c10::string_view mode);

}  // namespace skdcore
