// CUDA glue of skdcore::graph_conv: checks, device guard, current stream, launches.
// Built only against a CUDA torch (SKDCORE_WITH_CUDA); the kernels are in cuda/graph_conv.cu.
// Paths (op_paths.h: graph_conv_cuda, SKDCORE_GRAPH_CONV_CUDA): gemm (default): cuBLAS matrix products (graph_conv_gemm.cpp),
// 5-20x faster than the kernels on an H100; fused: the kernels (no (K, N, C_in, T, V)
// intermediate); conv2d: one graph product + a cuDNN conv (graph_conv_conv2d.cpp, not yet measured).
#include <ATen/Dispatch.h>
#include <c10/cuda/CUDAStream.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include "checks.h"
#include "cuda_launch.h"
#include "graph_conv.cuh"
#include "graph_conv.h"
#include "graph_conv_conv2d.h"
#include "graph_conv_gemm.h"
#include "op_paths.h"


namespace skdcore {
namespace {

// ATen's 16-bit float types -> the CUDA types the torch-free kernels are compiled for
// (same 16-bit layout).
template <typename T>
struct CudaScalar {
  using type = T;
};
template <>
struct CudaScalar<at::Half> {
  using type = __half;
};
template <>
struct CudaScalar<at::BFloat16> {
  using type = __nv_bfloat16;
};

template <typename scalar_t>
const typename CudaScalar<scalar_t>::type* cuda_ptr(const at::Tensor& t) {
  return t.defined() ? reinterpret_cast<const typename CudaScalar<scalar_t>::type*>(
                           t.const_data_ptr<scalar_t>())
                     : nullptr;
}
template <typename scalar_t>
typename CudaScalar<scalar_t>::type* cuda_mutable_ptr(at::Tensor& t) {
  return reinterpret_cast<typename CudaScalar<scalar_t>::type*>(t.mutable_data_ptr<scalar_t>());
}

// Appended to a rejected launch configuration's error.
constexpr const char* kTileHint = " (K * V too large for the kernel's shared-memory tiles)";

at::Tensor graph_conv_forward_cuda(const at::Tensor& x, const at::Tensor& weight,
                                   const at::Tensor& A, const c10::optional<at::Tensor>& bias,
                                   const c10::optional<at::Tensor>& edge_importance) {
  constexpr const char* op = "skdcore.graph_conv";
  check_graph_conv_inputs(op, x, weight, A, bias, edge_importance);
  checks::check_device(op, "x", x, c10::kCUDA);
  const c10::cuda::CUDAGuard device_guard(x.device());
  const int path = op_path(OpPath::GraphConvCuda);
  if (path == kGraphConvCudaGemm) return graph_conv_gemm(x, weight, A, bias, edge_importance);
  if (path == kGraphConvCudaConv2d) return graph_conv_conv2d(x, weight, A, bias, edge_importance);
  const GraphConvShape shape = graph_conv_shape(x, weight);
  at::Tensor y = at::empty({shape.N, shape.C_out, shape.T, shape.V},
                           x.options().memory_format(at::MemoryFormat::Contiguous));
  if (y.numel() == 0) return y;
  if (shape.C_in == 0 || shape.K == 0) {  // empty sums: only the bias remains
    y.zero_();
    if (bias.has_value()) y.add_(bias->view({1, shape.C_out, 1, 1}));
    return y;
  }
  const at::Tensor x_c = x.contiguous();
  const at::Tensor w_c = weight.contiguous();
  const at::Tensor a_eff = effective_adjacency_acc(A, edge_importance, accumulate_type(x));
  const at::Tensor b_c = bias.has_value() ? bias->contiguous() : at::Tensor();
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(),
                                  "graph_conv_forward_cuda", [&] {
    using cuda_t = typename CudaScalar<scalar_t>::type;
    check_launch(cuda::graph_conv_forward<cuda_t>(
                     cuda_ptr<scalar_t>(x_c), cuda_ptr<scalar_t>(w_c),
                     a_eff.const_data_ptr<cuda::graph_conv_acc_t<cuda_t>>(),
                     cuda_ptr<scalar_t>(b_c), cuda_mutable_ptr<scalar_t>(y), shape, stream),
                 op, kTileHint);
  });
  return y;
}

GraphConvGrads graph_conv_backward_cuda(const at::Tensor& grad, const at::Tensor& x,
                                        const at::Tensor& weight, const at::Tensor& A,
                                        const c10::optional<at::Tensor>& edge_importance,
                                        std::array<bool, 5> output_mask) {
  constexpr const char* op = "skdcore._graph_conv_backward";
  const GraphConvNeeds needs = checked_graph_conv_backward(grad, x, weight, A, edge_importance, output_mask);
  checks::check_device(op, "x", x, c10::kCUDA);
  const c10::cuda::CUDAGuard device_guard(x.device());
  const int path = op_path(OpPath::GraphConvCuda);
  if (path == kGraphConvCudaGemm) return graph_conv_gemm_backward(grad, x, weight, A, edge_importance, output_mask);
  if (path == kGraphConvCudaConv2d) return graph_conv_conv2d_backward(grad, x, weight, A, edge_importance, output_mask);
  const GraphConvShape shape = graph_conv_shape(x, weight);
  const at::ScalarType acc_type = accumulate_type(x);

  at::Tensor grad_x = needs.x ? at::zeros_like(x, at::MemoryFormat::Contiguous) : not_computed(x);
  at::Tensor grad_w_acc = at::zeros({shape.K, shape.C_out, shape.C_in}, x.options().dtype(acc_type));
  at::Tensor grad_a_acc = at::zeros({shape.K, shape.V, shape.V}, x.options().dtype(acc_type));
  const bool empty = shape.N * shape.C_in * shape.C_out * shape.T * shape.V * shape.K == 0;
  if (!empty && (needs.x || needs.weight || needs.adjacency())) {
    const at::Tensor g_c = grad.contiguous();
    const at::Tensor x_c = x.contiguous();
    const at::Tensor a_eff = effective_adjacency_acc(A, edge_importance, acc_type);
    const cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(),
                                    "graph_conv_backward_cuda", [&] {
      using cuda_t = typename CudaScalar<scalar_t>::type;
      using acc_t = cuda::graph_conv_acc_t<cuda_t>;
      if (needs.x) {
        // grad_x = sum_k W_k^T grad A_k^T: the forward kernel with transposed operands.
        const at::Tensor w_t = weight.transpose(1, 2).contiguous();  // (K, C_in, C_out)
        const at::Tensor a_t = a_eff.transpose(1, 2).contiguous();
        check_launch(cuda::graph_conv_forward<cuda_t>(
                         cuda_ptr<scalar_t>(g_c), cuda_ptr<scalar_t>(w_t),
                         a_t.const_data_ptr<acc_t>(), nullptr, cuda_mutable_ptr<scalar_t>(grad_x),
                         shape.transposed(), stream),
                     op, kTileHint);
      }
      if (needs.weight) {
        check_launch(cuda::graph_conv_weight_grad<cuda_t>(
                         cuda_ptr<scalar_t>(g_c), cuda_ptr<scalar_t>(x_c),
                         a_eff.const_data_ptr<acc_t>(), grad_w_acc.mutable_data_ptr<acc_t>(),
                         shape, stream),
                     op, kTileHint);
      }
      if (needs.adjacency()) {
        const at::Tensor w_c = weight.contiguous();
        check_launch(cuda::graph_conv_adjacency_grad<cuda_t>(
                         cuda_ptr<scalar_t>(g_c), cuda_ptr<scalar_t>(x_c), cuda_ptr<scalar_t>(w_c),
                         grad_a_acc.mutable_data_ptr<acc_t>(), shape, stream),
                     op, kTileHint);
      }
    });
  }
  at::Tensor grad_w = needs.weight ? grad_w_acc.to(x.scalar_type()) : not_computed(x);
  return assemble_graph_conv_grads(grad, x, A, edge_importance, needs, grad_x, grad_w, grad_a_acc);
}

}  // namespace

TORCH_LIBRARY_IMPL(skdcore, CUDA, m) {
  m.impl("graph_conv", &graph_conv_forward_cuda);
  m.impl("_graph_conv_backward", &graph_conv_backward_cuda);
}

}  // namespace skdcore
