// skdcore::graph_matching_loss: declarations shared by the CPU/CUDA/autograd files.
#pragma once

#include <ATen/ATen.h>
#include <torch/library.h>

#include <tuple>
#include <vector>

#include "graph_matching_math.h"

namespace skdcore {

// Parses the schema's option strings; raises ValueError naming the valid choices.
GraphMatchingOptions parse_graph_matching_options(c10::string_view distance, c10::string_view loss,
                                                  double beta, c10::string_view normalize,
                                                  c10::string_view reduction);

// Validates student/teacher: same (N, C, T, V) or (N, P, C) shape, float32/float64, same device.
void check_graph_matching_inputs(const char* op, const at::Tensor& student, const at::Tensor& teacher);

// Validates the backward's extra inputs: grad () or (N,) per reduction, stats (N, kStatsColumns)
// float64 from _graph_matching_loss_forward.
void check_graph_matching_backward_inputs(const char* op, const at::Tensor& grad,
                                          const at::Tensor& student, const at::Tensor& stats,
                                          LossReduction reduction);

// A kernel entry's validation on `device` (inputs, and for the backward grad/stats) and its parsed
// options.
GraphMatchingOptions checked_forward_options(const char* op, c10::DeviceType device, const at::Tensor& student,
                                             const at::Tensor& teacher, c10::string_view distance,
                                             c10::string_view loss, double beta, c10::string_view normalize,
                                             c10::string_view reduction);
GraphMatchingOptions checked_backward_options(const char* op, c10::DeviceType device, const at::Tensor& grad,
                                              const at::Tensor& student, const at::Tensor& teacher,
                                              const at::Tensor& stats, c10::string_view distance,
                                              c10::string_view loss, double beta, c10::string_view normalize,
                                              c10::string_view reduction);

// Sizes of features read as graphs in place: (N, C, T, V) is channel-major (node stride 1, channel
// stride P = T*V), (N, P, C) node-major (node stride C, channel stride 1).
struct GraphShape {
  int64_t N, P, C;
  bool channel_major;
  int64_t node_stride() const { return channel_major ? 1 : C; }
  int64_t channel_stride() const { return channel_major ? P : 1; }
};
GraphShape graph_shape(const at::Tensor& features);

// (N,) float64 per-sample losses -> the op's output in `dtype`: () for mean/sum (0 for an empty
// batch, not the NaN of an empty mean), (N,) for none.
at::Tensor reduce_graph_matching_loss(const at::Tensor& per_sample, LossReduction reduction, at::ScalarType dtype);

// dOut/dL_n, (N,) float64 contiguous, from the gradient of the op's output.
at::Tensor graph_matching_sample_grad(const at::Tensor& grad, int64_t N, LossReduction reduction);

struct GraphMatchingChunkSteps;  // graph_matching_gemm.h

// A device's kernels. forward: per_sample (N,) and stats (N, kStatsColumns) float64, zero-filled;
// backward: grad_student zero-filled; inputs contiguous with N, P (and C) > 0.
struct GraphMatchingKernels {
  c10::DeviceType device;
  // The device's steps for the matrix-product path when the op path table chooses it, else
  // nullptr (the fused kernels run); nullptr itself on devices without that path.
  const GraphMatchingChunkSteps* (*gemm_steps)();
  void (*forward)(const at::Tensor& student, const at::Tensor& teacher, const GraphMatchingOptions& options,
                  at::Tensor& per_sample, at::Tensor& stats);
  void (*backward)(const at::Tensor& sample_grad, const at::Tensor& student, const at::Tensor& teacher,
                   const at::Tensor& stats, const GraphMatchingOptions& options, at::Tensor& grad_student);
};

// The private ops' bodies on one device, written once: checks and options, device guard, the
// matrix-product path if chosen, contiguous inputs, outputs, the device's kernel, the reduction.
std::tuple<at::Tensor, at::Tensor> graph_matching_forward_on(
    const GraphMatchingKernels& kernels, const at::Tensor& student, const at::Tensor& teacher,
    c10::string_view distance, c10::string_view loss, double beta, c10::string_view normalize,
    c10::string_view reduction);
at::Tensor graph_matching_backward_on(const GraphMatchingKernels& kernels, const at::Tensor& grad,
                                      const at::Tensor& student, const at::Tensor& teacher, const at::Tensor& stats,
                                      c10::string_view distance, c10::string_view loss, double beta,
                                      c10::string_view normalize, c10::string_view reduction);

// Registers _graph_matching_loss_forward / _backward for one device (graph_matching_loss itself is
// a composite of the forward, graph_matching.cpp).
template <const GraphMatchingKernels& kernels>
void register_graph_matching(torch::Library& m) {
  m.impl("_graph_matching_loss_forward",
         [](const at::Tensor& student, const at::Tensor& teacher, c10::string_view distance, c10::string_view loss,
            double beta, c10::string_view normalize, c10::string_view reduction) {
           return graph_matching_forward_on(kernels, student, teacher, distance, loss, beta, normalize, reduction);
         });
  m.impl("_graph_matching_loss_backward",
         [](const at::Tensor& grad, const at::Tensor& student, const at::Tensor& teacher, const at::Tensor& stats,
            c10::string_view distance, c10::string_view loss, double beta, c10::string_view normalize,
            c10::string_view reduction) {
           return graph_matching_backward_on(kernels, grad, student, teacher, stats, distance, loss, beta, normalize,
                                             reduction);
         });
}

// Dispatcher entry points (go through the dispatcher, so autograd/fake/devices all apply).
at::Tensor graph_matching_loss(const at::Tensor& student, const at::Tensor& teacher,
                               c10::string_view distance, c10::string_view loss, double beta,
                               c10::string_view normalize, c10::string_view reduction);
// Returns (loss, stats): stats (N, kStatsColumns) float64, what the backward needs.
std::tuple<at::Tensor, at::Tensor> _graph_matching_loss_forward(
    const at::Tensor& student, const at::Tensor& teacher, c10::string_view distance,
    c10::string_view loss, double beta, c10::string_view normalize, c10::string_view reduction);
// Gradient w.r.t. student (same shape); the teacher is a constant.
at::Tensor _graph_matching_loss_backward(const at::Tensor& grad, const at::Tensor& student,
                                         const at::Tensor& teacher, const at::Tensor& stats,
                                         c10::string_view distance, c10::string_view loss,
                                         double beta, c10::string_view normalize,
                                         c10::string_view reduction);

}  // namespace skdcore
