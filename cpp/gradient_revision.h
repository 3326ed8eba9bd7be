// skdcore::gradient_revision: declarations shared by the CPU/CUDA/autograd files.
//
// Gradient lists travel as flat tensor lists: task[i] is parameter i's task gradient (N tensors),
// distill[k * N + i] is parameter i's gradient of distillation loss k (K * N tensors, loss-major).
#pragma once

#include <ATen/ATen.h>
#include <torch/library.h>

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

// The Gram entries a mode needs, as (a, b) pairs, a <= b.
std::vector<std::pair<int64_t, int64_t>> gradient_revision_pairs(int64_t K,
                                                                 GradientRevisionMode mode);

// The gradients as contiguous tensors (the inputs themselves when already contiguous), loss-major
// like the op's arguments: vectors[j * N + i], j = 0 the task gradient; numel[i] per parameter.
struct ContiguousGradients {
  std::vector<at::Tensor> vectors;
  std::vector<int64_t> numel;
  int64_t total = 0;  // elements of one loss's gradients (sum of numel)

  ContiguousGradients(at::TensorList task, at::TensorList distill);
  int64_t num_tensors() const { return static_cast<int64_t>(numel.size()); }
  template <typename scalar_t>
  const scalar_t* data(int64_t j, int64_t i) const {
    return vectors[j * num_tensors() + i].const_data_ptr<scalar_t>();
  }
};

// A device's kernels, on at least one gradient element. gram: writes the mode's entries
// (gradient_revision_pairs) and their mirrors into the zero-filled (K+1, K+1) float64 `gram`.
// weights: (K+1) weights and (2, K) stats, float64 on the device, from the contiguous Gram matrix
// (gradient_revision_weights; also called without gradient elements). apply: outputs[i] =
// sum_j weights[j] * v_j[i] into contiguous outputs, which may alias the task gradients.
struct GradientRevisionKernels {
  c10::DeviceType device;
  void (*gram)(const ContiguousGradients& gradients, int64_t K, GradientRevisionMode mode, at::Tensor& gram);
  void (*weights)(const at::Tensor& gram, int64_t K, double eps, GradientRevisionMode mode, int64_t seed,
                  at::Tensor& weights, at::Tensor& stats);
  void (*apply)(const ContiguousGradients& gradients, int64_t K, const at::Tensor& weights,
                std::vector<at::Tensor>& outputs);
};

// The two stages' bodies on one device, written once: checks (gradients on kernels.device), mode,
// device guard, contiguous gradients and outputs, empty lists, then the device's kernels.
at::Tensor gradient_revision_gram_on(const GradientRevisionKernels& kernels, at::TensorList task,
                                     at::TensorList distill, int64_t num_losses, c10::string_view mode);
at::Tensor gradient_revision_apply_on(const GradientRevisionKernels& kernels, at::TensorList out,
                                      at::TensorList task, at::TensorList distill, const at::Tensor& gram,
                                      double eps, c10::string_view mode, int64_t seed);

// Registers the two stages for one device (gradient_revision, gradient_revision_ and
// gradient_revision_apply are composites of them, gradient_revision.cpp).
template <const GradientRevisionKernels& kernels>
void register_gradient_revision(torch::Library& m) {
  m.impl("gradient_revision_gram",
         [](at::TensorList task, at::TensorList distill, int64_t num_losses, c10::string_view mode) {
           return gradient_revision_gram_on(kernels, task, distill, num_losses, mode);
         });
  m.impl("gradient_revision_apply_", [](at::TensorList out, at::TensorList task, at::TensorList distill,
                                        const at::Tensor& gram, double eps, c10::string_view mode, int64_t seed) {
    return gradient_revision_apply_on(kernels, out, task, distill, gram, eps, mode, seed);
  });
}

}  // namespace skdcore
