// skdcore::graph_matching_loss: declarations shared by the CPU/CUDA/autograd files.
#pragma once

#include <ATen/ATen.h>

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

// (N, C, T, V) -> (N, P, C) contiguous node features; (N, P, C) -> contiguous.
at::Tensor graph_nodes(const at::Tensor& features);

// Inverse of graph_nodes for a gradient: (N, P, C) -> the layout of `like`, contiguous.
at::Tensor graph_nodes_to_layout(const at::Tensor& nodes, const at::Tensor& like);

// Shape of the op's output: () for mean/sum, (N,) for none.
std::vector<int64_t> graph_matching_output_shape(int64_t N, LossReduction reduction);

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
