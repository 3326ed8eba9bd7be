// skdcore::normalize_adjacency: declarations shared by the CPU/CUDA/autograd files.
#pragma once

#include <ATen/ATen.h>

#include "normalize_adjacency_math.h"

namespace skdcore {

// Parses the schema's `mode` string; raises ValueError naming the valid choices.
AdjacencyNorm parse_adjacency_norm(c10::string_view mode);

// Validates A: (K, V, V) floating. Shared by every device's kernel.
void check_adjacency(const char* op, const char* arg, const at::Tensor& A);

// Validates the backward's (grad, A) pair: A as above, grad of A's shape, dtype and device.
void check_adjacency_backward(const char* op, const at::Tensor& grad, const at::Tensor& A);

// Dispatcher entry points (go through the dispatcher, so autograd/fake/devices all apply).
at::Tensor normalize_adjacency(const at::Tensor& A, c10::string_view mode);
at::Tensor _normalize_adjacency_backward(const at::Tensor& grad, const at::Tensor& A,
                                         c10::string_view mode);

}  // namespace skdcore
