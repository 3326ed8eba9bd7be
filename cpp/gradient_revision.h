// skdcore::gradient_revision: declarations shared by the CPU/CUDA/autograd files.
//
// Gradient lists travel as flat tensor lists: task[i] is parameter i's task gradient (N tensors),
// distill[k * N + i] is parameter i's gradient of distillation loss k (K * N tensors, loss-major).
#pragma once

#include <ATen/ATen.h>

#include <utility>
#include <vector>

#include "gradient_revision_math.h"

namespace skdcore {

GradientRevisionMode parse_gradient_revision_mode(const char* op, c10::string_view mode);

// Validates the lists (lengths, shapes, one dtype and device for all) and returns K.
int64_t check_gradient_lists(const char* op, at::TensorList task, at::TensorList distill,
                             int64_t num_losses);

// out: N tensors shaped like task, same dtype/device.
void check_gradient_outputs(const char* op, at::TensorList out, at::TensorList task);

// gram: (K+1, K+1) float64 on the gradients' device.
void check_gram(const char* op, const at::Tensor& gram, int64_t K, at::TensorList task);

// K from the Gram matrix of the apply stage.
int64_t losses_from_gram(const char* op, const at::Tensor& gram);

// What every device's entry point of the two stages starts with: the checks (lists, gram, out;
// gradients on `device`) and the parsed mode.
struct GradientRevisionCall {
  int64_t K;
  GradientRevisionMode mode;
};
GradientRevisionCall checked_gram_call(c10::DeviceType device, at::TensorList task, at::TensorList distill,
                                       int64_t num_losses, c10::string_view mode);
GradientRevisionCall checked_apply_call(c10::DeviceType device, at::TensorList out, at::TensorList task,
                                        at::TensorList distill, const at::Tensor& gram, c10::string_view mode);

// The Gram entries a mode needs, as (a, b) pairs, a <= b.
std::vector<std::pair<int64_t, int64_t>> gradient_revision_pairs(int64_t K,
                                                                 GradientRevisionMode mode);

}  // namespace skdcore
