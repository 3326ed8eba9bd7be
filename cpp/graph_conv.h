// skdcore::graph_conv: declarations shared by the CPU/CUDA/autograd files.
//
// y[n, o, t, w] = sum_k sum_c sum_v weight[k, o, c] * x[n, c, t, v] * A_eff[k, v, w] + bias[o],
// A_eff = A * edge_importance (elementwise) when edge_importance is given, else A.
#pragma once

#include <ATen/ATen.h>
#include <torch/library.h>

#include <array>
#include <tuple>

#include "graph_conv_math.h"

namespace skdcore {

// Order of the backward op's outputs and of its output_mask.
enum GraphConvGrad : int { kGradX = 0, kGradWeight, kGradA, kGradBias, kGradEdgeImportance };
using GraphConvGrads = std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor>;

// Validates shapes, dtypes and devices of every argument (shared by every device's kernel):
//   x (N, C_in, T, V), weight (K, C_out, C_in), A (K, V, V), bias (C_out,), edge_importance (K, V, V).
void check_graph_conv_inputs(const char* op, const at::Tensor& x, const at::Tensor& weight,
                             const at::Tensor& A, const c10::optional<at::Tensor>& bias,
                             const c10::optional<at::Tensor>& edge_importance);

// The backward's arguments: the forward's (no bias), plus grad of the output's shape
// (N, C_out, T, V), dtype and device.
void check_graph_conv_backward_inputs(const char* op, const at::Tensor& grad, const at::Tensor& x,
                                      const at::Tensor& weight, const at::Tensor& A,
                                      const c10::optional<at::Tensor>& edge_importance);

// The sizes of checked inputs x (N, C_in, T, V) and weight (K, C_out, C_in).
inline GraphConvShape graph_conv_shape(const at::Tensor& x, const at::Tensor& weight) {
  return {x.size(0), x.size(1), weight.size(1), x.size(2), x.size(3), weight.size(0)};
}

// A * edge_importance, or A: (K, V, V).
at::Tensor effective_adjacency(const at::Tensor& A,
                               const c10::optional<at::Tensor>& edge_importance);

// Accumulation type of the kernels: float, or double for double (16-bit inputs, CUDA only, sum in
// float); on the CPU (float32/float64 only) it is x's own type.
at::ScalarType accumulate_type(const at::Tensor& x);

// A * edge_importance formed in `acc` (no 16-bit rounding of the product), contiguous.
at::Tensor effective_adjacency_acc(const at::Tensor& A,
                                   const c10::optional<at::Tensor>& edge_importance,
                                   at::ScalarType acc);

// Which gradients a backward call must compute; also checks the mask against the inputs.
struct GraphConvNeeds {
  bool x, weight, A, bias, edge_importance;
  bool adjacency() const { return A || edge_importance; }  // dL/dA_eff is needed
};
GraphConvNeeds graph_conv_needs(const char* op, std::array<bool, 5> output_mask,
                                const c10::optional<at::Tensor>& edge_importance);

// A backward call's checks (check_graph_conv_backward_inputs, then graph_conv_needs), for `op`.
GraphConvNeeds checked_graph_conv_backward(const char* op, const at::Tensor& grad, const at::Tensor& x,
                                           const at::Tensor& weight, const at::Tensor& A,
                                           const c10::optional<at::Tensor>& edge_importance,
                                           std::array<bool, 5> output_mask);

// A backward's outputs from what every path computes: dL/dA_eff split into dL/dA and
// dL/dedge_importance, the bias gradient summed from `grad`; unrequested gradients come back empty.
GraphConvGrads assemble_graph_conv_grads(const at::Tensor& grad, const at::Tensor& x, const at::Tensor& A,
                                         const c10::optional<at::Tensor>& edge_importance,
                                         const GraphConvNeeds& needs, at::Tensor grad_x, at::Tensor grad_w,
                                         const at::Tensor& grad_a_eff);

// Placeholder returned for a gradient the output_mask did not ask for (the schema returns
// Tensors, so "not computed" is an empty tensor rather than an undefined one).
at::Tensor not_computed(const at::Tensor& like);

// The op through whole-tensor ATen products (graph_conv_gemm.cpp), on checked inputs: a device
// runs it instead of its kernels when the op path table chooses it.
struct GraphConvProducts {
  at::Tensor (*forward)(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& A,
                        const c10::optional<at::Tensor>& bias, const c10::optional<at::Tensor>& edge_importance);
  GraphConvGrads (*backward)(const at::Tensor& grad, const at::Tensor& x, const at::Tensor& weight,
                             const at::Tensor& A, const c10::optional<at::Tensor>& edge_importance,
                             const GraphConvNeeds& needs);
};

// A device's kernels. Inputs contiguous, every size > 0 (C_in = 0 or K = 0 never reaches them);
// a_eff (K, V, V) in accumulate_type(x). forward: bias undefined when not given, every element of
// y (N, C_out, T, V) written. backward: called when needs asks for x, weight or the adjacency;
// writes every element of grad_x (x's shape and dtype, when needs.x) and adds into the zero-filled
// grad_w (K, C_out, C_in) and grad_a_eff (K, V, V), both in accumulate_type(x).
struct GraphConvKernels {
  c10::DeviceType device;
  // The products path when the op path table chooses it, else nullptr (the kernels run); nullptr
  // itself on devices without that choice.
  const GraphConvProducts* (*products)();
  void (*forward)(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& a_eff, const at::Tensor& bias,
                  at::Tensor& y);
  void (*backward)(const at::Tensor& grad, const at::Tensor& x, const at::Tensor& weight, const at::Tensor& a_eff,
                   const GraphConvNeeds& needs, at::Tensor& grad_x, at::Tensor& grad_w, at::Tensor& grad_a_eff);
};

// The ops' bodies on one device, written once: checks (inputs on kernels.device), device guard,
// the products path if chosen, empty sizes, contiguous inputs, outputs, the device's kernel.
at::Tensor graph_conv_on(const GraphConvKernels& kernels, const at::Tensor& x, const at::Tensor& weight,
                         const at::Tensor& A, const c10::optional<at::Tensor>& bias,
                         const c10::optional<at::Tensor>& edge_importance);
GraphConvGrads graph_conv_backward_on(const GraphConvKernels& kernels, const at::Tensor& grad, const at::Tensor& x,
                                      const at::Tensor& weight, const at::Tensor& A,
                                      const c10::optional<at::Tensor>& edge_importance,
                                      std::array<bool, 5> output_mask);

// Registers both ops for one device (its TORCH_LIBRARY_IMPL block).
template <const GraphConvKernels& kernels>
void register_graph_conv(torch::Library& m) {
  m.impl("graph_conv", [](const at::Tensor& x, const at::Tensor& weight, const at::Tensor& A,
                          const c10::optional<at::Tensor>& bias, const c10::optional<at::Tensor>& edge_importance) {
    return graph_conv_on(kernels, x, weight, A, bias, edge_importance);
  });
  m.impl("_graph_conv_backward",
         [](const at::Tensor& grad, const at::Tensor& x, const at::Tensor& weight, const at::Tensor& A,
            const c10::optional<at::Tensor>& edge_importance, std::array<bool, 5> output_mask) {
           return graph_conv_backward_on(kernels, grad, x, weight, A, edge_importance, output_mask);
         });
}

// Dispatcher entry points (go through the dispatcher, so autograd/fake/devices all apply).
at::Tensor graph_conv(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& A,
                      const c10::optional<at::Tensor>& bias,
                      const c10::optional<at::Tensor>& edge_importance);
GraphConvGrads _graph_conv_backward(const at::Tensor& grad, const at::Tensor& x,
                                    const at::Tensor& weight, const at::Tensor& A,
                                    const c10::optional<at::Tensor>& edge_importance,
                                    std::array<bool, 5> output_mask);

}  // namespace skdcore
